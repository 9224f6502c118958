"""Multiple-choice helpers shared by the built-in choice benchmarks (not a plugin).

Every lettered benchmark extracts with :func:`extract_letter`, i.e. :func:`jre.extract.extract_choice`;
its rules are listed in docs/extraction.md.
"""

from __future__ import annotations

from typing import Any, Sequence

from jre.evaluate import shuffled
from jre.extract import extract_choice

LETTERS = "ABCDEFGHIJ"

INSTRUCTION_JA = ("次の多肢選択問題に答えてください。段階的に考えてから、回答の最後の行を"
                  "「回答: X」(X は {letters} のいずれか) の形式で書いてください。")


def choice_prompt(question: str, choices: Sequence[str], instruction: str = INSTRUCTION_JA) -> str:
    """A zero-shot multiple-choice prompt with lettered choices."""
    letters = LETTERS[: len(choices)]
    lines = [instruction.format(letters=", ".join(letters)), "", question.strip(), ""]
    lines += [f"{letter}) {str(choice).strip()}" for letter, choice in zip(letters, choices)]
    return "\n".join(lines)


def shuffle_choices(correct: str, incorrect: Sequence[str], seed: Any) -> tuple[list[str], str]:
    """The choices in a seed-fixed order and the letter of the correct one."""
    choices = shuffled([correct, *incorrect], seed)
    return choices, LETTERS[choices.index(correct)]


def letter_score(answer: Any, gold: str) -> float:
    return float(answer is not None and answer == gold)


def extract_letter(text: str, n_choices: int) -> str | None:
    """The letter (of the first ``n_choices`` of ``A``–``J``) a reply settles on, or None."""
    return extract_choice(text, LETTERS[:n_choices])
