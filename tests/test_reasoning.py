"""Every output format jre.reasoning splits, and the answer-source policies."""

from __future__ import annotations

import pytest

from jre.reasoning import (
    answer_text,
    generation_from_harmony,
    generation_from_message,
    generation_from_text,
    split_think,
)


@pytest.mark.parametrize("text, prefilled, expected", [
    ("<think>\nadd 3 and 4\n</think>\n\nThe answer is 7.", False, ("add 3 and 4", "The answer is 7.", True)),
    ("  <think>x</think>y", False, ("x", "y", True)),
    # R1 output that lost its opening tag
    ("add 3 and 4\n</think>\n\n7", False, ("add 3 and 4", "7", True)),
    # the chat template prefilled <think>: the text starts inside the trace
    ("add 3 and 4\n</think>\n\n7", True, ("add 3 and 4", "7", True)),
    ("add 3 and 4, then", True, ("add 3 and 4, then", None, False)),
    # opened, never closed (truncated at max_tokens)
    ("<think>\nadd 3 and 4, then", False, ("add 3 and 4, then", None, False)),
    # a plain model: no trace, nothing unclosed
    ("The answer is 7.", False, (None, "The answer is 7.", True)),
    ("", False, (None, "", True)),
    # closed with an empty answer
    ("<think>r</think>", False, ("r", "", True)),
])
def test_split_think(text, prefilled, expected):
    assert split_think(text, prefilled=prefilled) == expected


def test_generation_from_text_keeps_counts():
    gen = generation_from_text("<think>r", finish_reason="length", prompt_tokens=3, completion_tokens=9)
    assert (gen.reasoning, gen.content, gen.think_closed) == ("r", None, False)
    assert (gen.finish_reason, gen.prompt_tokens, gen.completion_tokens) == ("length", 3, 9)
    assert gen.text == "<think>r"


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_message_with_separate_reasoning_field(field):
    closed = generation_from_message({"role": "assistant", field: "3+4=7", "content": "7"})
    assert (closed.reasoning, closed.content, closed.think_closed) == ("3+4=7", "7", True)
    assert closed.text == "<think>3+4=7</think>7"
    unclosed = generation_from_message({"role": "assistant", field: "3+4=", "content": None},
                                       finish_reason="length")
    assert (unclosed.reasoning, unclosed.content, unclosed.think_closed) == ("3+4=", None, False)
    assert unclosed.finish_reason == "length"


def test_message_with_inline_think_and_prefill():
    gen = generation_from_message({"content": "<think>a</think>b", "reasoning": None})
    assert (gen.reasoning, gen.content, gen.think_closed) == ("a", "b", True)
    gen = generation_from_message({"content": "a</think>b"}, prefilled=True)
    assert (gen.reasoning, gen.content) == ("a", "b")
    gen = generation_from_message({"content": "still thinking"}, prefilled=True)
    assert gen.think_closed is False and gen.content is None
    plain = generation_from_message({"content": "hello"})
    assert (plain.reasoning, plain.content, plain.think_closed) == (None, "hello", True)


HARMONY_DONE = ("<|channel|>analysis<|message|>We add 3 and 4.<|end|>"
                "<|start|>assistant<|channel|>final<|message|>The answer is 7.<|return|>")
HARMONY_UNCLOSED = "<|channel|>analysis<|message|>We add 3 and 4, then we"
HARMONY_TOOL = ("<|channel|>analysis<|message|>Need a tool.<|end|>"
                "<|start|>assistant<|channel|>commentary to=functions.calc <|constrain|>json"
                "<|message|>{\"x\": 1}<|call|>")


def test_harmony_channels():
    gen = generation_from_harmony(HARMONY_DONE, finish_reason="stop")
    assert (gen.reasoning, gen.content, gen.think_closed) == ("We add 3 and 4.", "The answer is 7.", True)
    gen = generation_from_harmony(HARMONY_UNCLOSED, finish_reason="length")
    assert (gen.reasoning, gen.content, gen.think_closed) == ("We add 3 and 4, then we", None, False)
    gen = generation_from_harmony(HARMONY_TOOL)
    assert gen.reasoning == 'Need a tool.\n{"x": 1}' and gen.think_closed is False


def test_harmony_decoded_without_special_tokens():
    gen = generation_from_harmony("analysisWe add.assistantfinalThe answer is 7.")
    assert (gen.reasoning, gen.content, gen.think_closed) == ("We add.", "The answer is 7.", True)
    gen = generation_from_harmony("analysisWe add and")
    assert (gen.reasoning, gen.content, gen.think_closed) == ("We add and", None, False)
    plain = generation_from_harmony("Just an answer.")
    assert (plain.reasoning, plain.content, plain.think_closed) == (None, "Just an answer.", True)


def test_answer_policies():
    closed = generation_from_text("<think>r 5</think>answer 7")
    unclosed = generation_from_text("<think>r 5 then 6")
    assert [answer_text(closed, p) for p in ("trace", "empty", "whole")] == ["answer 7"] * 3
    assert answer_text(unclosed, "trace") == "r 5 then 6"
    assert answer_text(unclosed, "empty") == ""
    assert answer_text(unclosed, "whole") == "<think>r 5 then 6"
    with pytest.raises(ValueError):
        answer_text(unclosed, "nope")  # type: ignore[arg-type]


def test_think_closed():
    gens = [generation_from_text(t) for t in ("<think>a</think>b", "<think>a", "plain", "<think>c")]
    assert [g.think_closed for g in gens] == [True, False, True, False]
