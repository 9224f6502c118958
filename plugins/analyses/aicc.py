"""``aicc``: best-subset OLS regression of a per-benchmark outcome on experiment factors.

Appendix D of the reference study: for each benchmark the failure rate (or any other
results column) is regressed, with an intercept, on every non-empty subset of the chosen
factors; each candidate gets AICc = AIC + 2k(k+1)/(n−k−1) with AIC = −2 log L + 2k, and the
candidate with the lowest AICc is reported with its coefficients, signs, p-values (marked
``*``/``**``/``***`` at 10 % / 5 % / 2.5 %) and R². ``k`` counts the estimated regression
coefficients including the intercept; ``count_variance = true`` adds the error variance as
one more parameter. Candidates with n−k−1 ≤ 0, a rank-deficient design, a constant outcome or a zero-residual
fit are listed as not estimable (with the reason) rather than dropped.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.errors import UserError
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection, factor_matrix, figure_png, pyplot
from jre.plugins.analyses._measured import measure


class AiccConfig(StrictModel):
    """Options of the ``aicc`` analysis."""

    target: str = "failure_rate"  # any numeric column of the results table
    factors: list[str] | None = None  # default: every numeric factor
    benchmarks: list[str] | None = None  # default: every benchmark in the results
    exclude: list[str] = Field(default_factory=list)  # run ids left out (the paper: "8")
    count_variance: bool = False
    levels: tuple[float, float, float] = (0.10, 0.05, 0.025)  # *, **, ***
    max_factors: int | None = Field(default=None, ge=1)
    # Factors measured on each run's own mix (under the base model) instead of the values
    # declared in the recipes, e.g. ["ppl", "length_k"]; rows of `measured_domain` only.
    measured: list[str] = Field(default_factory=list)
    measured_domain: str = "stem"
    measured_examples: int | None = Field(default=1000, ge=1)


def stars(p: float | None, levels: tuple[float, float, float] = (0.10, 0.05, 0.025)) -> str:
    """``***`` below the smallest level, ``**``, ``*``, else empty."""
    if p is None or math.isnan(p):
        return ""
    marks = ""
    for level, mark in zip(levels, ("*", "**", "***")):
        if p < level:
            marks = mark
    return marks


def aicc_value(llf: float, k: int, n: int) -> float:
    """AICc = −2 log L + 2k + 2k(k+1)/(n−k−1); NaN when n−k−1 ≤ 0."""
    if n - k - 1 <= 0:
        return float("nan")
    return -2.0 * llf + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)


TIE = 1e-9  # AICc values closer than this are a tie


def ranked(fits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Estimable candidates best first: lowest AICc; a tie goes to fewer factors, then to
    the earlier subset (the factors' order in the recipe)."""
    order = {id(f): i for i, f in enumerate(fits)}
    return sorted((f for f in fits if f["estimable"]),
                  key=lambda f: (round(f["aicc"] / TIE) * TIE if math.isfinite(f["aicc"]) else math.inf,
                                 len(f["factors"]), order[id(f)]))


def fit_subsets(y: Any, X: Any, *, count_variance: bool = False,
                max_factors: int | None = None) -> list[dict[str, Any]]:
    """Fit ``y ~ 1 + subset`` by OLS for every non-empty subset of ``X``'s columns.

    Returns one dict per candidate (``factors``, ``k``, ``n``, ``estimable``, ``aicc``,
    ``aic``, ``llf``, ``r2``, ``params``, ``bse`` (standard errors), ``pvalues``), in subset
    order.
    """
    import numpy as np
    import statsmodels.api as sm

    names = list(X.columns)
    n = int(len(y))
    constant = n > 0 and float(np.ptp(y.astype(float).to_numpy())) == 0.0
    top = min(len(names), max_factors or len(names))
    out: list[dict[str, Any]] = []
    for size in range(1, top + 1):
        for subset in itertools.combinations(names, size):
            k = size + 1 + (1 if count_variance else 0)
            row: dict[str, Any] = {"factors": list(subset), "k": k, "n": n, "estimable": False,
                                   "reason": "", "aicc": float("nan"), "aic": float("nan"),
                                   "llf": float("nan"), "r2": float("nan"), "params": {},
                                   "bse": {}, "pvalues": {}}
            design = sm.add_constant(X[list(subset)].astype(float), has_constant="add")
            if n - k - 1 <= 0:
                row["reason"] = f"n-k-1 = {n - k - 1} <= 0"
            elif constant:
                row["reason"] = "constant outcome"
            elif np.linalg.matrix_rank(design.to_numpy()) < design.shape[1]:
                row["reason"] = "collinear factors"
            else:
                fit = sm.OLS(y.astype(float).to_numpy(), design).fit()
                if float(fit.ssr) <= 1e-12 * float(fit.centered_tss):
                    # log L is +inf: AICc cannot rank a fit that leaves no residual.
                    row["reason"] = "perfect fit (zero residuals)"
                    out.append(row)
                    continue
                row.update(estimable=True, llf=float(fit.llf), r2=float(fit.rsquared),
                           aic=-2.0 * fit.llf + 2.0 * k, aicc=aicc_value(float(fit.llf), k, n),
                           params={str(c): float(v) for c, v in fit.params.items()},
                           bse={str(c): float(v) for c, v in fit.bse.items()},
                           pvalues={str(c): float(v) for c, v in fit.pvalues.items()})
            out.append(row)
    return out


