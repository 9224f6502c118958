"""MATH-500: competition mathematics in English (the MATH test subset of Lightman et al.),
graded by math-verify."""

from __future__ import annotations

from typing import Any

from jre import hookimpl
from jre.kinds.benchmark import DatasetSpec, Item
from jre.plugins.benchmarks._math_verify import MathBenchmark
from jre.records import Sampling

PROMPT = ("Solve the following math problem. Think step by step, and put the final answer "
          "(just the number or expression) in \\boxed{{}} on the last line.\n\n{problem}")


class Math500(MathBenchmark):
    """MATH-500 (HuggingFaceH4/MATH-500, test): 500 problems, accuracy, T=0.6, P=0.95."""

    name = "math500"
    short_name = "M500"
    description = "MATH-500: competition math in English, math-verify"
    dataset = DatasetSpec("HuggingFaceH4/MATH-500", split="test")
    fields = ("problem", "answer")
    id_field = "unique_id"
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPT.format(problem=str(item.data["problem"]).strip())}]


@hookimpl
def register_benchmarks(register):
    register(Math500())
