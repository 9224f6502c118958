"""``scores``: a Table-2-style table of benchmark scores across runs, and score-vs-failure plots."""

from __future__ import annotations

from typing import Any, Literal

from jre import hookimpl
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection, figure_png, pyplot
from jre.kinds.benchmark import PAPER_COLUMNS


class PivotConfig(StrictModel):
    """Options of the ``scores`` / ``failure_rate`` tables."""

    # Column order, by benchmark name or heading; default: the reference study's order
    # (jre.kinds.benchmark.PAPER_COLUMNS), then any other benchmark by name.
    benchmarks: list[str] | None = None
    runs: list[str] | None = None  # row order; default: as they appear
    policy: Literal["reported", "trace", "empty", "whole"] = "reported"  # which score (scores only)


# Metrics kept on another scale in results.json than in the tables: sacrebleu's BLEU is
# 0–100 there (labelled ``bleu``), the paper's tables print it on 0–1.
TABLE_SCALE = {"bleu": 0.01}
SCALED_COLUMNS = ("score", "ci95_lo", "ci95_hi", "score_trace", "score_empty", "score_whole")


def headings(results: Any) -> dict[str, str]:
    """Benchmark name → column heading: its ``short_name`` (the paper's abbreviation for the
    built-in benchmarks), else the name."""
    out: dict[str, str] = {}
    shorts = results.get("short_name", [None] * len(results))
    for name, short in zip(results["benchmark"], shorts, strict=True):
        if isinstance(name, str) and (name not in out or out[name] == name):
            out[name] = short if isinstance(short, str) and short else name
    taken = [h for h in out.values()]
    # Two benchmarks under one abbreviation (a native one and a bridged one) keep their names.
    return {n: (h if taken.count(h) == 1 else n) for n, h in out.items()}


def column_order(results: Any, wanted: list[str] | None = None) -> list[str]:
    """Benchmark names in table order: ``wanted`` (names or headings) as given, else the
    paper's columns in the paper's order, then the others by name."""
    heads = headings(results)
    names = list(dict.fromkeys(n for n in results["benchmark"] if isinstance(n, str)))
    if wanted:
        by_heading = {h: n for n, h in heads.items()}
        return [by_heading.get(w, w) for w in wanted]
    paper = sorted((n for n in names if heads[n] in PAPER_COLUMNS),
                   key=lambda n: (PAPER_COLUMNS.index(heads[n]), n))
    return paper + sorted(n for n in names if heads[n] not in PAPER_COLUMNS)


def table_values(results: Any, column: str) -> Any:
    """``results[column]`` as numbers, on the tables' scale (BLEU 0–1)."""
    import pandas as pd

    values = pd.to_numeric(results[column], errors="coerce")
    if column in SCALED_COLUMNS:
        factor = results["metric"].map(lambda m: TABLE_SCALE.get(m, 1.0) if isinstance(m, str) else 1.0)
        values = values * factor.astype(float)
    return values


def pivot(inputs: AnalysisInputs, column: str, config: PivotConfig, *,
          by_name: bool = False) -> Any:
    """``run`` × benchmark table of one results column (a ``run`` column first), each
    benchmark headed by its abbreviation (its name with ``by_name``), BLEU on 0–1."""
    results = inputs.results
    runs = config.runs or list(dict.fromkeys(results["run"]))
    benches = column_order(results, config.benchmarks)
    table = (results.assign(__v=table_values(results, column))
             .pivot_table(index="run", columns="benchmark", values="__v", aggfunc="mean", dropna=False)
             .reindex(index=runs, columns=benches))
    table.columns.name = None
    if not by_name:
        heads = headings(results)
        table.columns = [heads.get(b, b) for b in table.columns]
    return table.reset_index()


def with_intervals(inputs: AnalysisInputs, config: PivotConfig, precision: int = 3) -> Any:
    """The reported scores as text cells ``score [lo, hi]`` (95 % bootstrap interval), each
    benchmark column headed ``abbreviation (metric)``; BLEU on 0–1."""
    score, lo, hi = (pivot(inputs, c, config, by_name=True) for c in ("score", "ci95_lo", "ci95_hi"))
    metrics = inputs.results.dropna(subset=["benchmark"]).groupby("benchmark")["metric"].first()
    heads = headings(inputs.results)
    table = score[["run"]].copy()
    for bench in score.columns[1:]:
        def cell(s: float, a: float, b: float) -> str:
            if s != s:
                return ""
            text = f"{s:.{precision}f}"
            return text + (f" [{a:.{precision}f}, {b:.{precision}f}]" if a == a and b == b else "")
        metric = metrics.get(bench)
        if metric in TABLE_SCALE:
            metric = f"{metric} 0–1"
        head = heads.get(bench, str(bench))
        header = f"{head} ({metric})" if isinstance(metric, str) and metric else head
        table[header] = [cell(*v) for v in zip(score[bench], lo[bench], hi[bench])]
    return table


