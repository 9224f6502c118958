"""``compare``: score and failure-rate deltas between named runs, per benchmark.

The reference study argues by pairs ("experiment 5 vs experiment 4"). For each pair
``A vs B`` and benchmark the delta A − B gets a 95 % interval: a paired bootstrap over the
items both runs answered when both ``details.jsonl`` files are at hand, otherwise the two
runs' own bootstrap intervals from evaluation combined in quadrature (``ci_method`` says
which). Corpus metrics are resampled as corpus metrics: for BLEU (WMT20) each resample
sums the items' sufficient statistics and recomputes BLEU with sacrebleu, rather than
averaging per-item scores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from jre import hookimpl
from jre.errors import UserError
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection, figure_png, pyplot
from jre.store import iter_records


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


BLEU_STATS = 10  # sacrebleu's [hyp_len, ref_len, correct_1..4, total_1..4]


def _is_bleu_stats(score: Any) -> bool:
    return (isinstance(score, list) and len(score) == BLEU_STATS
            and all(isinstance(x, (int, float)) for x in score))


def item_scores(details: Path, metric: str | None = None, policy: str | None = None) -> dict[str, Any]:
    """Per ``item_id`` of an eval ``details.jsonl``: the mean sample score, or for BLEU
    (sample scores are sufficient statistics) the item's summed statistics. A metric dict
    (lm-eval tasks) contributes its ``metric`` entry when that is a number. ``policy``
    picks the score of that answer policy (the one the run's results were reported under)."""
    samples: dict[str, list[Any]] = {}
    for row in iter_records([details]):
        by_policy = row.get("scores_by_policy") or {}
        score = by_policy[policy] if policy in by_policy else row.get("score")
        if isinstance(score, dict):
            score = score.get(metric) if metric else None
        if score is None:
            continue
        if _is_bleu_stats(score) or isinstance(score, (int, float)):
            samples.setdefault(str(row["item_id"]), []).append(score)
        else:
            raise ValueError(f"{details}: sample scores of item {row['item_id']!r} are neither "
                             "numbers nor BLEU statistics")
    out: dict[str, Any] = {}
    for item, values in samples.items():
        if isinstance(values[0], list):
            out[item] = [sum(col) for col in zip(*values)]
        else:
            out[item] = sum(float(v) for v in values) / len(values)
    return out


def corpus_bleu_from_stats(stats: Any) -> float:
    """Corpus BLEU (0-100) from summed sufficient statistics, computed by sacrebleu itself
    (``BLEU.compute_bleu`` with ``BLEU()``'s default exponential smoothing)."""
    from sacrebleu.metrics import BLEU

    stats = [int(x) for x in stats]
    return float(BLEU.compute_bleu(correct=stats[2:6], total=stats[6:10], sys_len=stats[0],
                                   ref_len=stats[1], smooth_method="exp").score)


def bootstrap_p(deltas: Any) -> float:
    """Two-sided bootstrap p-value of a zero delta: twice the smaller tail share at zero."""
    import numpy as np

    deltas = np.asarray(deltas, dtype=float)
    tail = min(float((deltas <= 0).mean()), float((deltas >= 0).mean()))
    return min(1.0, 2.0 * max(tail, 1.0 / len(deltas)))  # never below the resolution 1/B


def paired_bootstrap(a: dict[str, Any], b: dict[str, Any], n: int,
                     seed: int) -> tuple[float, float, float, int, float]:
    """Delta A − B over shared items and its 95 % percentile interval, resampling items.

    Item values are numbers (the metric is their mean) or BLEU statistics (the metric is
    corpus BLEU of the summed statistics, recomputed for every resample). Returns
    ``(delta, lo, hi, n_items, p)`` with the two-sided bootstrap p-value of no difference.
    """
    import numpy as np

    items = sorted(set(a) & set(b))
    if not items:
        return math.nan, math.nan, math.nan, 0, math.nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(items), size=(n, len(items)))
    if isinstance(a[items[0]], list):
        sa = np.array([a[i] for i in items], dtype=np.int64)
        sb = np.array([b[i] for i in items], dtype=np.int64)
        delta = corpus_bleu_from_stats(sa.sum(axis=0)) - corpus_bleu_from_stats(sb.sum(axis=0))
        deltas = np.array([corpus_bleu_from_stats(sa[d].sum(axis=0)) - corpus_bleu_from_stats(sb[d].sum(axis=0))
                           for d in draws])
    else:
        diff = np.array([a[i] - b[i] for i in items])
        delta = float(diff.mean())
        deltas = diff[draws].mean(axis=1)
    return (float(delta), float(np.quantile(deltas, 0.025)), float(np.quantile(deltas, 0.975)), len(items),
            bootstrap_p(deltas))


