"""MMLU-Pro: general knowledge and reasoning in English, up to ten lettered options (A–J)."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._choice import INSTRUCTION_EN, LETTERS, ChoiceBenchmark, row_id
from jre.records import Sampling


class MMLUPro(ChoiceBenchmark):
    """MMLU-Pro (TIGER-Lab/MMLU-Pro, test): 12,032 questions, accuracy, T=0.6, P=0.95."""

    name = "mmlu_pro"
    short_name = "MP"
    description = "MMLU-Pro: general knowledge in English, up to 10-way multiple choice"
    dataset = DatasetSpec("TIGER-Lab/MMLU-Pro", split="test")
    fields = ("question", "options", "answer_index")
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
    instruction = INSTRUCTION_EN

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        return Item(row_id(row, "question_id", index),
                    {"question": row["question"], "choices": list(row["options"]),
                     "gold": LETTERS[int(row["answer_index"])], "category": row.get("category")})


@hookimpl
def register_benchmarks(register):
    register(MMLUPro())
