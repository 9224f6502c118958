"""Splitting model output into reasoning and content, and the answer-source policy.

Every engine's output goes through here, so a reasoning failure (a trace whose
``</think>`` never closes) is detected the same way for synthesis and evaluation.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Mapping

from jre.records import Generation

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

AnswerPolicy = Literal["trace", "empty", "whole"]
ANSWER_POLICIES: tuple[AnswerPolicy, ...] = ("trace", "empty", "whole")


def split_think(text: str, *, prefilled: bool = False) -> tuple[str | None, str | None, bool]:
    """Split raw text into ``(reasoning, content, think_closed)``.

    Handles ``<think>R</think>C``; R1 output missing the opening tag (``R</think>C``);
    a ``<think>`` prefilled by the chat template (``prefilled=True``: the text itself
    starts inside the trace); and plain text from a non-reasoning model (no tags, not
    prefilled: no reasoning, nothing left unclosed).
    """
    body = text
    stripped = body.lstrip()
    opened = prefilled
    if stripped.startswith(THINK_OPEN):
        body = stripped[len(THINK_OPEN):]
        opened = True
    close = body.find(THINK_CLOSE)
    if close >= 0:
        reasoning = body[:close].strip("\n")
        content = body[close + len(THINK_CLOSE):].lstrip("\n")
        return reasoning, content, True
    if opened:
        return body.strip("\n"), None, False
    return None, text, True


def generation_from_text(text: str, *, prefilled: bool = False, finish_reason: str | None = None,
                         prompt_tokens: int | None = None,
                         completion_tokens: int | None = None) -> Generation:
    """Build a :class:`Generation` from raw ``<think>``-style text."""
    reasoning, content, closed = split_think(text, prefilled=prefilled)
    return Generation(text=text, reasoning=reasoning, content=content, think_closed=closed,
                      finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens)


def generation_from_message(message: Mapping[str, Any], *, prefilled: bool = False,
                            finish_reason: str | None = None, prompt_tokens: int | None = None,
                            completion_tokens: int | None = None) -> Generation:
    """Build a :class:`Generation` from an OpenAI-style chat ``message``.

    A server with a reasoning parser (vLLM, SGLang) puts the trace in ``reasoning`` (or the
    older ``reasoning_content``) and leaves ``content`` null when the trace never closed.
    Without a parser the trace is inline in ``content`` and is split here.
    """
    reasoning = message.get("reasoning")
    if reasoning is None:
        reasoning = message.get("reasoning_content")
    content = message.get("content")
    if reasoning is None:
        return generation_from_text(content or "", prefilled=prefilled, finish_reason=finish_reason,
                                    prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    closed = content is not None
    text = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{content}" if closed else f"{THINK_OPEN}{reasoning}"
    return Generation(text=text, reasoning=reasoning, content=content, think_closed=closed,
                      finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens)


# One Harmony message: <|channel|>NAME[ to=...][<|constrain|>...]<|message|>BODY<|end|>
_HARMONY_MESSAGE = re.compile(
    r"<\|channel\|>(?P<channel>\w+)[^<]*(?:<\|constrain\|>[^<]*)?<\|message\|>"
    r"(?P<body>.*?)(?P<stop><\|end\|>|<\|return\|>|<\|call\|>|(?=<\|start\|>)|\Z)",
    re.S,
)


def generation_from_harmony(text: str, *, finish_reason: str | None = None,
                            prompt_tokens: int | None = None,
                            completion_tokens: int | None = None) -> Generation:
    """Build a :class:`Generation` from gpt-oss Harmony text (analysis → reasoning, final → content).

    The final channel missing means the model never left its reasoning: an unclosed trace.
    """
    analysis: list[str] = []
    final: list[str] | None = None
    matches = list(_HARMONY_MESSAGE.finditer(text))
    if not matches:
        return _harmony_without_markers(text, finish_reason=finish_reason,
                                        prompt_tokens=prompt_tokens,
                                        completion_tokens=completion_tokens)
    for match in matches:
        channel, body = match.group("channel"), match.group("body")
        if channel == "final":
            final = (final or []) + [body]
        elif channel in ("analysis", "commentary"):
            analysis.append(body)
    reasoning = "\n".join(analysis) if analysis else None
    content = "".join(final) if final is not None else None
    return Generation(text=text, reasoning=reasoning, content=content,
                      think_closed=final is not None or reasoning is None,
                      finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens)


_STRIPPED_HARMONY = re.compile(r"^analysis(?P<analysis>.*?)(?:assistantfinal(?P<final>.*))?$", re.S)


def _harmony_without_markers(text: str, **extra: Any) -> Generation:
    # Decoding with special tokens skipped leaves "analysis…assistantfinal…"; anything
    # else without channel markers is a plain answer.
    match = _STRIPPED_HARMONY.match(text)
    if match:
        final = match.group("final")
        return Generation(text=text, reasoning=match.group("analysis"), content=final,
                          think_closed=final is not None, **extra)
    return Generation(text=text, reasoning=None, content=text, think_closed=True, **extra)


def answer_text(gen: Generation, policy: AnswerPolicy = "trace") -> str:
    """The text an answer is extracted from.

    Closed (or no trace): the content. Unclosed: ``trace`` extracts from the reasoning
    (the paper, swallow-evaluation-instruct), ``empty`` counts it wrong, ``whole`` uses the
    raw output (lm-eval, lighteval).
    """
    if gen.think_closed:
        return gen.content if gen.content is not None else gen.text
    if policy == "trace":
        return gen.reasoning or ""
    if policy == "empty":
        return ""
    if policy == "whole":
        return gen.text
    raise ValueError(f"unknown answer policy {policy!r}; expected one of {ANSWER_POLICIES}")


def failure_rate(generations: list[Generation]) -> float:
    """Share of generations whose reasoning trace never closed (0.0 for an empty list)."""
    if not generations:
        return 0.0
    return sum(not g.think_closed for g in generations) / len(generations)