def paired_from_details(ra: Any, rb: Any, bootstrap: int,
                        seed: int) -> tuple[float, float, float, int, float] | None:
    """:func:`paired_bootstrap` of results rows ``ra`` − ``rb`` over their ``details.jsonl``
    files, or None when either file is missing or the sample scores cannot be paired (a
    metric that is neither a mean of numbers nor BLEU, or runs scored differently)."""
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    da, db = ra.get("details"), rb.get("details")
    if not (isinstance(da, str) and isinstance(db, str) and Path(da).exists() and Path(db).exists()):
        return None
    try:
        a = item_scores(Path(da), text(ra.get("metric")), text(ra.get("answer_policy")))
        b = item_scores(Path(db), text(rb.get("metric")), text(rb.get("answer_policy")))
    except ValueError:
        return None
    shared = set(a) & set(b)
    if not shared or len({isinstance(v, list) for v in [*map(a.get, shared), *map(b.get, shared)]}) != 1:
        return None
    return paired_bootstrap(a, b, bootstrap, seed)


def _normal_p(delta: float, half_width: float) -> float:
    """Two-sided normal p-value of a zero delta whose 95 % half-width is ``half_width``."""
    from scipy.stats import norm

    if not math.isfinite(half_width) or half_width <= 0:
        return math.nan
    return float(2 * norm.sf(abs(delta) / (half_width / 1.959963984540054)))


def _holm(table: Any) -> None:
    """Holm-adjusted p-values over every comparison in ``table`` (statsmodels' multipletests)."""
    from statsmodels.stats.multitest import multipletests

    known = table["p"].notna()
    table["p_holm"] = float("nan")
    table["significant_holm"] = False
    if known.any():
        reject, adjusted, _, _ = multipletests(table.loc[known, "p"].astype(float), alpha=0.05, method="holm")
        table.loc[known, "p_holm"] = adjusted
        table.loc[known, "significant_holm"] = reject


