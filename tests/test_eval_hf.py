"""The eval stage end to end through the real ``hf`` engine on a tiny model, evaluating the
run's own ``train/model`` when ``[eval.engine]`` names no model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import run_jre

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def test_hf_engine_on_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    trained = tmp_path / "run" / "train" / "model"
    trained.parent.mkdir(parents=True)
    trained.symlink_to(tiny_model, target_is_directory=True)
    recipe = evalkit.write_recipe(
        tmp_path,
        [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_ja.jsonl"), "limit": 2, "n": 2},
         {"name": "wmt20_en_ja", "path": str(FIXTURES / "wmt20_en_ja.jsonl"), "limit": 2}],
        {"name": "hf", "device": "cpu", "batch_size": 4}, bootstrap=50,
        extra="sampling = {max_tokens = 6, temperature = 0.6}")
    proc = run_jre("eval", str(recipe))
    assert proc.returncode == 0, proc.stderr
    assert "eval gpqa_ja: accuracy" in proc.stderr and "ja-mecab-0.996-IPA" in proc.stderr

    res = evalkit.results(tmp_path, "gpqa_ja")
    assert res["model"] == str(trained)
    assert res["engine"]["name"] == "hf"
    assert res["n_items"] == 2 and res["n_samples"] == 4
    assert res["sampling"]["max_tokens"] == 6 and res["sampling"]["n"] == 2
    assert 0.0 <= res["score"] <= 1.0 and 0.0 <= res["failure_rate"] <= 1.0
    assert 0 < res["mean_output_tokens"] <= 6
    rows = evalkit.details(tmp_path, "gpqa_ja")
    assert sorted(r["id"] for r in rows) == ["0#0", "0#1", "1#0", "1#1"]
    for row in rows:
        assert row["finish_reason"] in ("stop", "length")
        assert 0 < row["completion_tokens"] <= 6 and row["prompt_tokens"] > 0
        assert row["score"] == row["scores_by_policy"]["trace"]
    bleu = evalkit.results(tmp_path, "wmt20_en_ja")
    assert bleu["metric"] == "bleu" and bleu["n_samples"] == 2
    manifest = json.loads((tmp_path / "run" / "eval" / "gpqa_ja" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["inputs"]["model"] == str(trained)
