"""The lm-eval bridge: a generative lm-eval task (defined for the test in a local YAML with
a local data file) run through a jre engine; lm-eval's filters and metrics score it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import run_jre

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    yaml = (FIXTURES / "lm_eval_task.yaml").read_text(encoding="utf-8")
    (folder / "jre_arith.yaml").write_text(
        yaml.replace("DATA_FILE", str(FIXTURES / "lm_eval_arith.jsonl")), encoding="utf-8")
    return folder


def test_lm_eval_task_through_jre_engine(tmp_path: Path, task_dir: Path) -> None:
    script = evalkit.write_script(tmp_path, {
        "0": ["<think>\n2+3=5\n</think>\n\nThe answer is 5"],
        "1": ["<think>\n10-4\n</think>\n\nThe answer is 7"],           # wrong
        "2": ["<think>\n3*3=9. The answer is 9, but let me check"],   # unclosed
        "3": ["<think>\n1-8\n</think>\n\n-7"],                        # the strict filter finds nothing
    })
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "lm_eval", "task": "jre_arith", "include_path": "tasks",
                    "include_defaults": False}],
        {"name": "scripted", "script": script, "model": "m", "log": str(tmp_path / "log.jsonl")})
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "lm_eval-jre_arith")
    assert res["benchmark"] == "lm_eval-jre_arith" and res["metric"] == "exact_match"
    assert res["scores_by_policy"] == {"trace": pytest.approx(0.5), "empty": pytest.approx(0.25),
                                       "whole": pytest.approx(0.5)}
    assert res["failure_rate"] == pytest.approx(0.25)
    assert res["lm_eval"]["filter"] == "strict" and res["lm_eval"]["task"] == "jre_arith"
    rows = {r["item_id"]: r for r in evalkit.details(tmp_path, "lm_eval-jre_arith")}
    assert rows["0"]["answer"] == "5" and rows["0"]["reference"] == "5"
    assert rows["3"]["answer"] == "[invalid]" and rows["3"]["score"] == {"exact_match": 0.0}
    # The prompt is lm-eval's own: description and doc_to_text, as chat messages.
    content = "\n".join(m["content"] for m in rows["1"]["messages"])
    assert "Question: What is 10 - 4?" in content and "The answer is N" in content


def test_unknown_lm_eval_task(tmp_path: Path, task_dir: Path) -> None:
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "lm_eval", "task": "no_such_task", "include_path": "tasks",
                    "include_defaults": False}], {"name": "hf", "model": "x"})
    proc = run_jre("eval", str(recipe))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown lm-eval task 'no_such_task'" in lines[0], proc.stderr
    assert "eval.benchmarks[0].task" in lines[0]