class Compare(Analysis[CompareConfig]):
    """Deltas between runs, per benchmark, with 95 % intervals."""

    name = "compare"
    description = "score / failure-rate deltas between named runs with bootstrap intervals"
    config_model = CompareConfig

    def _pairs(self, config: CompareConfig, runs: list[str]) -> list[tuple[str, str]]:
        if config.pairs:
            # each pair reads "A vs B" (the config's validator checked it)
            pairs = [(a.strip(), b.strip()) for a, b in (pair.split(" vs ") for pair in config.pairs)]
        else:
            base = config.baseline or (runs[0] if runs else "")  # no runs: no pairs
            pairs = [(r, base) for r in runs if r != base]
        for a, b in pairs:
            for run in (a, b):
                if run not in runs:
                    raise UserError(f"no run {run!r} in the results; runs: {', '.join(runs)}",
                                    field="analyze.compare.pairs")
        return pairs

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
                paired = paired_from_details(ra, rb, config.bootstrap, config.seed)
                if paired is not None:
                    delta, lo, hi, n, p = paired
                    row.update(delta=delta, ci95_lo=lo, ci95_hi=hi, n_items=n, p=p,
                               ci_method="paired bootstrap")
                else:
                    delta = float(ra["score"]) - float(rb["score"])
                    half = [abs(float(r["ci95_hi"]) - float(r["ci95_lo"])) / 2
                            if pd.notna(r["ci95_lo"]) and pd.notna(r["ci95_hi"]) else math.nan
                            for r in (ra, rb)]
                    width = math.sqrt(half[0] ** 2 + half[1] ** 2)
                    row.update(delta=delta, ci95_lo=delta - width, ci95_hi=delta + width,
                               n_items=None, p=_normal_p(delta, width),
                               ci_method="run intervals in quadrature")
                fa, fb = pd.to_numeric(pd.Series([ra["failure_rate"], rb["failure_rate"]]),
                                       errors="coerce")
                row["failure_delta"] = fa - fb  # per sample
                qa, qb = pd.to_numeric(pd.Series([ra.get("failure_rate_per_question"),
                                                  rb.get("failure_rate_per_question")]), errors="coerce")
                row["failure_per_question_delta"] = qa - qb
                row["significant"] = bool(row["ci95_lo"] > 0 or row["ci95_hi"] < 0)
                rows.append(row)
        table = pd.DataFrame(rows, columns=["pair", "a", "b", "benchmark", "score_a", "score_b",
                                            "delta", "ci95_lo", "ci95_hi", "n_items", "ci_method",
                                            "failure_delta", "failure_per_question_delta",
                                            "significant", "p", "p_holm", "significant_holm"])
        _holm(table)
        lines = [f"Deltas A − B for {table['pair'].nunique()} pair(s); * marks a 95 % interval "
                 f"that excludes zero, † a difference that stays significant at 5 % after Holm's "
                 f"correction for the {int(table['p'].notna().sum())} comparisons."]
        for row in table.to_dict("records"):
            mark = (" *" if row["significant"] else "") + (" †" if row["significant_holm"] else "")
            lines.append(f"- {row['pair']} on {row['benchmark']}: {row['delta']:+.3f} "
                         f"[{row['ci95_lo']:+.3f}, {row['ci95_hi']:+.3f}], p={row['p']:.3f}, "
                         f"Holm p={row['p_holm']:.3f}{mark}")
        figures = {"deltas": self._figure(table)} if len(table) else {}
        return AnalysisOutput(summary="\n".join(lines), tables={"deltas": table, "summary": self._compact(table)},
                              figures=figures, data={"pairs": list(dict.fromkeys(table["pair"]))},
                              sections=[ReportSection("{analysis} · summary", table="summary", summary=True)])

    @staticmethod
    def _compact(table: Any) -> Any:
        """The report's view of the deltas: one narrow row per pair and benchmark."""
        import pandas as pd

        def fmt(value: Any, pattern: str) -> str:
            return "" if value is None or value != value else pattern.format(value)

        return pd.DataFrame({
            "pair": table["pair"], "benchmark": table["benchmark"],
            "Δ score [95 % CI]": [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in
                                  zip(table["delta"], table["ci95_lo"], table["ci95_hi"])],
            "p": [fmt(p, "{:.3f}") for p in table["p"]],
            "Holm p": [fmt(p, "{:.3f}") for p in table["p_holm"]],
            "sig.": ["†" if h else ("*" if s else "") for s, h in zip(table["significant"], table["significant_holm"])],
            "Δ failure": [fmt(f, "{:+.3f}") for f in table["failure_delta"]],
        }, columns=["pair", "benchmark", "Δ score [95 % CI]", "p", "Holm p", "sig.", "Δ failure"])

    @staticmethod
    def _figure(table: Any) -> bytes:
        """Two panels of grouped bars per benchmark and pair: score delta with its 95 %
        interval (* interval excludes zero, † also after Holm), and failure-rate delta. A zero
        delta shows as a dot on the axis, so no pair silently vanishes."""
        import numpy as np

        plt = pyplot()
        pairs = list(dict.fromkeys(table["pair"]))
        benches = list(dict.fromkeys(table["benchmark"]))
        width = 0.8 / len(pairs)
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True,
                                          figsize=(max(5.0, 1.2 * len(benches) * max(1, len(pairs)) ** 0.5 + 2), 5.6))
        for i, pair in enumerate(pairs):
            part = table[table["pair"] == pair].set_index("benchmark").reindex(benches)
            x = np.arange(len(benches)) + (i - (len(pairs) - 1) / 2) * width
            delta = part["delta"].astype(float).fillna(0)
            err = [(part["delta"] - part["ci95_lo"]).clip(lower=0).fillna(0),
                   (part["ci95_hi"] - part["delta"]).clip(lower=0).fillna(0)]
            bars = top.bar(x, delta, width, yerr=err, capsize=2, label=pair)
            color = bars.patches[0].get_facecolor() if bars.patches else None
            top.scatter(x[delta.to_numpy() == 0], np.zeros(int((delta == 0).sum())), color=color, s=12, zorder=3)
            for xi, hi, sig, holm in zip(x, part["ci95_hi"].astype(float).fillna(0),
                                          part["significant"].fillna(False), part["significant_holm"].fillna(False)):
                if sig:
                    top.annotate("†" if holm else "*", (xi, hi), ha="center", va="bottom", fontsize=9)
            fail = part["failure_delta"].astype(float).fillna(0)
            bottom.bar(x, fail, width, color=color)
            bottom.scatter(x[fail.to_numpy() == 0], np.zeros(int((fail == 0).sum())), color=color, s=12, zorder=3)
        for ax in (top, bottom):
            ax.axhline(0, color="black", lw=0.8)
        top.set_ylabel("score Δ (A − B)")
        bottom.set_ylabel("failure-rate Δ (A − B)")
        bottom.set_xticks(range(len(benches)), benches, rotation=30, ha="right")
        top.set_title("Deltas between runs (* 95 % CI excludes 0; † also after Holm)")
        top.legend(fontsize=7, ncols=2)
        fig.tight_layout()
        return figure_png(fig)


@hookimpl
def register_analyses(register):
    register(Compare())
