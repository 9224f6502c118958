"""AIME: the American Invitational Mathematics Examination, integer answers graded by
math-verify; one hub dataset per year (2024 and 2025 by default, as the paper)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.errors import UserError
from jre.kinds.benchmark import DatasetSpec, Item, LoadedData, check_fields, read_hub_rows
from jre.plugins.benchmarks._math_verify import MathBenchmark, MathConfig
from jre.plugins.benchmarks.math500 import PROMPT
from jre.records import Sampling

#: The hub dataset of each year's 30 problems (I and II), fields ``problem`` and ``answer``.
YEARS: dict[int, DatasetSpec] = {
    2024: DatasetSpec("HuggingFaceH4/aime_2024", split="train"),
    2025: DatasetSpec("yentinglin/aime_2025", split="train"),
}


class AIMEConfig(MathConfig):
    """``years``: which years' problems (of :data:`YEARS`) to evaluate, in this order. A local
    ``path`` holds the chosen problems itself and ignores ``years``."""

    years: list[int] = Field(default_factory=lambda: [2024, 2025], min_length=1)


class AIME(MathBenchmark):
    """AIME 2024–2025: 60 problems, accuracy, N=16, T=0.6, P=0.95."""

    name = "aime"
    short_name = "AIME"
    description = "AIME 2024-2025: competition math, integer answers, math-verify"
    config_model = AIMEConfig
    fields = ("problem", "answer")
    id_field = "id"
    sampling = Sampling(n=16, temperature=0.6, top_p=0.95, max_tokens=32768)

    def load(self, config: Any, base_dir: Path | None = None) -> LoadedData:
        if getattr(config, "path", None):
            return super().load(config, base_dir)
        unknown = [y for y in config.years if y not in YEARS]
        if unknown:
            raise UserError(f"no AIME dataset for {unknown[0]}; years: "
                            f"{', '.join(map(str, YEARS))}", field="years")
        items: list[Item] = []
        sources = []
        for year in config.years:
            spec = YEARS[year]
            rows, revision = read_hub_rows(spec)
            check_fields(rows, self.fields, spec.id)
            for index, row in enumerate(rows):
                key = row.get("id")
                items.append(Item(f"{year}/{key if key is not None else index}", dict(row)))
            sources.append({"year": year, "id": spec.id, "config": spec.config, "split": spec.split,
                            "revision": revision})
        if config.limit:
            items = items[:config.limit]
        return LoadedData(items=items, source={"id": "+".join(s["id"] for s in sources),
                                               "config": None, "split": "train",
                                               "revision": ",".join(str(s["revision"]) for s in sources),
                                               "datasets": sources})

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPT.format(problem=str(item.data["problem"]).strip())}]


@hookimpl
def register_benchmarks(register):
    register(AIME())
