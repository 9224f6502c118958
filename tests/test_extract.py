"""Answer extraction and the unclosed-trace policy on hand-written outputs: closed,
unclosed, prefilled <think>, empty, Japanese and full-width answers."""

from __future__ import annotations

import pytest

from jre.extract import boxes, extract_choice, extract_math, extract_translation, last_code_block
from jre.kinds.engine import split_generation
from jre.reasoning import answer_text


@pytest.mark.parametrize("text,expected", [
    ("Answer: B", "B"),
    ("**Answer:** (C)", "C"),
    ("回答: D", "D"),
    ("回答：Ｂ", "B"),                 # full-width colon and letter
    ("答え：（Ａ）", "A"),             # full-width brackets
    ("答えは C です。", "C"),
    ("正解は(B)", "B"),
    ("最終回答: 「D」", "D"),
    ("よって $\\boxed{\\text{C}}$", "C"),
    ("\\boxed{Ｄ}", "D"),
    ("A", "A"),
    ("(B).", "B"),
    ("Answer: A\nWait. Final answer: C", "C"),  # the last statement wins
    ("I think A or B.", None),
    ("Answer: Because of entropy", None),
    ("answer: E", None),               # not one of the choices
    ("", None),
    (None, None),
])
def test_extract_choice(text, expected) -> None:
    assert extract_choice(text, "ABCD") == expected


@pytest.mark.parametrize("text,expected", [
    ("答えはAではなくBです", "B"),                       # negation
    ("正解はBではなくC", "C"),
    ("The answer is not A but B.", "B"),
    ("Final answer: B, not A.", "B"),
    ("The answer is (A) ... wait, actually C", "C"),      # revision
    ("回答: A\n見直すと計算ミスがありました。\n回答: D", "D"),
    ("answer: b", "B"),                                   # lower case
    ("答え: (b)", "B"),
    ("The answer is a bit subtle. Answer: D", "D"),       # the article "a" is no answer
    ("答えは選択肢Bです。", "B"),
    ("選択肢B", "B"),
    ("The answer is option B.", "B"),
    ("A) は誤り。B) も誤り。C) が正しい。", "C"),         # elimination
    ("Option A is wrong. Option D is correct.", "D"),
    ("I'll go with option D.", "D"),
    ("以上より C を選びます。", "C"),
    ("So D.", "D"),
    ("よって D。", "D"),
    ("条件によって A、C のどちらにもなり得ます。", None),  # "によって" is no conclusion
    ("Answer: A or B", None),                             # undecided
    ("Aですが、Bの可能性もあります", None),
    ("回答: C。ただし D の可能性もあります。", None),
    ("Answer: C. B is also possible.", None),
    ("\\boxed{A \\text{ or } B}", None),
    ("Answer: A.\nActually A is wrong. Answer: B", "B"),
    ("Answer: B. Actually, B and C are both incorrect here, so A.", "A"),
    ("Answer: C\nThere is no option B that fits.", "C"),
    ("回答: D\nいや、BとCはどちらも誤り。", "D"),
    ("Answer: B and D", None),
])
def test_extract_choice_statements(text, expected) -> None:
    assert extract_choice(text, "ABCD") == expected


@pytest.mark.parametrize("text,expected", [
    ("答えは12です", "12"),
    ("答え：４", "4"),                                    # full-width digit and colon
    ("全部で6通りです。", "6"),
    ("よって、求める確率は $\\frac{1}{6}$ です。", "\\frac{1}{6}"),
    ("したがって、辺の長さは 2√3 cm です。", "2\\sqrt{3}"),
    ("答えは 1,000 円です", "1000"),
    ("以上より、最小値は x = 1 のとき 3 である。", "3"),  # a condition is not the answer
    ("6! = 720 です。", "720"),
    ("\\boxed{12個}", "12"),                              # counters inside the box
    ("\\boxed{6 \\text{通り}}", "6"),
    ("\\boxed{90°}", "90^\\circ"),                       # the degree sign
    ("\\boxed{1}, \\boxed{2}", "1, 2"),                   # one answer in several boxes
    ("$\\boxed{2}$ と $\\boxed{3}$", "2, 3"),
    ("So \\boxed{5}. Wait, I double counted. Actually the answer is 6.", "6"),  # revision
    ("\\boxed{5}\n\nいや、計算ミスがありました。5 ではなく、正しくは 6 です。", "6"),
    ("\\boxed{3}\n\n検算: 3 × 4 = 12 なので正しい。", "3"),  # a check is no revision
    ("12 個のりんごを 4 人で分けると、まず 12 を 4 で", None),  # numbers of the problem
    ("数列 1, 1, 2, 3, 5, 8, 13 の第 7 項は 13 です。", "13"),  # "は <value> です"
    ("初項は 3 です。次に公差 d を求めると、a_2 = ", None),  # a trace cut mid-sentence
    ("", None),
])
def test_extract_math(text, expected) -> None:
    answer = extract_math(text)
    if expected is None:
        assert answer is None
    else:
        assert answer is not None
        inner = answer[len("\\boxed{"):-1] if answer.startswith("\\boxed{") else answer.strip("$")
        assert inner == expected


