"""Multiple-choice helpers shared by the built-in choice benchmarks (not a plugin).

Every lettered benchmark extracts with :func:`extract_letter`, i.e. :func:`jre.extract.extract_choice`;
its rules are listed in docs/extraction.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from jre.evaluate import shuffled
from jre.extract import extract_choice
from jre.kinds.benchmark import Benchmark, Item

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


INSTRUCTION_EN = ("Answer the following multiple-choice question. Think step by step, then write the "
                  "last line of your response as 'Answer: X' (without quotes), X being one of "
                  "{letters}.")


class ChoiceBenchmark(Benchmark):
    """A lettered multiple-choice benchmark: :meth:`choice_item` turns a row into the question,
    its choices in display order and the gold letter; prompting with :attr:`instruction`,
    extraction (:func:`extract_letter`) and scoring are shared."""

    instruction: ClassVar[str] = INSTRUCTION_JA

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        """One row → an item whose data holds ``question``, ``choices`` and ``gold``."""
        raise NotImplementedError

    def items(self, rows: list[dict[str, Any]], config: Any) -> list[Item]:
        return [self.choice_item(row, index, config) for index, row in enumerate(rows)]

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": choice_prompt(item.data["question"], item.data["choices"],
                                                           self.instruction)}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        return extract_letter(text, len(item.data["choices"]))

    def score(self, answer: Any, item: Item, config: Any) -> float:
        return letter_score(answer, item.data["gold"])

    def reference(self, item: Item) -> str:
        return item.data["gold"]


def row_id(row: dict[str, Any], field: str, index: int) -> str:
    """The row's ``field`` as an id, else its index."""
    value = row.get(field)
    return str(value if value is not None else index)
