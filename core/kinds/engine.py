"""Engines: chat generation with sampling, on any backend."""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Iterator, Protocol

from pydantic import BaseModel

from jre.kinds.base import Plugin
from jre.records import ChatRequest, Generation


class EngineClient(Protocol):
    """A loaded engine. ``generate`` yields ``(request, generations)`` as each request
    finishes (any order, ``request.sampling.n`` generations each), so a caller can commit
    results to the run store as they arrive. ``stats`` counts requests, retries, tokens."""

    stats: dict[str, Any]

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        ...

    def close(self) -> None:
        ...


class Engine(Plugin):
    """An engine plugin: ``load(config)`` returns an :class:`EngineClient`.

    ``config`` is the engine's validated :attr:`config_model` (model path or id, endpoint,
    parallelism...). Engines that need heavy optional packages import them in ``load``.
    """

    kind: ClassVar[str] = "engine"

    def load(self, config: BaseModel | None) -> EngineClient:
        raise NotImplementedError