def mean_row(table: Any, label: str = "mean") -> Any:
    """``table`` with a last row holding each column's mean."""
    import pandas as pd

    means = table.drop(columns=["run"]).mean(numeric_only=True)
    return pd.concat([table, pd.DataFrame([{"run": label, **means.to_dict()}])], ignore_index=True)


def score_vs_failure_figure(results: Any) -> bytes:
    """One panel per benchmark: score (y) against failure rate (x), a labelled point per run."""
    import math

    import pandas as pd

    plt = pyplot()
    benches = column_order(results)
    heads = headings(results)
    cols = min(4, max(1, len(benches)))
    rows = math.ceil(len(benches) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(benches):]:
        ax.axis("off")
    for ax, bench in zip(axes.flat, benches):
        part = results[results["benchmark"] == bench]
        x = pd.to_numeric(part["failure_rate"], errors="coerce")
        y, lo, hi = (table_values(part, c) for c in ("score", "ci95_lo", "ci95_hi"))
        err = [(y - lo).clip(lower=0).fillna(0), (hi - y).clip(lower=0).fillna(0)]
        ax.errorbar(x, y, yerr=err, fmt="o", ms=4, capsize=2, color="tab:blue")
        # Runs on the same spot share one label; labels alternate sides so neighbours do not collide.
        spots: dict[tuple[float, float], list[str]] = {}
        for xi, yi, run in zip(x, y, part["run"]):
            if xi == xi and yi == yi:
                spots.setdefault((round(float(xi), 3), round(float(yi), 3)), []).append(str(run))
        for i, ((xi, yi), runs) in enumerate(sorted(spots.items())):
            ax.annotate(", ".join(runs), (xi, yi), fontsize=7, textcoords="offset points",
                        xytext=(4, 4 if i % 2 == 0 else -10), ha="left")
        ax.set_title(heads.get(bench, str(bench)), fontsize=9)
        ax.set_xlabel("failure rate (per sample)", fontsize=8)
        ax.set_ylabel("score", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("Score vs reasoning failure rate")
    fig.tight_layout()
    return figure_png(fig)


class Scores(Analysis[PivotConfig]):
    """Benchmark scores per run (the reference study's Table 2)."""

    name = "scores"
    description = "Table-2-style scores across runs, with score-vs-failure-rate plots"
    config_model = PivotConfig

    def run(self, config: PivotConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        config = config or PivotConfig()
        column = "score" if config.policy == "reported" else f"score_{config.policy}"
        table = pivot(inputs, column, config)
        tables = {"scores": table}
        if config.policy == "reported":
            tables["scores_with_ci"] = with_intervals(inputs, config)
        policies = {p: pivot(inputs, f"score_{p}", config) for p in ("trace", "empty", "whole")}
        for policy, frame in policies.items():
            if frame.drop(columns=["run"]).notna().any().any():
                tables[f"scores_{policy}"] = frame
        best = {}
        for bench in table.columns[1:]:
            column_values = table[bench]
            if column_values.notna().any():
                top = table.loc[column_values == column_values.max(), "run"].astype(str).tolist()
                best[bench] = top[0] if len(top) == 1 else f"tie ({', '.join(top)})"
        lines = [f"Scores ({config.policy}) of {len(table)} run(s) on {len(table.columns) - 1} "
                 f"benchmark(s)."]
        if (inputs.results["metric"] == "bleu").any():
            lines.append("BLEU is on 0–1 in the tables (results.json keeps sacrebleu's 0–100).")
        if best:
            lines.append("Best run per benchmark: " + ", ".join(f"{b} {r}" for b, r in best.items()) + ".")
        figures = {}
        if not inputs.results.empty:
            figures["score_vs_failure"] = score_vs_failure_figure(inputs.results)
        # Table 2 shows the intervals when there are any (the reported policy), else the scores.
        table2 = "scores_with_ci" if "scores_with_ci" in tables else "scores"
        sections = [ReportSection("Table 2 · Scores (metric per benchmark; 95 % bootstrap interval in brackets)",
                                  table=table2, order=20, summary=True)]
        return AnalysisOutput(summary="\n".join(lines), tables=tables, figures=figures,
                              data={"best": best, "policy": config.policy}, sections=sections)


@hookimpl
def register_analyses(register):
    register(Scores())
