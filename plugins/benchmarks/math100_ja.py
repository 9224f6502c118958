"""MATH-100-Ja: competition mathematics in Japanese (MCLM MT-MATH100), graded by math-verify."""

from __future__ import annotations

from typing import Any, Sequence

from pydantic import Field

from jre import hookimpl
from jre.extract import extract_math
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, DatasetSpec, Item
from jre.records import Sampling

PROMPT = "次の数学の問題を解いてください。最終的な答えは \\boxed{{}} の中に書いてください。\n\n{problem}"


class Math100JaConfig(BenchmarkConfig):
    """``grade_timeout``: seconds one math-verify grade may take (its worker is then killed)."""

    grade_timeout: float = Field(default=10.0, gt=0)


class Math100Ja(Benchmark):
    """MATH-100-Ja (amphora/MCLM, ``MT-MATH100``): 99 problems, accuracy, N=16, T=0.6, P=0.95."""

    name = "math100_ja"
    description = "MATH-100-Ja: competition math in Japanese (MCLM MT-MATH100), math-verify"
    config_model = Math100JaConfig
    dataset = DatasetSpec("amphora/MCLM", config="MT-MATH100", split="test")
    fields = ("ja", "answer")
    sampling = Sampling(n=16, temperature=0.6, top_p=0.95, max_tokens=32768)

    def __init__(self) -> None:
        self._grader: Any = None

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPT.format(problem=str(item.data["ja"]).strip())}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        """The final answer as LaTeX (:func:`jre.extract.extract_math`: boxes, answer phrases
        such as 「答えは12です」, revisions after a box), or ``None`` when none is stated."""
        return extract_math(text)

    def score(self, answer: Any, item: Item, config: Any) -> float:
        return self.score_many([answer], item, config)[0]

    def score_many(self, answers: Sequence[Any], item: Item, config: Any) -> list[float]:
        from jre.plugins.benchmarks._math_verify import MathGrader

        timeout = getattr(config, "grade_timeout", 10.0)
        if self._grader is None or self._grader.timeout != timeout:
            self._grader = MathGrader(timeout)
        gold = str(item.data["answer"])
        return [float(self._grader.grade(gold, a)) if a else 0.0 for a in answers]

    def reference(self, item: Item) -> str:
        return str(item.data["answer"])


@hookimpl
def register_benchmarks(register):
    register(Math100Ja())
