"""``arith_en`` / ``arith_ja``: held-out arithmetic word problems, scored by exact answer.

Items come from the ``arith`` teacher's generator (:func:`jre.plugins.teachers.arith.make_problem`)
on its ``test`` split, which holds the problems whose arithmetic hashes into one bucket in
five; training seeds never come from it, so no test problem was seen in training. ``path``
replaces them with a local file (fields ``question`` and ``answer``). The answer is the number
after ``Answer:`` / ``答え:``, else the last integer of the answer text.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from jre import hookimpl
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, Item, LoadedData
from jre.plugins.teachers.arith import make_problem, question
from jre.records import Sampling

_MARKED = re.compile(r"(?:answer|答え)\s*[:：は]?\s*(-?\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+")


class ArithBenchConfig(BenchmarkConfig):
    """``count``: how many generated problems (ignored when ``path`` is set); ``steps``: the
    least and most operations per problem (the difficulty; the teacher's seeds use 2-3);
    ``max_operand``: the largest number added or given away (None: the generator's default
    ranges; 9 keeps them one digit), as the training seeds were drawn."""

    count: int = Field(default=40, ge=1)
    steps: tuple[int, int] = (2, 3)
    max_operand: int | None = Field(default=None, ge=2)

    @model_validator(mode="after")
    def _steps_ordered(self) -> ArithBenchConfig:
        if not 1 <= self.steps[0] <= self.steps[1]:
            raise ValueError("steps must be [least, most] with 1 <= least <= most")
        return self


def extract_number(text: str | None) -> int | None:
    """The marked answer (``Answer: 12``, ``答え: 12``), else the last integer, else None."""
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    marked = _MARKED.findall(text)
    if marked:
        return int(marked[-1])
    numbers = _NUMBER.findall(text)
    return int(numbers[-1]) if numbers else None


class ArithBench(Benchmark):
    """Multi-step arithmetic word problems in one language, exact-match accuracy."""

    lang: ClassVar[Literal["en", "ja"]] = "en"
    config_model = ArithBenchConfig
    fields = ("question", "answer")
    id_field = "id"
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=256)

    def load(self, config: Any, base_dir: Path | None = None) -> LoadedData:
        if getattr(config, "path", None):
            return super().load(config, base_dir)
        count = getattr(config, "count", 40)
        steps = tuple(getattr(config, "steps", (2, 3)))
        max_operand = getattr(config, "max_operand", None)
        rows = []
        for i in range(count):
            p = make_problem(i, self.lang, "test", steps, max_operand)
            rows.append({"id": p["id"], "question": question(p), "answer": p["answer"]})
        limit = getattr(config, "limit", None)
        items = self.items(rows, config)[:limit] if limit else self.items(rows, config)
        return LoadedData(items=items, source={"id": f"jre-arith-{self.lang}", "config": self.lang,
                                               "split": "test", "revision": f"generated:{count}"
                                               + ("" if steps == (2, 3) else f":steps{steps[0]}-{steps[1]}")
                                               + ("" if max_operand is None else f":max{max_operand}")})

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": str(item.data["question"])}]

    def extract(self, text: str, item: Item, config: Any) -> int | None:
        return extract_number(text)

    def score(self, answer: Any, item: Item, config: Any) -> float:
        return float(answer is not None and int(answer) == int(item.data["answer"]))

    def reference(self, item: Item) -> int:
        return int(item.data["answer"])


class ArithEn(ArithBench):
    name = "arith_en"
    description = "held-out arithmetic word problems in English (offline, exact answer)"
    lang = "en"


class ArithJa(ArithBench):
    name = "arith_ja"
    description = "held-out arithmetic word problems in Japanese (offline, exact answer)"
    lang = "ja"


@hookimpl
def register_benchmarks(register):
    register(ArithEn())
    register(ArithJa())
