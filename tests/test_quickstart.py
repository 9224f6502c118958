"""The study machinery (jre.study) and the offline quickstart's CI grid, end to end."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_jre
from jre.errors import UserError
from jre.study import mean_factors, selected_experiments, set_dotted, toml_dumps

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart.toml"


def test_dotted_overrides_reach_tables_lists_and_bare_plugin_names():
    data = {"synth": {"datasets": {"en": {"teacher": "arith"}}},
            "mix": {"components": [{"name": "a", "count": 1}]}}
    set_dotted(data, "synth.datasets.en.teacher.style", "verbose", "r.toml")
    set_dotted(data, "mix.components.0.count", 5, "r.toml")
    set_dotted(data, "train.epochs", 2, "r.toml")
    assert data["synth"]["datasets"]["en"]["teacher"] == {"name": "arith", "style": "verbose"}
    assert data["mix"]["components"][0] == {"name": "a", "count": 5}
    assert data["train"] == {"epochs": 2}
    with pytest.raises(UserError, match="past the end"):
        set_dotted(data, "mix.components.3.count", 1, "r.toml")
    with pytest.raises(UserError, match="is a value, not a table"):
        set_dotted(data, "train.epochs.x", 1, "r.toml")


def test_toml_round_trip_and_mixed_factors():
    data = {"name": "x", "factors": {"a": 0.5}, "mix": {"name": "composition", "components": [
        {"name": "c", "count": 2, "sources": {"en": "c_en"}}, {"name": "v", "count": 3}]},
            "eval": {"engine": {"name": "hf"}, "benchmarks": [{"name": "arith_en", "count": 2}]}}
    assert tomllib.loads(toml_dumps(data)) == data
    assert mean_factors([{"v": 0, "t": 1, "s": "x"}, {"v": 1, "t": 1}]) == {"v": 0.5, "t": 1.0, "s": "x"}


def test_quickstart_recipe_declares_a_grid_of_at_least_six(monkeypatch):
    from jre.recipe import load_recipe

    recipe = load_recipe(QUICKSTART)
    assert len(recipe.study.experiments) >= 6
    monkeypatch.delenv("JRE_QUICKSTART", raising=False)
    assert selected_experiments(recipe.study, "q")[0] is None
    monkeypatch.setenv("JRE_QUICKSTART", "ci")
    grid, names = selected_experiments(recipe.study, "q")
    assert grid == "ci" and len(names) >= 4
    monkeypatch.setenv("JRE_QUICKSTART", "nope")
    with pytest.raises(UserError, match="no grid 'nope'"):
        selected_experiments(recipe.study, "q")


@pytest.mark.timeout(420)
def test_quickstart_ci_grid_end_to_end(tmp_path):
    run_dir = tmp_path / "qs"
    result = run_jre("run", str(QUICKSTART), "--run-dir", str(run_dir),
                     env={"JRE_QUICKSTART": "ci"}, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    report = run_dir / "report" / "report.html"
    assert f"report: {report}" in result.stdout
    recipe = tomllib.loads(QUICKSTART.read_text())
    names = recipe["study"]["grids"]["ci"]["experiments"]
    for name in names:
        folder = run_dir / "grids" / "ci" / name
        copy = tomllib.loads((folder / "recipe.toml").read_text())
        assert copy["factors"] == recipe["study"]["experiments"][name]["factors"]
        assert (folder / "train" / "model" / "config.json").exists()
        for bench in ("arith_en", "arith_ja"):
            data = json.loads((folder / "eval" / bench / "results.json").read_text())
            assert data["n_items"] == 8 and 0 <= data["failure_rate"] <= 1
        # MT-Bench's path: two turns per question, each graded by the offline judge.
        mtb = json.loads((folder / "eval" / "mt_bench_en" / "results.json").read_text())
        assert mtb["n_items"] == 2 and mtb["judge"]["judgments"] == 4
        assert mtb["judge"]["engine"]["name"] == "rubric_judge" and mtb["judge"]["failures"] == 0
        assert 0.1 <= mtb["score"] <= 1 and set(mtb["scores_by_category"]) == {"math"}
    assert "expected time: about 7.5 minutes" in result.stderr.split("study: building")[0]
    # Identical synthesis is computed once for the whole study (four datasets, not 4 × 4).
    assert len({(run_dir / "grids" / "ci" / n / "synth").resolve() for n in names}) == 1
    assert len(re.findall(r"synth \w+: [\d,]+ instructions × 1 → 0 done", result.stderr)) == 4, result.stderr[-3000:]
    assert len({(run_dir / "grids" / "ci" / n / "train").resolve() for n in names}) == len(names)
    notrace = pd.read_parquet(run_dir / "grids" / "ci" / "notrace" / "mix" / "dataset")
    assert notrace["reasoning"].isna().all()
    english = pd.read_parquet(run_dir / "grids" / "ci" / "english" / "mix" / "dataset")
    assert set(english["lang_in"]) == {"en"}

    factors = pd.read_csv(run_dir / "analyze" / "aicc" / "inputs" / "factors.csv")
    assert list(factors["run"]) == names
    candidates = pd.read_csv(run_dir / "analyze" / "aicc" / "tables" / "candidates.csv")
    assert len(candidates) == 3 * 15  # arith_en, arith_ja, mt_bench_en
    lengths = pd.read_csv(run_dir / "analyze" / "lengths" / "tables" / "lengths.csv").set_index("dataset")
    assert lengths.loc["verbose/mix", "mean_tokens"] > lengths.loc["concise/mix", "mean_tokens"]
    assert lengths.loc["notrace/mix", "share_with_trace"] == 0
    ppl = pd.read_csv(run_dir / "analyze" / "ppl" / "tables" / "ppl.csv")
    assert (ppl["ppl"] > 1).all() and len(ppl) == len(names)
    page = report.read_text()
    for heading in ("Table 1", "Table 2", "Table 3", "Table 4", "length (tokens)", "PPL"):
        assert heading in page
    # The findings open the report: one sentence per one-factor pair and benchmark.
    assert page.index("<h2>Findings</h2>") < page.index("<h2>Experiments</h2>")
    contrasts = pd.read_csv(run_dir / "analyze" / "findings" / "tables" / "contrasts.csv")
    assert set(zip(contrasts["factor"], contrasts["run_from"], contrasts["run_to"])) == {
        ("verbose", "concise", "verbose"), ("trace", "notrace", "concise"), ("ja_share", "english", "concise")}
    assert "trace 0 → 1 (notrace → concise) on arith_en: score" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 2
