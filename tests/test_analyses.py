"""scores, failure_rate, compare, lengths, ppl and the analyze stage, on fixture run folders."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import run_jre
from jre.kinds.analysis import AnalysisInputs
from jre.plugin_manager import get_plugins
from jre.stages.analyze import gather_inputs

RUNS = Path(__file__).parent / "fixtures" / "analysis" / "experiments"
NAMES = ["concise", "verbose", "notrace", "english"]


@pytest.fixture(scope="module")
def inputs() -> AnalysisInputs:
    return gather_inputs({name: RUNS / name for name in NAMES})


def _results(run: str, bench: str) -> dict:
    return json.loads((RUNS / run / "eval" / bench / "results.json").read_text())


def _analysis(name: str, options: dict | None = None):
    plugin = get_plugins().get("analysis", name)
    return plugin, plugin.parse_config(options or {})


def test_gather_reads_results_factors_and_data(inputs):
    assert len(inputs.results) == 8
    assert set(inputs.results["run"]) == set(NAMES)
    assert inputs.factors.set_index("run").loc["verbose", "verbose"] == 1
    assert sorted(inputs.datasets) == sorted(f"{n}/arith" for n in NAMES)
    row = inputs.results[(inputs.results.run == "verbose") & (inputs.results.benchmark == "arith_ja")].iloc[0]
    expected = _results("verbose", "arith_ja")
    assert row["score"] == expected["score"] and row["ci95_lo"] == expected["ci95"][0]
    assert row["score_empty"] == expected["scores_by_policy"]["empty"]
    assert Path(row["details"]).exists()


def test_scores_and_failure_rate_tables(inputs):
    plugin, config = _analysis("scores")
    out = plugin.run(config, inputs)
    table = out.tables["scores"].set_index("run")
    for run in NAMES:
        for bench in ("arith_en", "arith_ja"):
            assert table.loc[run, bench] == pytest.approx(_results(run, bench)["score"])
    assert out.figures["score_vs_failure"].startswith(b"\x89PNG")
    empty = out.tables["scores_empty"].set_index("run")
    assert empty.loc["verbose", "arith_en"] == pytest.approx(
        _results("verbose", "arith_en")["scores_by_policy"]["empty"])

    plugin, config = _analysis("failure_rate", {"benchmarks": ["arith_ja", "arith_en"]})
    out = plugin.run(config, inputs)
    table = out.tables["failure_rate"]
    assert list(table.columns) == ["run", "arith_ja", "arith_en"]
    assert table.iloc[-1]["run"] == "mean"
    rates = [_results(r, "arith_en")["failure_rate"] for r in NAMES]
    assert table.iloc[-1]["arith_en"] == pytest.approx(sum(rates) / len(rates))
    worst = max(NAMES, key=lambda r: sum(_results(r, b)["failure_rate"] for b in ("arith_en", "arith_ja")))
    assert f"least stable: {worst}" in out.summary


def test_compare_paired_bootstrap_from_details(inputs):
    plugin, config = _analysis("compare", {"pairs": ["verbose vs concise"], "bootstrap": 500})
    out = plugin.run(config, inputs)
    rows = out.tables["deltas"]
    assert len(rows) == 2 and set(rows["ci_method"]) == {"paired bootstrap"}
    row = rows[rows.benchmark == "arith_en"].iloc[0]
    expected = _results("verbose", "arith_en")["score"] - _results("concise", "arith_en")["score"]
    assert row["delta"] == pytest.approx(expected)
    assert row["ci95_lo"] <= row["delta"] <= row["ci95_hi"] and row["ci95_lo"] < row["ci95_hi"]
    assert row["n_items"] == 12
    assert out.figures["deltas"].startswith(b"\x89PNG")


def test_compare_without_details_uses_run_intervals(inputs):
    results = inputs.results.assign(details=None)
    plugin, config = _analysis("compare", {"baseline": "concise"})
    out = plugin.run(config, AnalysisInputs(results=results, factors=inputs.factors))
    rows = out.tables["deltas"]
    assert set(rows["pair"]) == {"verbose vs concise", "notrace vs concise", "english vs concise"}
    row = rows[(rows.pair == "notrace vs concise") & (rows.benchmark == "arith_ja")].iloc[0]
    a, b = _results("notrace", "arith_ja"), _results("concise", "arith_ja")
    half = math.hypot((a["ci95"][1] - a["ci95"][0]) / 2, (b["ci95"][1] - b["ci95"][0]) / 2)
    assert row["ci95_hi"] - row["delta"] == pytest.approx(half)
    assert row["ci_method"] == "run intervals in quadrature"
    with pytest.raises(Exception, match="no run 'nope'"):
        _analysis("compare", {"pairs": ["nope vs concise"]})[0].run(
            _analysis("compare", {"pairs": ["nope vs concise"]})[1], inputs)


def test_lengths_count_tokens_with_the_tokenizer(inputs, tiny_model):
    from transformers import AutoTokenizer

    from jre.chat import assistant_text

    inputs = AnalysisInputs(results=inputs.results, factors=inputs.factors, datasets=inputs.datasets,
                            base_model=str(tiny_model))
    plugin, config = _analysis("lengths")
    table = plugin.run(config, inputs).tables["lengths"].set_index("dataset")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = [json.loads(line) for line in (RUNS / "verbose/synth/arith/shards/w0.jsonl").read_text().splitlines()]
    expected = sum(len(tok(assistant_text(r["trace"], r["response"]), add_special_tokens=False)["input_ids"])
                   for r in rows) / len(rows)
    assert table.loc["verbose/arith", "mean_tokens"] == pytest.approx(expected)
    assert table.loc["notrace/arith", "share_with_trace"] == 0
    assert table.loc["verbose/arith", "mean_tokens"] > table.loc["concise/arith", "mean_tokens"]


def test_ppl_is_batch_invariant_and_matches_a_direct_computation(inputs, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from jre.chat import assistant_text, ensure_chat_template

    inputs = AnalysisInputs(results=inputs.results, factors=inputs.factors, datasets=inputs.datasets,
                            base_model=str(tiny_model))
    plugin, _ = _analysis("ppl")
    one = plugin.run(plugin.parse_config({"batch_size": 1, "datasets": ["verbose/arith"]}), inputs)
    many = plugin.run(plugin.parse_config({"batch_size": 5, "datasets": ["verbose/arith"]}), inputs)
    p1, p5 = one.tables["ppl"]["ppl"][0], many.tables["ppl"]["ppl"][0]
    assert p1 == pytest.approx(p5, rel=1e-4)
    # Direct: one example at a time, loss over assistant tokens only.
    tok = ensure_chat_template(AutoTokenizer.from_pretrained(tiny_model))
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    total, count = 0.0, 0
    for line in (RUNS / "verbose/synth/arith/shards/w0.jsonl").read_text().splitlines():
        r = json.loads(line)
        prompt = tok.apply_chat_template([{"role": "user", "content": r["instruction"]}],
                                         add_generation_prompt=True, tokenize=False)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        a = tok(assistant_text(r["trace"], r["response"]), add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([p + a])).logits[0].float(), -1)
        for i, t in enumerate(a):
            total -= float(logp[len(p) + i - 1, t])
        count += len(a)
    assert p1 == pytest.approx(math.exp(total / count), rel=1e-4)


def test_analyze_stage_writes_inputs_and_a_rerun_recipe(tmp_path):
    runs = ", ".join(json.dumps(str(RUNS / n)) for n in NAMES)
    recipe = tmp_path / "study.toml"
    recipe.write_text(
        'schema_version = 1\nname = "fx"\n'
        f'run_dir = "{tmp_path / "run"}"\n\n[analyze]\nruns = [{runs}]\n'
        'analyses = ["failure_rate", { name = "aicc", factors = ["verbose", "trace"] }]\n')
    result = run_jre("analyze", str(recipe))
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "run" / "analyze" / "aicc"
    for name in ("result.json", "summary.md", "rerun.toml", "inputs/results.csv", "inputs/factors.csv",
                 "inputs/inputs.json", "tables/selection.csv", "tables/candidates.csv"):
        assert (folder / name).exists(), name
    first = pd.read_csv(folder / "tables" / "candidates.csv")
    assert len(first) == 2 * 3  # two benchmarks, three subsets of two factors

    # The folder alone reruns the analysis, anywhere.
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)
    again = run_jre("analyze", "rerun.toml", cwd=moved)
    assert again.returncode == 0, again.stderr
    second = pd.read_csv(moved / "rerun" / "analyze" / "aicc" / "tables" / "candidates.csv")
    pd.testing.assert_frame_equal(first, second)

    up_to_date = run_jre("analyze", str(recipe))
    assert "up to date" in up_to_date.stderr + up_to_date.stdout


def test_analyze_errors_are_one_line(tmp_path):
    recipe = tmp_path / "bad.toml"
    recipe.write_text('schema_version = 1\nname = "bad"\n[analyze]\nresults = "missing.csv"\n'
                      'analyses = ["scores"]\n')
    result = run_jre("analyze", str(recipe))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("analyze.results: no such results file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_one_analysis_twice_needs_ids_and_keeps_both(tmp_path):
    runs = ", ".join(json.dumps(str(RUNS / n)) for n in NAMES)
    head = f'schema_version = 1\nname = "fx"\nrun_dir = "{tmp_path / "run"}"\n\n[analyze]\nruns = [{runs}]\n'
    recipe = tmp_path / "twice.toml"
    recipe.write_text(head + 'analyses = [\n  { name = "aicc", factors = ["verbose"] },\n'
                      '  { name = "aicc", factors = ["trace"] },\n]\n')
    result = run_jre("analyze", str(recipe))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"{recipe}:7: analyze.analyses: two analyses would write "
                                      "analyze/aicc/; give one an `id`")

    recipe.write_text(head + 'analyses = [\n  { name = "aicc", factors = ["verbose"] },\n'
                      '  { name = "aicc", id = "aicc-trace", factors = ["trace"] },\n]\n')
    result = run_jre("analyze", str(recipe))
    assert result.returncode == 0, result.stderr
    verbose = pd.read_csv(tmp_path / "run" / "analyze" / "aicc" / "tables" / "candidates.csv")
    trace = pd.read_csv(tmp_path / "run" / "analyze" / "aicc-trace" / "tables" / "candidates.csv")
    assert set(verbose["factors"].dropna()) != set(trace["factors"].dropna())


def test_run_folder_follows_the_recipe_not_the_working_directory(tmp_path):
    runs = ", ".join(json.dumps(str(RUNS / n)) for n in NAMES)
    recipe = tmp_path / "study" / "r.toml"
    recipe.parent.mkdir()
    recipe.write_text(f'schema_version = 1\nname = "fx"\n[analyze]\nruns = [{runs}]\nanalyses = ["failure_rate"]\n')
    expected = tmp_path / "study" / "runs" / "fx"
    for cwd in (tmp_path, recipe.parent, tmp_path.parent):
        result = run_jre("run", str(recipe), cwd=cwd)
        assert result.returncode == 0, result.stderr
        assert f"run directory {expected}\n" in result.stderr  # absolute, whatever the cwd
    assert "up to date" in result.stderr + result.stdout
    assert (expected / "analyze" / "failure_rate" / "result.json").exists()
    first = run_jre("run", str(recipe), "--force", cwd=tmp_path)
    # Off a terminal, long paths stay on one greppable line (rich would wrap at 80 columns).
    assert f"analyze failure_rate: {expected / 'analyze' / 'failure_rate'}\n" in first.stderr
    dry = run_jre("run", str(recipe), "--dry-run", cwd=tmp_path.parent)
    assert f"run directory {expected}" in dry.stdout


def test_compare_p_values_and_holm_correction(inputs):
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests

    from jre.plugins.analyses.compare import bootstrap_p

    results = inputs.results.assign(details=None)
    plugin, config = _analysis("compare", {"baseline": "concise"})
    rows = plugin.run(config, AnalysisInputs(results=results, factors=inputs.factors)).tables["deltas"]
    half = rows["ci95_hi"] - rows["delta"]
    expected_p = 2 * norm.sf(rows["delta"].abs() / (half / 1.959963984540054))
    assert rows["p"].to_numpy() == pytest.approx(expected_p)
    reject, adjusted, _, _ = multipletests(rows["p"], alpha=0.05, method="holm")
    assert rows["p_holm"].to_numpy() == pytest.approx(adjusted)
    assert list(rows["significant_holm"]) == list(reject)
    assert (rows["p_holm"] >= rows["p"] - 1e-12).all()

    assert bootstrap_p([1.0, 2.0, 3.0, 4.0]) == 0.5  # never below 2/B
    assert bootstrap_p([-1.0, 1.0, 2.0, 3.0]) == 0.5
    assert bootstrap_p([-1.0, -2.0, 1.0, 2.0]) == 1.0


def test_tables_use_paper_abbreviations_order_and_bleu_scale():
    from jre.kinds.analysis import result_row, results_frame
    from jre.kinds.benchmark import PAPER_COLUMNS
    from jre.plugin_manager import get_plugins

    def res(bench, short, metric, score, fail):
        return {"benchmark": bench, "short_name": short, "metric": metric, "score": score,
                "ci95": [score - 1, score + 1], "failure_rate": fail,
                "scores_by_policy": {"trace": score, "empty": score, "whole": score}}

    rows = [result_row("1", res("zeta_bench", "zeta_bench", "accuracy", 0.5, 0.1)),
            result_row("1", res("mmlu_pro", "MP", "accuracy", 0.6, 0.2)),
            result_row("1", res("wmt20_en_ja", "En/Ja", "bleu", 23.6, 0.0)),
            result_row("1", res("alpha_bench", None, "accuracy", 0.4, 0.3)),
            result_row("1", res("jamcqa", "JamC", "accuracy", 0.43, 0.0))]
    inputs = AnalysisInputs(results=results_frame(rows), factors=pd.DataFrame({"run": []}))
    out = get_plugins().get("analysis", "scores").run(None, inputs)
    table = out.tables["scores"]
    assert list(table.columns) == ["run", "JamC", "En/Ja", "MP", "alpha_bench", "zeta_bench"]
    assert table.loc[0, "En/Ja"] == pytest.approx(0.236)  # sacrebleu 23.6 on the paper's 0-1
    assert "En/Ja (bleu 0–1)" in out.tables["scores_with_ci"].columns
    assert "0.236 [0.226, 0.246]" in out.tables["scores_with_ci"]["En/Ja (bleu 0–1)"].tolist()
    rates = get_plugins().get("analysis", "failure_rate").run(None, inputs).tables["failure_rate"]
    assert list(rates.columns)[1:4] == ["JamC", "En/Ja", "MP"] and rates.loc[0, "MP"] == pytest.approx(0.2)
    # Every built-in benchmark of the paper heads its column with the paper's abbreviation.
    plugins = get_plugins()
    shorts = {plugins.get("benchmark", n).short_name for n in plugins.names("benchmark")} - {None}
    assert {"JamC", "En/Ja", "Ja/En", "MPX-Ja", "GPQ-Ja", "M100-Ja", "JHE", "HS", "MP", "GPQ",
            "M500", "AIME"} <= shorts <= set(PAPER_COLUMNS)
    assert len(PAPER_COLUMNS) == 16
