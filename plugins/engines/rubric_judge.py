"""The ``rubric_judge`` engine: an offline, deterministic stand-in for an LLM judge.

For demonstrations and CPU runs without an API (the quickstart): it reads a FastChat
single-answer judge prompt (the English or Stability-AI's Japanese markers), takes the
answer being judged (for a multi-turn prompt, the assistant's last answer) and, when the
prompt carries a reference answer, compares the last number of each: equal rates
``match`` (default 10), different ``mismatch`` (default 2). Without a reference, a
non-empty answer rates ``plain`` (default 5). An empty answer rates 1. The reply ends in
FastChat's ``Rating: [[n]]`` form. It grades nothing but numbers: a miniature, not a judge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.kinds.engine import Engine, EngineConfig, ReasoningFormat, new_stats
from jre.records import ChatRequest, Generation

# (start, end) markers of the judged answer and of the reference, single- and multi-turn.
_ANSWER = [(r"\[The Start of Assistant's Answer\]\n", r"\n\[The End of Assistant's Answer\]"),
           (r"\[アシスタントの回答の開始\]\n", r"\n\[アシスタントの回答の終了\]"),
           (r"### Assistant A:\n", r"\n\n(?:### User:|<\|The End of Assistant A)")]
_REFERENCE = [(r"\[The Start of Reference Answer\]\n", r"\n\[The End of Reference Answer\]"),
              (r"\[参考回答の開始\]\n", r"\n\[参考回答の終了\]"),
              (r"### Reference answer:\n", r"\n\n(?:### User:|<\|The End of Reference Answer)")]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class RubricJudgeConfig(EngineConfig):
    """Ratings of the ``rubric_judge`` engine (1–10)."""

    model: str | None = "rubric_judge"
    reasoning_format: ReasoningFormat = "none"
    match: int = Field(default=10, ge=1, le=10)
    mismatch: int = Field(default=2, ge=1, le=10)
    plain: int = Field(default=5, ge=1, le=10)


def _last_section(text: str, markers: list[tuple[str, str]]) -> str | None:
    found: list[tuple[int, str]] = []
    for start, end in markers:
        for match in re.finditer(f"{start}(.*?)(?={end})", text, re.DOTALL):
            found.append((match.start(), match.group(1)))
    return max(found)[1] if found else None


def _last_number(text: str) -> float | None:
    numbers = _NUMBER.findall(unicodedata.normalize("NFKC", text).replace(",", ""))
    return float(numbers[-1]) if numbers else None


def rate(prompt: str, config: RubricJudgeConfig) -> tuple[int, str]:
    """The rating of the answer in judge prompt ``prompt`` and why."""
    answer = (_last_section(prompt, _ANSWER) or "").strip()
    if not answer:
        return 1, "The answer is empty."
    reference = _last_section(prompt, _REFERENCE)
    if reference is None:
        return config.plain, "An answer without a reference to check it against."
    expected, got = _last_number(reference), _last_number(answer)
    if expected is not None and got == expected:
        return config.match, f"The final number {got:g} matches the reference."
    return config.mismatch, f"The final number does not match the reference ({expected})."


class RubricJudgeClient:
    """Rates each request's last user message; see the module docstring."""

    def __init__(self, config: RubricJudgeConfig) -> None:
        self.config = config
        self.stats: dict[str, Any] = new_stats()

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        for request in requests:
            prompt = next((m.get("content") or "" for m in reversed(request.messages)
                           if m.get("role") == "user"), "")
            rating, why = rate(prompt, self.config)
            text = f"{why}\n\nRating: [[{rating}]]"
            gens = [Generation(text=text, reasoning=None, content=text, think_closed=True,
                               finish_reason="stop", split_by="none")
                    for _ in range(request.sampling.n)]
            self.stats["requests"] += 1
            self.stats["generations"] += len(gens)
            yield request, gens

    def close(self) -> None:
        pass


class RubricJudge(Engine[RubricJudgeConfig]):
    """An offline judge that checks final numbers against the reference answer."""

    name = "rubric_judge"
    description = "Offline stand-in judge: rates final numbers against FastChat reference answers"
    config_model = RubricJudgeConfig

    def load(self, config: RubricJudgeConfig | None) -> RubricJudgeClient:
        return RubricJudgeClient(config if isinstance(config, RubricJudgeConfig) else RubricJudgeConfig())


@hookimpl
def register_engines(register):
    register(RubricJudge())
