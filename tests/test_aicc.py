"""The ``aicc`` analysis: best-subset selection, AICc arithmetic, exclusions, mixed runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jre.errors import UserError
from jre.kinds.analysis import AnalysisInputs, factor_matrix
from jre.plugin_manager import get_plugins
from jre.plugins.analyses.aicc import aicc_value, fit_subsets, stars


def _inputs(factors: pd.DataFrame, y: dict[str, float], bench: str = "b") -> AnalysisInputs:
    rows = [{"run": run, "benchmark": bench, "failure_rate": value, "score": 1 - value}
            for run, value in y.items()]
    return AnalysisInputs(results=pd.DataFrame(rows), factors=factors)


def _known_table(n: int = 14, seed: int = 3) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(seed)
    runs = [str(i) for i in range(1, n + 1)]
    frame = pd.DataFrame({"run": runs, "a": rng.uniform(0, 1, n), "b": rng.integers(0, 2, n),
                          "c": rng.uniform(1, 3, n), "d": rng.normal(0, 1, n)})
    # y depends on a (up) and c (down) only, with small noise.
    y = 0.2 + 0.5 * frame["a"] - 0.3 * frame["c"] + rng.normal(0, 0.01, n)
    return frame, dict(zip(runs, y))


def test_known_subset_wins_and_aicc_matches_formula():
    frame, y = _known_table()
    analysis = get_plugins().get("analysis", "aicc")
    out = analysis.run(analysis.parse_config({}), _inputs(frame, y))
    selection = out.data["selection"][0]
    assert sorted(selection["factors"]) == ["a", "c"]
    table = out.tables["selection"]
    assert table.loc[0, "a"].startswith("+***") or table.loc[0, "a"] == "+***"
    assert table.loc[0, "c"] == "-***"
    assert table.loc[0, "b"] == "" and table.loc[0, "d"] == ""
    candidates = out.tables["candidates"]
    assert len(candidates) == 15 and candidates["selected"].sum() == 1

    # Every candidate's AICc equals the closed form from its own OLS residuals.
    n = len(frame)
    for row in candidates.itertuples(index=False):
        cols = row.factors.split(" + ")
        X = np.column_stack([np.ones(n), frame[cols].to_numpy(float)])
        yy = np.array([y[r] for r in frame["run"]])
        beta, *_ = np.linalg.lstsq(X, yy, rcond=None)
        rss = float(((yy - X @ beta) ** 2).sum())
        llf = -n / 2 * (math.log(2 * math.pi) + math.log(rss / n) + 1)
        k = len(cols) + 1
        expected = -2 * llf + 2 * k + 2 * k * (k + 1) / (n - k - 1)
        assert row.k == k
        assert row.aicc == pytest.approx(expected, rel=1e-9)
        assert row.aicc == pytest.approx(aicc_value(llf, k, n), rel=1e-9)
    assert "error variance not counted" in out.data["k_rule"]


def test_count_variance_adds_one_parameter():
    frame, y = _known_table()
    analysis = get_plugins().get("analysis", "aicc")
    plain = analysis.run(analysis.parse_config({}), _inputs(frame, y)).tables["candidates"]
    counted = analysis.run(analysis.parse_config({"count_variance": True}), _inputs(frame, y))
    both = counted.tables["candidates"]
    assert (both["k"] == plain["k"] + 1).all()
    assert (both["aicc"] > plain["aicc"]).all()
    assert "+ 1 (error variance)" in counted.data["k_rule"]


def test_small_n_subsets_are_reported_not_estimable():
    frame, y = _known_table(n=5)
    analysis = get_plugins().get("analysis", "aicc")
    out = analysis.run(analysis.parse_config({}), _inputs(frame, y))
    candidates = out.tables["candidates"]
    assert len(candidates) == 15
    # n = 5: k = 4 (3 factors) gives n-k-1 = 0, k = 5 gives -1; k <= 3 is estimable.
    bad = candidates[~candidates["estimable"]]
    assert set(bad["k"]) == {4, 5} and len(bad) == 5
    assert bad["aicc"].isna().all()
    assert bad["reason"].str.contains("n-k-1").all()
    assert candidates[candidates["estimable"]]["aicc"].notna().all()
    assert aicc_value(0.0, 4, 5) != aicc_value(0.0, 4, 5)  # NaN


def test_exclusions_change_n_and_can_flip_the_selection():
    frame, y = _known_table(n=14)
    # An outlier run that only an exclusion removes.
    frame = pd.concat([frame, pd.DataFrame([{"run": "15", "a": 0.5, "b": 1, "c": 2.0, "d": 0.0}])],
                      ignore_index=True)
    y = {**y, "15": 50.0}
    analysis = get_plugins().get("analysis", "aicc")
    kept = analysis.run(analysis.parse_config({}), _inputs(frame, y)).data["selection"][0]
    dropped = analysis.run(analysis.parse_config({"exclude": ["15"]}), _inputs(frame, y))
    assert kept["n"] == 15 and dropped.data["selection"][0]["n"] == 14
    assert sorted(dropped.data["selection"][0]["factors"]) == ["a", "c"]
    assert sorted(kept["factors"]) != ["a", "c"]
    assert dropped.data["excluded"] == ["15"]


def test_mixed_experiment_averages_its_components():
    factors = pd.DataFrame([
        {"run": "1", "chat": 0, "oss": 1, "ppl": 2.74},
        {"run": "10", "chat": 1, "oss": 0, "ppl": 2.00},
        {"run": "10", "chat": 1, "oss": 1, "ppl": 2.40},
    ])
    matrix = factor_matrix(factors)
    assert list(matrix.index) == ["1", "10"]
    assert matrix.loc["10", "oss"] == pytest.approx(0.5)
    assert matrix.loc["10", "ppl"] == pytest.approx(2.20)
    assert matrix.loc["10", "chat"] == 1


def test_collinear_subset_is_not_estimable():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 10)
    X = pd.DataFrame({"x": x, "x2": 2 * x})
    fits = fit_subsets(pd.Series(x + rng.normal(0, 0.01, 10)), X)
    both = [f for f in fits if len(f["factors"]) == 2][0]
    assert not both["estimable"] and both["reason"] == "collinear factors"


def test_stars_and_errors():
    assert [stars(p) for p in (0.2, 0.09, 0.04, 0.02)] == ["", "*", "**", "***"]
    frame, y = _known_table()
    analysis = get_plugins().get("analysis", "aicc")
    with pytest.raises(UserError, match="unknown or non-numeric factor"):
        analysis.run(analysis.parse_config({"factors": ["nope"]}), _inputs(frame, y))


def test_constant_outcome_and_perfect_fit_are_not_estimable():
    frame, _ = _known_table(n=8)
    analysis = get_plugins().get("analysis", "aicc")
    flat = analysis.run(analysis.parse_config({}), _inputs(frame, {r: 0.0 for r in frame["run"]}))
    assert not flat.tables["candidates"]["estimable"].any()
    assert set(flat.tables["candidates"]["reason"]) == {"constant outcome"}
    assert flat.data["selection"][0]["factors"] is None
    assert "no estimable candidate" in flat.summary
    exact = {r: 2.0 * a for r, a in zip(frame["run"], frame["a"])}
    fits = analysis.run(analysis.parse_config({"factors": ["a", "b"]}), _inputs(frame, exact))
    reasons = dict(zip(fits.tables["candidates"]["factors"], fits.tables["candidates"]["reason"]))
    assert reasons["a"] == "perfect fit (zero residuals)"


def test_selection_reports_fit_runner_up_and_standard_errors():
    rng = np.random.default_rng(3)
    runs = [str(i) for i in range(15)]
    frame = pd.DataFrame({"run": runs, "a": rng.normal(size=15), "b": rng.normal(size=15)})
    y = 0.5 + 2.0 * frame["a"] + rng.normal(scale=0.3, size=15)
    analysis = get_plugins().get("analysis", "aicc")
    out = analysis.run(analysis.parse_config({}), _inputs(frame, dict(zip(runs, y))))
    row = out.tables["selection"].iloc[0]
    assert row["k"] == 2 and row["runner_up"] in ("a + b", "b") and row["runner_up_aicc"] > row["aicc"]
    import statsmodels.api as sm
    fit = sm.OLS(y.to_numpy(), sm.add_constant(frame[["a"]])).fit()
    coef = out.tables["coefficients"].set_index("factor")
    assert coef.loc["a", "se"] == pytest.approx(float(fit.bse["a"]))
    assert coef.loc["intercept", "se"] == pytest.approx(float(fit.bse["const"]))
    assert "runner-up" in out.summary and "k=2" in out.summary


def test_ties_go_to_fewer_factors_and_are_said():
    from jre.plugins.analyses.aicc import ranked

    fits = [{"factors": ["a", "b"], "estimable": True, "aicc": 1.0},
            {"factors": ["b"], "estimable": True, "aicc": 1.0 + 1e-12},
            {"factors": ["a"], "estimable": True, "aicc": 1.0}]
    # The tie between the one-factor fits keeps their listed (subset) order.
    assert [f["factors"] for f in ranked(fits)] == [["b"], ["a"], ["a", "b"]]
