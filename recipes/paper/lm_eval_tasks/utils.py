"""GPQA documents with a reproducible choice order (lm-eval's own shuffles unseeded)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

#: Change to draw another (equally fixed) set of choice orders.
SHUFFLE_SEED = 0


def preprocess(text: str | None) -> str:
    """lm-eval's GPQA clean-up of one answer text."""
    if text is None:
        return " "
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def choice_order(question: str, seed: int = SHUFFLE_SEED) -> list[int]:
    """A permutation of the four choices drawn from a generator seeded by the question."""
    digest = hashlib.sha256(f"{seed}|{question}".encode()).digest()
    order = [0, 1, 2, 3]
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def process_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """One GPQA row as lm-eval's task expects it (choice1..4, choices, answer "(X)")."""
    answers = [preprocess(doc["Incorrect Answer 1"]), preprocess(doc["Incorrect Answer 2"]),
               preprocess(doc["Incorrect Answer 3"]), preprocess(doc["Correct Answer"])]
    choices = [answers[i] for i in choice_order(doc["Question"])]
    correct = choices.index(answers[3])
    return {"choice1": choices[0], "choice2": choices[1], "choice3": choices[2], "choice4": choices[3],
            "choices": choices, "answer": f"({chr(65 + correct)})"}


def process_docs(dataset: Any) -> Any:
    """Every row through :func:`process_doc`."""
    return dataset.map(process_doc)
