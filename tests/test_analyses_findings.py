"""findings: plain-words effects of one-factor pairs, on the fixture run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from jre.kinds.analysis import AnalysisInputs
from jre.plugin_manager import get_plugins
from jre.plugins.analyses.findings import one_factor_pairs
from jre.stages.analyze import gather_inputs

RUNS = Path(__file__).parent / "fixtures" / "analysis" / "experiments"
NAMES = ["concise", "verbose", "notrace", "english"]


@pytest.fixture(scope="module")
def inputs() -> AnalysisInputs:
    return gather_inputs({name: RUNS / name for name in NAMES})


def _run(name: str, inputs: AnalysisInputs, options: dict | None = None):
    plugin = get_plugins().get("analysis", name)
    return plugin.run(plugin.parse_config(options or {}), inputs)


def test_pairs_differ_in_exactly_one_averaged_factor():
    factors = pd.DataFrame([
        {"run": "a", "verbose": 0, "size": 100},
        {"run": "b", "verbose": 1, "size": 100},
        {"run": "c", "verbose": 1, "size": 200},   # differs from a in two factors
        {"run": "m", "verbose": 0, "size": 100},   # mixed: averages to verbose 0.5, size 100
        {"run": "m", "verbose": 1, "size": 100},
    ])
    assert one_factor_pairs(factors) == [("verbose", "a", "b"), ("verbose", "a", "m"),
                                         ("verbose", "m", "b"), ("size", "b", "c")]
    # Restricted to size, pairs must still agree on verbose: only b and c qualify.
    assert one_factor_pairs(factors, ["size"]) == [("size", "b", "c")]


def test_contrasts_carry_the_runs_scores_and_the_paired_bootstrap(inputs):
    out = _run("findings", inputs)
    table = out.tables["contrasts"]
    assert set(zip(table["factor"], table["run_from"], table["run_to"])) == {
        ("verbose", "concise", "verbose"), ("trace", "notrace", "concise"), ("ja_share", "english", "concise")}
    for row in table.to_dict("records"):
        for side in ("from", "to"):
            results = json.loads((RUNS / row[f"run_{side}"] / "eval" / row["benchmark"] / "results.json").read_text())
            assert row[f"score_{side}"] == pytest.approx(results["score"])
            assert row[f"failure_{side}"] == pytest.approx(results["failure_rate"])
    # "Beyond chance" is compare's paired bootstrap interval of the same pair.
    compare = _run("compare", inputs, {"pairs": ["concise vs notrace", "verbose vs concise"]}).tables["deltas"]
    for (a, b), bench in [(("concise", "notrace"), "arith_en"), (("concise", "notrace"), "arith_ja"),
                          (("verbose", "concise"), "arith_ja")]:
        mine = table[(table.run_to == a) & (table.run_from == b) & (table.benchmark == bench)].iloc[0]
        theirs = compare[(compare.a == a) & (compare.b == b) & (compare.benchmark == bench)].iloc[0]
        assert (mine["ci95_lo"], mine["ci95_hi"]) == pytest.approx((theirs["ci95_lo"], theirs["ci95_hi"]))
        assert mine["beyond_chance"] == theirs["significant"]


def test_summary_says_what_moved_in_plain_words(inputs):
    lines = _run("findings", inputs).data["findings"]
    notrace = _run("scores", inputs).tables["scores"].set_index("run")
    best_en = notrace.drop(index="mean", errors="ignore")["arith_en"].astype(float).idxmax()
    assert lines[0] == ("In short: changing trace (notrace → concise) moved the score most (+0.292 on arith_en); "
                        "changing verbose (concise → verbose) moved the share of unclosed traces most "
                        "(+38 points on arith_ja).")
    assert lines[1].startswith(f"- arith_en: best {best_en} (")
    assert "worst notrace" in lines[1] and "most unclosed traces: verbose (25 % of outputs)" in lines[1]
    trace_en = next(line for line in lines if line.startswith("- trace 0 → 1 (notrace → concise) on arith_en"))
    assert "score rose 0.333 → 0.625 (beyond chance" in trace_en and "unclosed traces 0 % → 4 %" in trace_en
    verbose_ja = next(line for line in lines if line.startswith("- verbose 0 → 1 (concise → verbose) on arith_ja"))
    assert "score fell 0.458 → 0.375 (within chance)" in verbose_ja and "8 % → 46 %" in verbose_ja
    assert any("score stayed at 0.625" in line for line in lines)


def test_without_details_it_makes_no_claim_about_chance(inputs):
    bare = AnalysisInputs(results=inputs.results.assign(details=None), factors=inputs.factors)
    out = _run("findings", bare, {"benchmarks": ["arith_en"], "factors": ["trace"]})
    assert list(out.tables["contrasts"]["beyond_chance"]) == [None]
    assert "score rose 0.333 → 0.625;" in out.summary
    assert "chance" not in out.summary.split("\n", 1)[1]  # only the lead speaks of it, for failures


def test_failure_moves_are_weighed_like_statsmodels_two_proportion_test():
    from statsmodels.stats.proportion import proportions_ztest

    from jre.plugins.analyses.findings import _proportion_z

    for (k1, n1), (k2, n2) in [((1, 24), (11, 24)), ((0, 32), (10, 32)), ((3, 8), (1, 2)), ((5, 40), (9, 30))]:
        z, _ = proportions_ztest([k2, k1], [n2, n1])
        assert _proportion_z(k1 / n1, n1, k2 / n2, n2) == pytest.approx(z)
    assert _proportion_z(0.0, 10, 0.0, 10) is None and _proportion_z(None, 10, 0.5, 10) is None


def test_a_tiny_benchmark_cannot_lead(inputs):
    # Two samples per run: a 0 → 100 % swing in unclosed traces is not beyond chance.
    tiny = inputs.results.copy()
    tiny.loc[tiny.benchmark == "arith_ja", "n_samples"] = 2
    tiny.loc[(tiny.benchmark == "arith_ja") & (tiny.run == "verbose"), "failure_rate"] = 1.0
    out = _run("findings", AnalysisInputs(results=tiny, factors=inputs.factors))
    assert "unclosed traces most (+21 points on arith_en)" in out.data["findings"][0]


def test_no_one_factor_pair_is_said_so(inputs):
    factors = pd.DataFrame([{"run": "concise", "a": 0, "b": 0}, {"run": "verbose", "a": 1, "b": 1}])
    out = _run("findings", AnalysisInputs(results=inputs.results, factors=factors))
    assert out.tables["contrasts"].empty
    assert "No two experiments differ in exactly one factor" in out.summary
    assert out.sections[0].heading == "Findings" and out.sections[0].summary
