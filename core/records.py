"""The data types that flow between stages, and their JSON forms.

Records are plain dataclasses so that a million of them stay cheap; ``to_dict`` /
``from_dict`` give the one-JSON-object-per-line form the run store writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Self


def stable_id(*parts: Any) -> str:
    """A short, stable hash of ``parts`` (JSON-encoded), used to key resumable records."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]  # a mixin: subclasses are dataclasses

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # subclasses are dataclasses
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Sampling(_Record):
    """Sampling settings of one request. ``n`` samples share one prompt."""

    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 32768
    seed: int | None = None
    stop: list[str] | None = None


@dataclass
class ChatRequest(_Record):
    """One chat prompt to generate for; ``id`` keys its results in the run store."""

    id: str
    messages: list[dict[str, str]]
    sampling: Sampling = field(default_factory=Sampling)
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        data = dict(data)
        if isinstance(data.get("sampling"), dict):
            data["sampling"] = Sampling.from_dict(data["sampling"])
        return super().from_dict(data)


@dataclass
class Generation(_Record):
    """One sampled output, split into reasoning and content by :mod:`jre.reasoning`.

    ``think_closed`` is False exactly when a reasoning trace was opened and ``</think>``
    (or the Harmony final channel) never came: the paper's reasoning failure. ``split_by``
    says what decided it: ``reasoning_field`` (the server's reasoning parser), ``text``
    (tags in the text), ``text_prefilled`` (tags in the text, the chat template assumed to
    have opened ``<think>``), ``harmony`` (gpt-oss channels) or ``none`` (a plain model).
    """

    text: str
    reasoning: str | None
    content: str | None
    think_closed: bool
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    split_by: str | None = None
    # Output tokens until the trace closed (``</think>`` included); None: never closed or
    # the engine cannot tell; 0: no trace at all (see docs/failure-rate.md).
    think_close_tokens: int | None = None


@dataclass
class Triple(_Record):
    """An ⟨instruction, reasoning trace, response⟩ SFT example with its provenance."""

    id: str
    instruction: str
    trace: str | None
    response: str | None
    lang_in: str = "en"
    lang_trace: str | None = "en"
    domain: str = "stem"
    source: str = ""
    teacher: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
