"""The eval stage through the real CLI: a SIGKILLed evaluation resumes without regenerating
finished samples, and bad input gives one line and exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import run_jre

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def run_scripted(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FIXTURES / "run_cli.py"), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_killed_evaluation_resumes_without_regenerating(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    script = evalkit.write_script(tmp_path, {str(i): [f"<think>\n{i}\n</think>\n\n回答: A"] for i in range(4)})
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_ja.jsonl")}],
        {"name": "scripted", "script": script, "model": "m", "log": str(log)})
    details = tmp_path / "run" / "eval" / "gpqa_ja" / "details.jsonl"

    killed = run_scripted("eval", str(recipe), env={"JRE_TEST_KILL_AFTER": "2"})
    assert killed.returncode == -9, killed.stderr
    assert len(details.read_text().splitlines()) == 2
    assert not (details.parent / "results.json").exists()
    first = [json.loads(line)["id"] for line in log.read_text().splitlines()]
    assert first == ["0", "1"]

    resumed = run_scripted("eval", str(recipe))
    assert resumed.returncode == 0, resumed.stderr
    served = [json.loads(line)["id"] for line in log.read_text().splitlines()]
    assert served == ["0", "1", "2", "3"]  # only the unfinished items were generated again
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["0#0", "1#0", "2#0", "3#0"]
    results = json.loads((details.parent / "results.json").read_text())
    assert results["n_samples"] == 4
    assert results["score"] == sum(r["score"] for r in rows) / 4

    again = run_scripted("eval", str(recipe))  # complete and unchanged: skipped
    assert again.returncode == 0 and "up to date" in again.stderr
    assert len(log.read_text().splitlines()) == 4


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_unknown_benchmark_lists_available(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(tmp_path, ["gpqa_jp"], {"name": "hf", "model": "x"})
    line = one_line_error(run_jre("eval", str(recipe)))
    assert "unknown benchmark 'gpqa_jp'" in line
    assert "gpqa_ja" in line and "math100_ja" in line and "wmt20_en_ja" in line
    assert "eval.benchmarks[0].name" in line


def test_dataset_missing_a_field(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_missing_field.jsonl")}],
        {"name": "hf", "model": "x"})
    line = one_line_error(run_jre("eval", str(recipe)))
    assert "gpqa_missing_field.jsonl" in line and "'Incorrect Answer 3'" in line


def test_missing_dataset_file(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(tmp_path, [{"name": "math100_ja", "path": "nowhere.jsonl"}],
                                  {"name": "hf", "model": "x"})
    line = one_line_error(run_jre("eval", str(recipe)))  # named before any model is loaded
    assert "nowhere.jsonl" in line and "no such file or folder" in line
    assert "eval.benchmarks[0].path" in line


def test_model_path_missing(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(tmp_path, [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_ja.jsonl")}],
                                  {"name": "hf"})
    line = one_line_error(run_jre("eval", str(recipe)))
    assert "no model to evaluate" in line and "eval.engine.model" in line


def test_model_path_given_but_absent(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(tmp_path, [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_ja.jsonl")}],
                                  {"name": "hf", "model": "./models/not-there"})
    line = one_line_error(run_jre("eval", str(recipe)))
    assert "model path does not exist" in line and "not-there" in line


def test_hub_dataset_unreachable_offline(tmp_path: Path) -> None:
    recipe = evalkit.write_recipe(tmp_path, ["gpqa_ja"], {"name": "hf", "model": "x"})
    line = one_line_error(run_jre("eval", str(recipe), env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}))
    assert "LLaMAX/BenchMAX_Science[ja:train]" in line and "cannot load dataset" in line
