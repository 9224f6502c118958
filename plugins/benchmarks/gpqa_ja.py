"""GPQA-Ja: graduate-level science in Japanese, four choices shuffled per item (BenchMAX)."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, DatasetSpec, Item
from jre.plugins.benchmarks._choice import choice_prompt, extract_letter, letter_score, shuffle_choices
from jre.records import Sampling

INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


class GPQAJaConfig(BenchmarkConfig):
    """``shuffle_seed`` fixes the order of each item's choices."""

    shuffle_seed: int = 0


class GPQAJa(Benchmark[GPQAJaConfig]):
    """GPQA-Ja (LLaMAX/BenchMAX_Science, ``ja``): 448 questions, accuracy, T=0.6, P=0.95."""

    name = "gpqa_ja"
    short_name = "GPQ-Ja"
    description = "GPQA-Ja: graduate-level science, 4-way multiple choice (BenchMAX_Science ja)"
    config_model = GPQAJaConfig
    dataset = DatasetSpec("LLaMAX/BenchMAX_Science", config="ja", split="train")
    fields = ("Question", "Correct Answer", *INCORRECT)
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)

    def items(self, rows: list[dict[str, Any]], config: GPQAJaConfig) -> list[Item]:
        items = []
        for index, row in enumerate(rows):
            item_id = str(index)
            choices, gold = shuffle_choices(row["Correct Answer"], [row[k] for k in INCORRECT],
                                            f"{config.shuffle_seed}:{item_id}")
            items.append(Item(item_id, {"question": row["Question"], "choices": choices, "gold": gold}))
        return items

    def prompt(self, item: Item, config: GPQAJaConfig) -> list[dict[str, str]]:
        return [{"role": "user", "content": choice_prompt(item.data["question"], item.data["choices"])}]

    def extract(self, text: str, item: Item, config: GPQAJaConfig) -> str | None:
        return extract_letter(text, len(item.data["choices"]))

    def score(self, answer: Any, item: Item, config: GPQAJaConfig) -> float:
        return letter_score(answer, item.data["gold"])

    def reference(self, item: Item) -> str:
        return item.data["gold"]


@hookimpl
def register_benchmarks(register):
    register(GPQAJa())
