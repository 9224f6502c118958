"""M-IFEval-Ja: Japanese instruction following, judged by M-IFEval's checkers
(:mod:`jre.lib.ifeval_ja`). Each sample's score holds one strict and one loose verdict per
instruction; the headline is the paper's accuracy per instruction (strict), with the
per-prompt accuracies and the loose ones alongside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jre import hookimpl
from jre.errors import UserError
from jre.kinds.benchmark import Benchmark, DatasetSpec, Item
from jre.lib import ifeval_ja
from jre.records import Sampling


class MIFEvalJa(Benchmark):
    """M-IFEval's Japanese set as lm-eval's m_ifeval_ja reads it (tokyotech-llm/M-IFEval-Ja,
    test): 172 prompts, 226 instructions."""

    name = "m_ifeval_ja"
    short_name = "MIF-Ja"
    description = "M-IFEval-Ja: Japanese instruction following, accuracy per instruction"
    dataset = DatasetSpec("tokyotech-llm/M-IFEval-Ja", split="test")
    fields = ("key", "prompt", "instruction_id_list", "kwargs")
    id_field = "key"
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
    metric = "instruction_strict"
    corpus_level = True  # accuracy per instruction weighs prompts by their instruction count

    def items(self, rows: list[dict[str, Any]], config: Any) -> list[Item]:
        for row in rows:
            missing = ifeval_ja.unsupported(list(row["instruction_id_list"]))
            if missing:
                raise UserError(f"prompt {row['key']}: instruction {missing[0]!r} has no checker "
                                f"(supported: {len(ifeval_ja.SUPPORTED)} ids)",
                                where="instruction_id_list")
            if len(row["kwargs"]) != len(row["instruction_id_list"]):
                raise UserError(f"prompt {row['key']}: kwargs and instruction_id_list differ "
                                "in length", where="kwargs")
        return super().items(rows, config)

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": item.data["prompt"]}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        return text if text and text.strip() else None

    def score(self, answer: Any, item: Item, config: Any) -> Any:
        ids, kwargs = item.data["instruction_id_list"], item.data["kwargs"]
        text = answer or ""
        strict = [ifeval_ja.check(i, text, kw or {}) for i, kw in zip(ids, kwargs)]
        loose = [ifeval_ja.check_loose(i, text, kw or {}) for i, kw in zip(ids, kwargs)]
        return {"strict": [int(v) for v in strict], "loose": [int(v) for v in loose]}

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        return self.aggregate([scores])

    def aggregate(self, per_item: Sequence[Sequence[Any]]) -> dict[str, float]:
        out: dict[str, float] = {}
        samples = [s for scores in per_item for s in scores if isinstance(s, dict)]
        for mode in ("strict", "loose"):
            verdicts = [v for s in samples for v in s[mode]]
            out[f"instruction_{mode}"] = sum(verdicts) / len(verdicts) if verdicts else 0.0
            out[f"prompt_{mode}"] = (sum(all(s[mode]) for s in samples) / len(samples)
                                     if samples else 0.0)
        return out

    def result_extras(self, config: Any) -> dict[str, Any]:
        return {"instructions_supported": sorted(ifeval_ja.SUPPORTED),
                "shared_with_lm_eval": sorted(ifeval_ja.SHARED)}


@hookimpl
def register_benchmarks(register):
    register(MIFEvalJa())
