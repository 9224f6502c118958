"""Splitting model output into reasoning and content, and the answer-source policy.

Every engine's output goes through here, so a reasoning failure (a trace whose
``</think>`` never closes) is detected the same way for synthesis and evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from jre.records import Generation

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

AnswerPolicy = Literal["trace", "empty", "whole"]
ANSWER_POLICIES: tuple[AnswerPolicy, ...] = ("trace", "empty", "whole")


def split_think(text: str, *, prefilled: bool = False) -> tuple[str | None, str | None, bool]:
    """Split raw text into ``(reasoning, content, think_closed)``.

    The first tag decides. ``<think>`` anywhere (even after a preamble such as ``OK.\\n``)
    opens a trace that is closed only by a later ``</think>``; a ``</think>`` with no
    ``<think>`` before it closes a trace whose opening tag R1 left out or the chat template
    prefilled. Without tags, ``prefilled=True`` (the template opened ``<think>``) means the
    text never left the trace; otherwise it is plain text from a non-reasoning model.
    """
    open_at = text.find(THINK_OPEN)
    close_at = text.find(THINK_CLOSE)
    if open_at >= 0 and (close_at < 0 or open_at < close_at):
        body = text[open_at + len(THINK_OPEN):]
        close = body.find(THINK_CLOSE)
        if close < 0:
            return body.strip("\n"), None, False
        return body[:close].strip("\n"), body[close + len(THINK_CLOSE):].lstrip("\n"), True
    if close_at >= 0:
        return text[:close_at].strip("\n"), text[close_at + len(THINK_CLOSE):].lstrip("\n"), True
    if prefilled:
        return text.strip("\n"), None, False
    return None, text, True


def generation_from_text(text: str, *, prefilled: bool = False, finish_reason: str | None = None,
                         prompt_tokens: int | None = None,
                         completion_tokens: int | None = None) -> Generation:
    """Build a :class:`Generation` from raw ``<think>``-style text."""
    reasoning, content, closed = split_think(text, prefilled=prefilled)
    return Generation(text=text, reasoning=reasoning, content=content, think_closed=closed,
                      finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens,
                      split_by="text_prefilled" if prefilled else "text")


def message_reasoning(message: Mapping[str, Any]) -> str | None:
    """The trace a server's reasoning parser put in ``reasoning`` (vLLM >= 0.10, OpenRouter)
    or ``reasoning_content`` (older vLLM, SGLang, transformers serve, DeepSeek's API); None
    when there is none (an empty string counts as none: no parser split anything)."""
    for key in ("reasoning", "reasoning_content"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def closed_from_fields(content: str | None, finish_reason: str | None,
                       stop_reason: Any = None) -> bool:
    """Whether a trace a server split into a reasoning field was closed.

    Content after the trace proves ``</think>`` came. Without content the servers differ:
    vLLM's parsers return ``content: null`` both for an unclosed trace and for a closed one
    with nothing after it, transformers serve and SGLang return ``""`` for an unclosed one.
    ``finish_reason`` settles it: ``length`` means cut inside the trace; ``stop`` on the
    end-of-sequence token (vLLM's ``stop_reason`` null or a token id) means the trace
    closed, while ``stop`` on a stop *string* (``stop_reason`` a string) cut it inside.
    Without a finish reason, null content is read as unclosed and ``""`` as closed.
    """
    if content:
        return True
    if finish_reason == "length":
        return False
    if finish_reason == "stop":
        return not isinstance(stop_reason, str)
    if finish_reason is None:
        return content is not None
    return True  # tool calls, content filters: the trace itself ended


class _Usage(TypedDict):
    """How a generation ended and what it cost, passed on to each builder."""

    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


def generation_from_message(message: Mapping[str, Any], *, prefilled: bool = False,
                            finish_reason: str | None = None, stop_reason: Any = None,
                            reasoning_format: str = "think", prompt_tokens: int | None = None,
                            completion_tokens: int | None = None) -> Generation:
    """Build a :class:`Generation` from an OpenAI-style chat ``message``.

    A server with a reasoning parser (vLLM, SGLang, transformers serve, hosted APIs) puts
    the trace in ``reasoning`` / ``reasoning_content``; whether it closed is decided by
    :func:`closed_from_fields`, and the chat template's prefill no longer matters. Without
    a parser the trace is inline in ``content`` and is split as ``reasoning_format`` says
    (``<think>`` tags, with ``prefilled`` from the recipe; Harmony channels; or none).
    See docs/failure-rate.md for every shape and its verdict.
    """
    reasoning = message_reasoning(message)
    content = message.get("content")
    extra = _Usage(finish_reason=finish_reason, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens)
    if reasoning is None:
        text = content or ""
        if reasoning_format == "harmony":
            return generation_from_harmony(text, **extra)
        if reasoning_format == "none":
            return Generation(text=text, reasoning=None, content=text, think_closed=True,
                              split_by="none", **extra)
        return generation_from_text(text, prefilled=prefilled, **extra)
    closed = closed_from_fields(content, finish_reason, stop_reason)
    if closed:
        content = content or ""
        text = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{content}"
    else:
        content, text = None, f"{THINK_OPEN}{reasoning}"
    return Generation(text=text, reasoning=reasoning, content=content, think_closed=closed,
                      split_by="reasoning_field", **extra)


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
                      completion_tokens=completion_tokens, split_by="harmony")


_STRIPPED_HARMONY = re.compile(r"^analysis(?P<analysis>.*?)(?:assistantfinal(?P<final>.*))?$", re.S)


def _harmony_without_markers(text: str, **extra: Any) -> Generation:
    # Decoding with special tokens skipped leaves "analysis…assistantfinal…"; anything
    # else without channel markers is a plain answer.
    match = _STRIPPED_HARMONY.match(text)
    if match:
        final = match.group("final")
        return Generation(text=text, reasoning=match.group("analysis"), content=final,
                          think_closed=final is not None, split_by="harmony", **extra)
    return Generation(text=text, reasoning=None, content=text, think_closed=True,
                      split_by="harmony", **extra)


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

