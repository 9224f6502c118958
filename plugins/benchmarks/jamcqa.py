"""JamC-QA: knowledge specific to Japan (culture, custom, geography, history, law...), four choices."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._choice import LETTERS, ChoiceBenchmark, row_id
from jre.records import Sampling

CHOICES = ("choice0", "choice1", "choice2", "choice3")


class JamCQA(ChoiceBenchmark):
    """JamC-QA (sbintuitions/JamC-QA, ``v1.0``, test): 2,309 questions, accuracy, T=0.6,
    P=0.95. The choices keep the dataset's order (its ``answer_index`` varies)."""

    name = "jamcqa"
    short_name = "JamC"
    description = "JamC-QA: Japanese-specific knowledge QA, 4-way multiple choice"
    dataset = DatasetSpec("sbintuitions/JamC-QA", config="v1.0", split="test")
    fields = ("qid", "question", *CHOICES, "answer_index")
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        return Item(row_id(row, "qid", index),
                    {"question": row["question"], "choices": [row[k] for k in CHOICES],
                     "gold": LETTERS[int(row["answer_index"])], "category": row.get("category")})


@hookimpl
def register_benchmarks(register):
    register(JamCQA())
