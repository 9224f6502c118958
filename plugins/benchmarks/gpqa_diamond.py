"""GPQA (Diamond): graduate-level science in English, four choices shuffled per item."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import BenchmarkConfig, DatasetSpec, Item
from jre.plugins.benchmarks._choice import INSTRUCTION_EN, ChoiceBenchmark, row_id, shuffle_choices
from jre.records import Sampling

INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


class GPQADiamondConfig(BenchmarkConfig):
    """``shuffle_seed`` fixes the order of each item's choices."""

    shuffle_seed: int = 0


class GPQADiamond(ChoiceBenchmark):
    """GPQA Diamond (Idavidrein/gpqa, ``gpqa_diamond``, train): 198 questions, accuracy,
    N=16, T=0.6, P=0.95 (a gated dataset: accept its terms and log in to the hub first)."""

    name = "gpqa_diamond"
    short_name = "GPQ"
    description = "GPQA Diamond: graduate-level science, 4-way multiple choice"
    config_model = GPQADiamondConfig
    dataset = DatasetSpec("Idavidrein/gpqa", config="gpqa_diamond", split="train")
    fields = ("Question", "Correct Answer", *INCORRECT)
    sampling = Sampling(n=16, temperature=0.6, top_p=0.95, max_tokens=32768)
    instruction = INSTRUCTION_EN

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        item_id = row_id(row, "Record ID", index)
        choices, gold = shuffle_choices(row["Correct Answer"], [row[k] for k in INCORRECT],
                                        f"{config.shuffle_seed}:{item_id}")
        return Item(item_id, {"question": row["Question"], "choices": choices, "gold": gold})


@hookimpl
def register_benchmarks(register):
    register(GPQADiamond())