def test_extract_choice_more_letters() -> None:
    assert extract_choice("回答: Ｊ", "ABCDEFGHIJ") == "J"
    assert extract_choice("Answer: I think it's C.", "ABCDEFGHIJ") == "C"  # the pronoun
    assert extract_choice("Answer: (I)", "ABCDEFGHIJ") == "I"
    assert extract_choice("answer: b\n\nExplanation: the others are wrong.", "ABCD") == "B"
    assert extract_choice("回答: J", "ABCD") is None


def test_boxed_and_code_blocks() -> None:
    assert [b[2] for b in boxes("\\boxed{1} then \\fbox{\\frac{1}{2}}")] == ["1", "\\frac{1}{2}"]
    assert boxes("no box") == []
    text = "```python\nx = 1\n```\n説明\n```\nprint(2)\n```"
    assert last_code_block(text) == "print(2)\n"
    assert last_code_block("```python\ndef f():\n    return 1") == "def f():\n    return 1\n"  # cut off
    assert last_code_block("```js\nlet a\n```\n```python\nok = 1\n```\n```bash\nls\n```") == "ok = 1\n"
    assert last_code_block("no code") is None


def test_translation_label_and_quotes() -> None:
    assert extract_translation("翻訳：「今日は晴れ」") == "今日は晴れ"
    assert extract_translation("  Translation: \"Hello\" ") == "Hello"
    assert extract_translation(None) == ""


CLOSED = "<think>\nA か B か。\n</think>\n\n回答: B"
UNCLOSED = "<think>\nたぶん 回答: C だが、もう少し考える"
NO_OPEN_TAG = "A か B か。\n</think>\n\n回答: A"        # R1 without the opening tag
PREFILLED_UNCLOSED = "考え中… 回答: D かもしれない"      # template opened <think>
PLAIN = "回答: Ｃ"                                      # a non-reasoning model


def choice(gen, policy):
    return extract_choice(answer_text(gen, policy))


def test_policies_on_hand_written_outputs() -> None:
    closed = split_generation(CLOSED)
    unclosed = split_generation(UNCLOSED)
    no_open = split_generation(NO_OPEN_TAG)
    prefilled = split_generation(PREFILLED_UNCLOSED, prefilled=True)
    plain = split_generation(PLAIN)
    empty = split_generation("")
    empty_prefilled = split_generation("", prefilled=True)

    assert [g.think_closed for g in (closed, unclosed, no_open, prefilled, plain, empty, empty_prefilled)] == \
        [True, False, True, False, True, True, False]
    for policy in ("trace", "empty", "whole"):
        assert choice(closed, policy) == "B"
        assert choice(no_open, policy) == "A"
        assert choice(plain, policy) == "C"
        assert choice(empty, policy) is None
    assert [choice(unclosed, p) for p in ("trace", "empty", "whole")] == ["C", None, "C"]
    assert [choice(prefilled, p) for p in ("trace", "empty", "whole")] == ["D", None, "D"]
    assert answer_text(unclosed, "trace") == unclosed.reasoning
    assert answer_text(unclosed, "whole") == UNCLOSED
    # The trace policy reads only the reasoning; `whole` also sees what precedes it in the text.
    assert closed.content == "回答: B" and closed.reasoning == "A か B か。"


def test_think_closed() -> None:
    gens = [split_generation(t) for t in (CLOSED, UNCLOSED, NO_OPEN_TAG, PLAIN)]
    gens.append(split_generation(PREFILLED_UNCLOSED, prefilled=True))
    assert [g.think_closed for g in gens] == [True, False, True, True, False]
