"""``compare``: score and failure-rate deltas between named runs, per benchmark.

The reference study argues by pairs ("experiment 5 vs experiment 4"). For each pair
``A vs B`` and benchmark the delta A − B gets a 95 % interval: a paired bootstrap over the
items both runs answered when both ``details.jsonl`` files are at hand, otherwise the two
runs' own bootstrap intervals from evaluation combined in quadrature (``ci_method`` says
which).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from jre import hookimpl
from jre.errors import UserError
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, figure_png, pyplot


class CompareConfig(StrictModel):
    """Options of ``compare``: ``pairs = ["5 vs 4", ...]`` or a ``baseline`` run for all."""

    pairs: list[str] = Field(default_factory=list)
    baseline: str | None = None  # every other run vs this one when pairs is empty
    benchmarks: list[str] | None = None
    bootstrap: int = Field(default=1000, ge=100)
    seed: int = 0

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            if len(pair.split(" vs ")) != 2:
                raise ValueError(f"pair {pair!r} must read 'A vs B'")
        return value


def item_scores(details: Path) -> dict[str, float]:
    """Mean score per ``item_id`` of an eval ``details.jsonl``."""
    sums: dict[str, list[float]] = {}
    with open(details, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if row.get("score") is not None:
                    sums.setdefault(str(row["item_id"]), []).append(float(row["score"]))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def paired_bootstrap(a: dict[str, float], b: dict[str, float], n: int, seed: int) -> tuple[float, float, float, int]:
    """Delta of means over shared items and its 95 % percentile interval."""
    import numpy as np

    items = sorted(set(a) & set(b))
    diff = np.array([a[i] - b[i] for i in items])
    if len(diff) == 0:
        return math.nan, math.nan, math.nan, 0
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), len(diff)


class Compare(Analysis):
    """Deltas between runs, per benchmark, with 95 % intervals."""

    name = "compare"
    description = "score / failure-rate deltas between named runs with bootstrap intervals"
    config_model = CompareConfig

    def _pairs(self, config: CompareConfig, runs: list[str]) -> list[tuple[str, str]]:
        if config.pairs:
            pairs = [tuple(p.strip() for p in pair.split(" vs ")) for pair in config.pairs]
        else:
            base = config.baseline or (runs[0] if runs else None)
            pairs = [(r, base) for r in runs if r != base]
        for a, b in pairs:
            for run in (a, b):
                if run not in runs:
                    raise UserError(f"no run {run!r} in the results; runs: {', '.join(runs)}",
                                    field="analyze.compare.pairs")
        return pairs  # type: ignore[return-value]

    def run(self, config: CompareConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd

        config = config or CompareConfig()
        results = inputs.results
        runs = list(dict.fromkeys(results["run"]))
        benches = config.benchmarks or list(dict.fromkeys(results["benchmark"].dropna()))
        rows = []
        indexed = results.set_index(["run", "benchmark"])
        for a, b in self._pairs(config, runs):
            for bench in benches:
                if (a, bench) not in indexed.index or (b, bench) not in indexed.index:
                    continue
                ra, rb = indexed.loc[(a, bench)], indexed.loc[(b, bench)]
                row: dict[str, Any] = {"pair": f"{a} vs {b}", "a": a, "b": b, "benchmark": bench,
                                       "score_a": ra["score"], "score_b": rb["score"]}
                da, db = ra.get("details"), rb.get("details")
                if isinstance(da, str) and isinstance(db, str) and Path(da).exists() and Path(db).exists():
                    delta, lo, hi, n = paired_bootstrap(item_scores(Path(da)), item_scores(Path(db)),
                                                        config.bootstrap, config.seed)
                    row.update(delta=delta, ci95_lo=lo, ci95_hi=hi, n_items=n,
                               ci_method="paired bootstrap")
                else:
                    delta = float(ra["score"]) - float(rb["score"])
                    half = [abs(float(r["ci95_hi"]) - float(r["ci95_lo"])) / 2
                            if pd.notna(r["ci95_lo"]) and pd.notna(r["ci95_hi"]) else math.nan
                            for r in (ra, rb)]
                    width = math.sqrt(half[0] ** 2 + half[1] ** 2)
                    row.update(delta=delta, ci95_lo=delta - width, ci95_hi=delta + width,
                               n_items=None, ci_method="run intervals in quadrature")
                fa, fb = pd.to_numeric(pd.Series([ra["failure_rate"], rb["failure_rate"]]),
                                       errors="coerce")
                row["failure_delta"] = fa - fb
                row["significant"] = bool(row["ci95_lo"] > 0 or row["ci95_hi"] < 0)
                rows.append(row)
        table = pd.DataFrame(rows, columns=["pair", "a", "b", "benchmark", "score_a", "score_b",
                                            "delta", "ci95_lo", "ci95_hi", "n_items", "ci_method",
                                            "failure_delta", "significant"])
        lines = [f"Deltas A − B for {table['pair'].nunique()} pair(s); * marks a 95 % interval "
                 f"that excludes zero."]
        for row in table.to_dict("records"):
            mark = " *" if row["significant"] else ""
            lines.append(f"- {row['pair']} on {row['benchmark']}: {row['delta']:+.3f} "
                         f"[{row['ci95_lo']:+.3f}, {row['ci95_hi']:+.3f}]{mark}")
        figures = {"deltas": self._figure(table)} if len(table) else {}
        return AnalysisOutput(summary="\n".join(lines), tables={"deltas": table}, figures=figures,
                              data={"pairs": list(dict.fromkeys(table["pair"]))})

    @staticmethod
    def _figure(table: Any) -> bytes:
        """Grouped bars: delta per benchmark for each pair, with 95 % intervals."""
        import numpy as np

        plt = pyplot()
        pairs = list(dict.fromkeys(table["pair"]))
        benches = list(dict.fromkeys(table["benchmark"]))
        width = 0.8 / len(pairs)
        fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(benches) * max(1, len(pairs)) ** 0.5 + 2), 3.2))
        for i, pair in enumerate(pairs):
            part = table[table["pair"] == pair].set_index("benchmark").reindex(benches)
            x = np.arange(len(benches)) + (i - (len(pairs) - 1) / 2) * width
            err = [(part["delta"] - part["ci95_lo"]).clip(lower=0).fillna(0),
                   (part["ci95_hi"] - part["delta"]).clip(lower=0).fillna(0)]
            ax.bar(x, part["delta"].fillna(0), width, yerr=err, capsize=2, label=pair)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(range(len(benches)), benches, rotation=30, ha="right")
        ax.set_ylabel("score delta (A − B)")
        ax.set_title("Factor deltas between runs")
        ax.legend(fontsize=7, ncols=2)
        return figure_png(fig)


@hookimpl
def register_analyses(register):
    register(Compare())
