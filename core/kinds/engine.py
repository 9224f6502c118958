"""Engines: chat generation with sampling, on any backend."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Generic, Literal, Protocol

from jre.kinds.base import ConfigT, Plugin, StrictModel
from jre.reasoning import generation_from_harmony, generation_from_text
from jre.records import ChatRequest, Generation, Sampling

ReasoningFormat = Literal["think", "harmony", "none"]


class EngineConfig(StrictModel):
    """Options every engine shares. A stage fills ``model`` when the recipe leaves it out.

    ``reasoning_format`` says how raw text is split: ``think`` (``<think>…</think>``, R1,
    Qwen3), ``harmony`` (gpt-oss channels) or ``none`` (a plain model: no trace at all).
    ``prefilled_think`` says the chat template already opened ``<think>``; ``None`` detects it
    from the rendered prompt where the engine renders it itself.
    """

    model: str | None = None
    reasoning_format: ReasoningFormat = "think"
    prefilled_think: bool | None = None


def split_generation(text: str, *, reasoning_format: ReasoningFormat = "think",
                     prefilled: bool = False, finish_reason: str | None = None,
                     prompt_tokens: int | None = None,
                     completion_tokens: int | None = None) -> Generation:
    """Turn one raw output into a :class:`Generation` according to ``reasoning_format``."""
    if reasoning_format == "harmony":
        return generation_from_harmony(text, finish_reason=finish_reason,
                                       prompt_tokens=prompt_tokens,
                                       completion_tokens=completion_tokens)
    if reasoning_format == "none":
        return Generation(text=text, reasoning=None, content=text, think_closed=True,
                          split_by="none", finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens)
    return generation_from_text(text, prefilled=prefilled, finish_reason=finish_reason,
                                prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def chat_template_flags(messages: list[dict[str, str]]) -> dict[str, bool]:
    """``apply_chat_template`` flags for ``messages``: a final assistant message (a prefilled
    answer start, such as lm-eval's ``gen_prefix``) is continued, else a new assistant turn
    is opened, as lm-eval's own ``hf`` model renders it."""
    prefilled = bool(messages) and messages[-1].get("role") == "assistant"
    return {"add_generation_prompt": not prefilled, "continue_final_message": prefilled}


def new_stats() -> dict[str, Any]:
    """The counters every engine client keeps in ``stats``."""
    return {"requests": 0, "generations": 0, "retries": 0, "errors": {},
            "prompt_tokens": 0, "completion_tokens": 0}


class EngineClient(Protocol):
    """A loaded engine. ``generate`` yields ``(request, generations)`` as each request
    finishes (any order, ``request.sampling.n`` generations each), so a caller can commit
    results to the run store as they arrive. ``stats`` counts requests, retries, tokens."""

    stats: dict[str, Any]

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        ...

    def close(self) -> None:
        ...


class Engine(Plugin, Generic[ConfigT]):
    """An engine plugin: ``load(config)`` returns an :class:`EngineClient`.

    ``config`` is the engine's validated :attr:`config_model` (model path or id, endpoint,
    parallelism...). Engines that need heavy optional packages import them in ``load``.
    """

    kind: ClassVar[str] = "engine"

    def load(self, config: ConfigT | None) -> EngineClient:
        raise NotImplementedError

    def check_sampling(self, config: ConfigT | None, sampling: Sampling) -> str | None:
        """Why this engine would refuse ``sampling`` (checked with the recipe), or ``None``."""
        return None
