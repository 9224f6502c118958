"""Teachers: a model, the engine it runs on, its reasoning format and default sampling."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal

from pydantic import BaseModel, Field

from jre.kinds.base import ConfigT, Plugin, StrictModel
from jre.kinds.engine import ReasoningFormat
from jre.records import ChatRequest, Generation, Sampling, Triple

_JA_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def detect_lang(text: str | None) -> str | None:
    """``ja`` when at least a fifth of the letters are kana or kanji, else ``en``; None for no text."""
    if not text:
        return None
    letters = sum(ch.isalpha() for ch in text)
    return "ja" if letters and len(_JA_CHARS.findall(text)) / letters >= 0.2 else "en"


class TeacherConfig(StrictModel):
    """What a recipe may override on any built-in teacher (unset keys keep its defaults)."""

    model: str | None = None
    engine: str | None = None
    reasoning_format: ReasoningFormat | None = None
    prefilled_think: bool | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    seed: int | None = None
    system_prompt: str | None = None


@dataclass
class TeacherSettings:
    """A teacher's defaults with the recipe's overrides applied: everything a request needs."""

    name: str
    model: str | None
    engine: str
    reasoning_format: ReasoningFormat
    prefilled_think: bool | None
    reasoning_effort: str | None
    sampling: Sampling
    system_prompt: str | None = None
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What makes two teachers' outputs different (hashed into triple ids)."""
        return {"name": self.name, "model": self.model, "effort": self.reasoning_effort,
                "sampling": {k: v for k, v in self.sampling.to_dict().items() if k != "n"},
                "system_prompt": self.system_prompt, "format": self.reasoning_format}


class Teacher(Plugin, Generic[ConfigT]):
    """A teacher plugin turns seed instructions into reasoning triples.

    Defaults (model id, engine, reasoning format, sampling) are class attributes a recipe
    can override through :attr:`config_model` (any of :class:`TeacherConfig`'s keys it has).
    A teacher with ``uses_engine = False`` (``replay``) turns a seed's existing answer into a
    triple through :meth:`replay` instead of asking a model.
    """

    kind: ClassVar[str] = "teacher"
    config_model: ClassVar[type[BaseModel] | None] = TeacherConfig
    model: ClassVar[str | None] = None
    engine: ClassVar[str] = "openai"
    reasoning_format: ClassVar[ReasoningFormat] = "think"
    prefilled_think: ClassVar[bool | None] = None
    reasoning_effort: ClassVar[str | None] = None
    sampling: ClassVar[Sampling] = Sampling(temperature=0.6, top_p=0.95, max_tokens=32768)
    system_prompt: ClassVar[str | None] = None
    uses_engine: ClassVar[bool] = True

    def settings(self, config: ConfigT | None) -> TeacherSettings:
        """This teacher's defaults with ``config``'s set values applied."""
        def pick(key: str, default: Any) -> Any:
            value = getattr(config, key, None) if config is not None else None
            return default if value is None else value

        base = self.sampling
        sampling = Sampling(temperature=pick("temperature", base.temperature),
                            top_p=pick("top_p", base.top_p),
                            max_tokens=pick("max_tokens", base.max_tokens),
                            seed=pick("seed", base.seed), stop=base.stop)
        effort = pick("reasoning_effort", self.reasoning_effort)
        return TeacherSettings(
            name=self.name, model=pick("model", self.model), engine=pick("engine", self.engine),
            reasoning_format=pick("reasoning_format", self.reasoning_format),
            prefilled_think=pick("prefilled_think", self.prefilled_think),
            reasoning_effort=effort, sampling=sampling,
            system_prompt=pick("system_prompt", self.system_prompt),
            chat_template_kwargs={"reasoning_effort": effort} if effort else {})

    def request(self, settings: TeacherSettings, request_id: str, instruction: str, n: int,
                *, system_prompt: str | None = None, sample_seed: int | None = None) -> ChatRequest:
        """The chat request asking for ``n`` samples of an answer to ``instruction``."""
        messages = []
        system = system_prompt if system_prompt is not None else settings.system_prompt
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": instruction})
        s = settings.sampling
        seed = s.seed if sample_seed is None else sample_seed
        return ChatRequest(id=request_id, messages=messages,
                           sampling=Sampling(n=n, temperature=s.temperature, top_p=s.top_p,
                                             max_tokens=s.max_tokens, seed=seed, stop=s.stop),
                           chat_template_kwargs=dict(settings.chat_template_kwargs))

    def replay(self, settings: TeacherSettings, response: str | None) -> Generation | None:
        """For engine-less teachers: the generation an existing answer amounts to."""
        raise NotImplementedError(f"teacher {self.name!r} runs on an engine")

    def triple(self, settings: TeacherSettings, *, triple_id: str, instruction: str,
               generation: Generation, lang_in: str, domain: str, source: str,
               meta: dict[str, Any] | None = None) -> Triple:
        """The triple one generation makes, with its provenance in ``meta``."""
        s = settings.sampling
        return Triple(
            id=triple_id, instruction=instruction, trace=generation.reasoning,
            response=generation.content, lang_in=lang_in,
            lang_trace=detect_lang(generation.reasoning), domain=domain, source=source,
            teacher=settings.name, finish_reason=generation.finish_reason,
            prompt_tokens=generation.prompt_tokens, completion_tokens=generation.completion_tokens,
            meta={"model": settings.model, "reasoning_effort": settings.reasoning_effort,
                  "think_closed": generation.think_closed,
                  "sampling": {"temperature": s.temperature, "top_p": s.top_p,
                               "max_tokens": s.max_tokens, "seed": s.seed},
                  **(meta or {})})