class Aicc(Analysis[AiccConfig]):
    """Which experiment factors best explain each benchmark's failure rate (AICc selection)."""

    name = "aicc"
    description = "best-subset OLS of failure rate (or a score) on experiment factors by AICc"
    config_model = AiccConfig

    def run(self, config: AiccConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd

        config = config or AiccConfig()
        table = inputs.factors
        if config.measured:
            table = measure(inputs, config.measured, domain=config.measured_domain,
                            limit=config.measured_examples)
        factors = factor_matrix(table)
        chosen = config.factors or list(factors.columns)
        missing = [f for f in chosen if f not in factors.columns]
        if missing:
            raise UserError(f"unknown or non-numeric factor(s) {', '.join(missing)}; "
                            f"factors: {', '.join(factors.columns) or '(none)'}",
                            field="analyze.aicc.factors")
        if not chosen:
            raise UserError("no numeric factors to regress on (declare `factors` in the recipes "
                            "or give a factor CSV)", field="analyze.aicc.factors")
        results = inputs.results
        if config.target not in results.columns:
            raise UserError(f"no results column {config.target!r}", field="analyze.aicc.target")
        excluded = {str(e) for e in config.exclude}
        benchmarks = config.benchmarks or list(dict.fromkeys(results["benchmark"].dropna()))
        candidates, selected, coefficients = [], [], []
        for bench in benchmarks:
            rows = results[(results["benchmark"] == bench) & ~results["run"].isin(excluded)]
            y = pd.to_numeric(rows.set_index("run")[config.target], errors="coerce")
            data = factors.loc[factors.index.isin(y.index), chosen].join(y.rename("__y"), how="inner")
            data = data.dropna()
            fits = fit_subsets(data["__y"], data[chosen], count_variance=config.count_variance,
                               max_factors=config.max_factors)
            ranking = ranked(fits)
            best = ranking[0] if ranking else None
            runner_up = ranking[1] if len(ranking) > 1 else None
            for fit in fits:
                candidates.append({
                    "benchmark": bench, "factors": " + ".join(fit["factors"]), "k": fit["k"],
                    "n": fit["n"], "estimable": fit["estimable"], "reason": fit["reason"],
                    "aicc": fit["aicc"], "aic": fit["aic"], "r2": fit["r2"],
                    "selected": fit is best})
            entry: dict[str, Any] = {"benchmark": bench, "n": len(data),
                                     "mean": float(data["__y"].mean()) if len(data) else None,
                                     "factors": best["factors"] if best else None,
                                     "k": best["k"] if best else None,
                                     "aicc": best["aicc"] if best else None,
                                     "r2": best["r2"] if best else None,
                                     "runner_up": " + ".join(runner_up["factors"]) if runner_up else None,
                                     "runner_up_aicc": runner_up["aicc"] if runner_up else None,
                                     "tie": bool(runner_up and best and abs(runner_up["aicc"] - best["aicc"]) < TIE)}
            for name in chosen:
                entry[name] = ""
            if best:
                for name in best["factors"]:
                    coef, p = best["params"][name], best["pvalues"][name]
                    entry[name] = ("+" if coef >= 0 else "-") + stars(p, config.levels)
                    coefficients.append({"benchmark": bench, "factor": name, "coef": coef,
                                         "se": best["bse"][name], "sign": "+" if coef >= 0 else "-",
                                         "p": p, "marks": stars(p, config.levels)})
                coefficients.append({"benchmark": bench, "factor": "intercept",
                                     "coef": best["params"]["const"], "se": best["bse"]["const"],
                                     "sign": "", "p": best["pvalues"]["const"], "marks": ""})
            selected.append(entry)
        selection = pd.DataFrame(selected)
        k_rule = ("k = coefficients incl. intercept + 1 (error variance)" if config.count_variance
                  else "k = coefficients incl. intercept (error variance not counted)")
        summary = self._summary(selection, chosen, config, excluded, k_rule)
        table4 = self._table4(selection, chosen)
        figures = {"aicc_selection": self._figure(pd.DataFrame(coefficients), chosen)} if coefficients else {}
        return AnalysisOutput(
            summary=summary,
            tables={"selection": table4, "coefficients": pd.DataFrame(
                coefficients, columns=["benchmark", "factor", "coef", "se", "sign", "p", "marks"]),
                    "candidates": pd.DataFrame(candidates)},
            figures=figures,
            sections=[ReportSection("Table 4 · AICc selection of experiment factors", table="selection",
                                    order=40, summary=True),
                      ReportSection("Table 4b · Coefficients of the selected models (standard errors, p-values)",
                                    table="coefficients", order=41),
                      ReportSection("AICc · all candidate models", table="candidates", order=90)],
            data={"k_rule": k_rule, "count_variance": config.count_variance,
                  "target": config.target, "factors": chosen, "excluded": sorted(excluded),
                  "measured": list(config.measured),
                  "factor_values": {str(k): v for k, v in factors[chosen].to_dict("index").items()},
                  "levels": list(config.levels),
                  "selection": [{k: v for k, v in row.items()} for row in selected]})

    @staticmethod
    def _table4(selection: Any, chosen: list[str]) -> Any:
        """Table-4 layout: one row per benchmark with mean, a mark per factor, and the fit:
        n, k, R², AICc, and the runner-up candidate with its AICc."""
        import pandas as pd

        columns = ["benchmark", "n", "mean", *chosen, "k", "r2", "aicc", "runner_up", "runner_up_aicc"]
        if selection.empty:
            return pd.DataFrame(columns=columns)
        return selection[columns].copy()

    @staticmethod
    def _summary(selection: Any, chosen: list[str], config: AiccConfig, excluded: set[str],
                 k_rule: str) -> str:
        lines = [f"AICc best-subset regression of `{config.target}` on "
                 f"{', '.join(chosen)} ({k_rule}; marks: * p<{config.levels[0]}, "
                 f"** p<{config.levels[1]}, *** p<{config.levels[2]})."]
        if excluded:
            lines.append(f"Excluded runs: {', '.join(sorted(excluded))}.")
        for row in selection.to_dict("records"):
            if row["factors"] is None:
                lines.append(f"- {row['benchmark']}: no estimable candidate (n={row['n']})")
            else:
                marks = ", ".join(f"{f} {row[f]}" for f in row["factors"])
                versus = ""
                if row["runner_up"]:
                    gap = row["runner_up_aicc"] - row["aicc"]
                    versus = (f"; tied with {row['runner_up']} (kept: fewer factors, then recipe order)"
                              if row["tie"] else f"; runner-up {row['runner_up']} ΔAICc={gap:.2f}")
                lines.append(f"- {row['benchmark']}: {marks} (R²={row['r2']:.2f}, n={row['n']}, "
                             f"k={row['k']}{versus})")
        return "\n".join(lines)

    @staticmethod
    def _figure(coefficients: Any, chosen: list[str]) -> bytes:
        """Heat map of signed -log10 p of the selected factors per benchmark."""
        import numpy as np

        plt = pyplot()
        coef = coefficients[coefficients["factor"] != "intercept"]
        benches = list(dict.fromkeys(coefficients["benchmark"]))
        grid = np.zeros((len(chosen), len(benches)))
        for row in coef.itertuples(index=False):
            value = -math.log10(max(row.p, 1e-12)) if row.p == row.p else 0.0
            grid[chosen.index(row.factor), benches.index(row.benchmark)] = value * (1 if row.coef >= 0 else -1)
        fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(benches), 1.0 + 0.5 * len(chosen)))
        bound = max(1.0, float(np.abs(grid).max()))
        image = ax.imshow(grid, cmap="coolwarm", vmin=-bound, vmax=bound, aspect="auto")
        ax.set_xticks(range(len(benches)), benches, rotation=45, ha="right")
        ax.set_yticks(range(len(chosen)), chosen)
        for row in coef.itertuples(index=False):
            ax.text(benches.index(row.benchmark), chosen.index(row.factor),
                    row.sign + row.marks, ha="center", va="center", fontsize=9)
        fig.colorbar(image, ax=ax, label="sign × −log10 p")
        ax.set_title("AICc-selected factors")
        return figure_png(fig)


@hookimpl
def register_analyses(register):
    register(Aicc())
