"""MMLU-ProX-Ja: MMLU-Pro translated into Japanese, up to ten lettered options (A–J)."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._choice import LETTERS, ChoiceBenchmark, row_id
from jre.records import Sampling

OPTIONS = tuple(f"option_{i}" for i in range(10))


class MMLUProXJa(ChoiceBenchmark):
    """MMLU-ProX (li-lab/MMLU-ProX, ``ja``, test): 11,759 questions, accuracy, T=0.6, P=0.95."""

    name = "mmlu_prox_ja"
    short_name = "MPX-Ja"
    description = "MMLU-ProX-Ja: general knowledge in Japanese, up to 10-way multiple choice"
    dataset = DatasetSpec("li-lab/MMLU-ProX", config="ja", split="test")
    fields = ("question", "answer_index", *OPTIONS)
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        # A question with fewer than ten options has the rest empty (None).
        choices = [row[k] for k in OPTIONS if row[k] is not None and str(row[k]).strip()]
        return Item(row_id(row, "question_id", index),
                    {"question": row["question"], "choices": choices,
                     "gold": LETTERS[int(row["answer_index"])], "category": row.get("category")})


@hookimpl
def register_benchmarks(register):
    register(MMLUProXJa())
