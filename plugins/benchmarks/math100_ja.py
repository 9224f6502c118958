"""MATH-100-Ja: competition mathematics in Japanese (MCLM MT-MATH100), graded by math-verify."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._math_verify import MathBenchmark
from jre.records import Sampling

PROMPT = "次の数学の問題を解いてください。最終的な答えは \\boxed{{}} の中に書いてください。\n\n{problem}"



class Math100Ja(MathBenchmark):
    """MATH-100-Ja (amphora/MCLM, ``MT-MATH100``): 99 problems, accuracy, N=16, T=0.6, P=0.95."""

    name = "math100_ja"
    short_name = "M100-Ja"
    description = "MATH-100-Ja: competition math in Japanese (MCLM MT-MATH100), math-verify"
    dataset = DatasetSpec("amphora/MCLM", config="MT-MATH100", split="test")
    fields = ("ja", "answer")
    sampling = Sampling(n=16, temperature=0.6, top_p=0.95, max_tokens=32768)

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPT.format(problem=str(item.data["ja"]).strip())}]


@hookimpl
def register_benchmarks(register):
    register(Math100Ja())
