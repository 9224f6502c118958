"""``findings``: what a study found, in plain words, from its one-factor contrasts.

A study argues by pairs of experiments that differ in one factor (the reference study's
"experiment 5 vs experiment 4"). ``findings`` looks in the factor table for every such pair
(after averaging a mixed experiment's components, as the other analyses do), and for each
pair and benchmark writes one sentence: how the score and the reasoning failure rate moved
when that factor changed, and whether the score moved by more than chance. "More than
chance" is the paired bootstrap of ``compare`` over the items both runs answered (95 %
interval excluding zero); without per-item details it says nothing about chance. The
sentences open the report, right under its title, after the best run per benchmark.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import SUMMARY_ORDER, AnalysisInputs, AnalysisOutput, ReportSection, factor_matrix
from jre.plugins.analyses.compare import paired_from_details


class FindingsConfig(StrictModel):
    """Options of ``findings``: which benchmarks and factors to speak of (default: all)."""

    benchmarks: list[str] | None = None
    factors: list[str] | None = None
    bootstrap: int = Field(default=1000, ge=100)
    seed: int = 0


def one_factor_pairs(factors: Any, wanted: list[str] | None = None) -> list[tuple[str, str, str]]:
    """``(factor, a, b)`` for every two runs whose (averaged) factors differ in exactly that
    one factor, ordered so that ``a`` has the smaller value; ``wanted`` keeps the pairs of
    those factors (a pair must still agree on every other factor)."""
    matrix = factor_matrix(factors)
    columns = list(matrix.columns)
    runs = list(matrix.index)
    pairs = []
    for i, x in enumerate(runs):
        for y in runs[i + 1:]:
            rx, ry = matrix.loc[x, columns], matrix.loc[y, columns]
            differ = [c for c in columns if not _same(rx[c], ry[c])]
            if len(differ) == 1 and (wanted is None or differ[0] in wanted):
                factor = differ[0]
                a, b = (x, y) if float(rx[factor]) < float(ry[factor]) else (y, x)
                pairs.append((factor, a, b))
    return sorted(pairs, key=lambda p: (columns.index(p[0]), runs.index(p[1]), runs.index(p[2])))


def _same(x: Any, y: Any) -> bool:
    """Equal factor values; two missing values (None or NaN) are equal too."""
    x_missing, y_missing = x is None or x != x, y is None or y != y
    if x_missing or y_missing:
        return x_missing and y_missing
    return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)


def _proportion_z(p1: Any, n1: Any, p2: Any, n2: Any) -> float | None:
    """The two-proportion z statistic of ``p2 - p1`` (pooled), or None when it is undefined."""
    try:
        p1, p2, n1, n2 = float(p1), float(p2), float(n1), float(n2)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (p1, p2, n1, n2)) or n1 < 1 or n2 < 1:
        return None
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return None if se == 0 else (p2 - p1) / se


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _percent(v: Any) -> str:
    return "n/a" if v is None or v != v else f"{100 * float(v):.0f} %"


class Findings(Analysis[FindingsConfig]):
    """Plain-words findings: score and failure-rate moves between one-factor pairs."""

    name = "findings"
    description = "plain-words findings from pairs of experiments that differ in one factor"
    config_model = FindingsConfig

    @staticmethod
    def _chance(ra: Any, rb: Any, config: FindingsConfig) -> tuple[float, float] | None:
        """The paired bootstrap's 95 % interval of score A − B, or None without details."""
        if ra.get("metric") == "bleu":
            return None  # BLEU deltas are compare's to report
        paired = paired_from_details(ra, rb, config.bootstrap, config.seed)
        return None if paired is None else (paired[1], paired[2])

    def run(self, config: FindingsConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd

        config = config or FindingsConfig()
        results = inputs.results.dropna(subset=["benchmark"])
        benches = config.benchmarks or list(dict.fromkeys(results["benchmark"]))
        indexed = results.set_index(["run", "benchmark"])
        matrix = factor_matrix(inputs.factors)
        rows = []
        for factor, a, b in one_factor_pairs(inputs.factors, config.factors):
            for bench in benches:
                if (a, bench) not in indexed.index or (b, bench) not in indexed.index:
                    continue
                ra, rb = indexed.loc[(a, bench)], indexed.loc[(b, bench)]
                chance = self._chance(rb, ra, config)
                rows.append({
                    "factor": factor, "from": float(matrix.loc[a, factor]), "to": float(matrix.loc[b, factor]),
                    "run_from": a, "run_to": b, "benchmark": bench,
                    "score_from": ra["score"], "score_to": rb["score"],
                    "failure_from": ra["failure_rate"], "failure_to": rb["failure_rate"],
                    "n_from": ra.get("n_samples"), "n_to": rb.get("n_samples"),
                    "ci95_lo": chance[0] if chance else None, "ci95_hi": chance[1] if chance else None,
                    "beyond_chance": None if chance is None else bool(chance[0] > 0 or chance[1] < 0)})
        table = pd.DataFrame(rows, columns=["factor", "from", "to", "run_from", "run_to", "benchmark",
                                            "score_from", "score_to", "failure_from", "failure_to",
                                            "n_from", "n_to", "ci95_lo", "ci95_hi", "beyond_chance"])
        lines = (self._in_short(table) + self._best(results, benches)
                 + [self._sentence(row) for row in table.to_dict("records")])
        if table.empty:
            lines.append("No two experiments differ in exactly one factor, so no effect can be "
                         "read off a single pair.")
        return AnalysisOutput(summary="\n".join(lines), tables={"contrasts": table},
                              data={"findings": lines},
                              sections=[ReportSection("Findings", order=SUMMARY_ORDER, summary=True)])

    @staticmethod
    def _in_short(table: Any) -> list[str]:
        """The lead: the one-factor change that moved the score most beyond chance (paired
        bootstrap), and the one that moved the failure rate most beyond chance (two-proportion
        z test over the runs' samples, |z| ≥ 1.96), so a benchmark of two questions cannot lead."""
        if table.empty:
            return []
        parts = []
        beyond = table[table["beyond_chance"] == True]  # noqa: E712 - None means unknown
        if not beyond.empty:
            delta = beyond["score_to"].astype(float) - beyond["score_from"].astype(float)
            row = beyond.loc[delta.abs().idxmax()]
            parts.append(f"changing {row['factor']} ({row['run_from']} → {row['run_to']}) moved the score "
                         f"most ({float(row['score_to']) - float(row['score_from']):+.3f} on {row['benchmark']})")
        moves = [(abs(z), row) for row in table.to_dict("records")
                 if (z := _proportion_z(row["failure_from"], row["n_from"], row["failure_to"], row["n_to"])) is not None
                 and abs(z) >= 1.959963984540054]
        if moves:
            row = max(moves, key=lambda m: (abs(float(m[1]["failure_to"]) - float(m[1]["failure_from"])), m[0]))[1]
            parts.append(f"changing {row['factor']} ({row['run_from']} → {row['run_to']}) moved the share of "
                         f"unclosed traces most ({100 * (float(row['failure_to']) - float(row['failure_from'])):+.0f} "
                         f"points on {row['benchmark']})")
        if not parts:
            return ["In short: no one-factor change moved a score or a failure rate beyond chance."]
        return [f"In short: {'; '.join(parts)}."]

    @staticmethod
    def _best(results: Any, benches: list[str]) -> list[str]:
        """One line per benchmark: the best and the worst run by score."""
        lines = []
        for bench in benches:
            part = results[results["benchmark"] == bench].dropna(subset=["score"])
            if part.empty:
                continue
            part = part.sort_values("score", ascending=False, kind="stable")
            best, worst = part.iloc[0], part.iloc[-1]
            line = f"- {bench}: best {best['run']} ({float(best['score']):.3f})"
            if len(part) > 1:
                line += f", worst {worst['run']} ({float(worst['score']):.3f})"
            failing = part.dropna(subset=["failure_rate"])
            if not failing.empty and float(failing["failure_rate"].max()) > 0:
                top = failing.sort_values("failure_rate", ascending=False, kind="stable").iloc[0]
                line += (f"; most unclosed traces: {top['run']} "
                         f"({_percent(top['failure_rate'])} of outputs)")
            lines.append(line + ".")
        return lines

    @staticmethod
    def _sentence(row: dict[str, Any]) -> str:
        """``factor a → b (run → run) on bench: score x → y, more than chance; failures p → q.``"""
        x, y = float(row["score_from"]), float(row["score_to"])
        verb = "rose" if y > x else "fell" if y < x else "stayed"
        score = f"score {verb} {x:.3f} → {y:.3f}" if verb != "stayed" else f"score stayed at {x:.3f}"
        if row["beyond_chance"] is True:
            score += " (beyond chance: the paired 95 % interval excludes zero)"
        elif row["beyond_chance"] is False and verb != "stayed":
            score += " (within chance)"
        fx, fy = row["failure_from"], row["failure_to"]
        if fx is None or fy is None or fx != fx or fy != fy:
            failure = "no failure rate"
        elif math.isclose(float(fx), float(fy)):
            failure = f"unclosed traces unchanged at {_percent(fx)}"
        else:
            failure = f"unclosed traces {_percent(fx)} → {_percent(fy)}"
        return (f"- {row['factor']} {_value(row['from'])} → {_value(row['to'])} "
                f"({row['run_from']} → {row['run_to']}) on {row['benchmark']}: {score}; {failure}.")


@hookimpl
def register_analyses(register):
    register(Findings())
