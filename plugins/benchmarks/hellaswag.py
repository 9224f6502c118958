"""HellaSwag as a zero-shot generative multiple choice: the model names the best of four endings."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._choice import LETTERS, ChoiceBenchmark, row_id
from jre.records import Sampling

INSTRUCTION = ("Given the following incomplete context and four possible completions ({letters}), "
               "choose the best completion. Think step by step, then write the last line of your "
               "response as 'Answer: X' (without quotes), X being one of {letters}.")
# WikiHow contexts and endings carry these section markers; they are not part of the text.
MARKERS = ("[substeps]", "[title]", "[step]", "[header]")


def clean(text: str) -> str:
    for marker in MARKERS:
        text = text.replace(marker, "")
    return " ".join(text.split())


class HellaSwag(ChoiceBenchmark):
    """HellaSwag (Rowan/hellaswag, validation): 10,042 items, accuracy, T=0.6, P=0.95."""

    name = "hellaswag"
    short_name = "HS"
    description = "HellaSwag: commonsense sentence completion, 4-way generative multiple choice"
    dataset = DatasetSpec("Rowan/hellaswag", split="validation")
    fields = ("activity_label", "ctx_a", "ctx_b", "endings", "label")
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
    instruction = INSTRUCTION

    def choice_item(self, row: dict[str, Any], index: int, config: Any) -> Item:
        # ctx_b continues ctx_a with a lower-case word; its first letter is raised.
        tail = clean(str(row["ctx_b"]))
        context = f"{row['activity_label']}: {clean(str(row['ctx_a']))} {tail[:1].upper()}{tail[1:]}"
        return Item(row_id(row, "ind", index),
                    {"question": "Incomplete context: " + context.strip(),
                     "choices": [clean(e) for e in row["endings"]],
                     "gold": LETTERS[int(row["label"])]})


@hookimpl
def register_benchmarks(register):
    register(HellaSwag())
