"""Tests of the jamcqa_categories benchmark: the plugin API directly, and a whole eval stage run with
jre.testing's scripted engine (it answers from outputs written in the recipe)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, installed or not

import jre_bench_jamcqa  # noqa: E402

from jre.kinds import Benchmark  # noqa: E402
from jre.run import execute  # noqa: E402
from jre.testing import ScriptedEngine, plugin_set, tmp_run  # noqa: E402

DATA = HERE / "data" / "jamcqa.jsonl"


@pytest.fixture
def plugins():
    """jre's built-ins plus this package's plugin, and an engine that answers from a script."""
    return plugin_set(jre_bench_jamcqa, objects=[ScriptedEngine()])


def test_items_prompt_extract_score(plugins) -> None:
    bench = plugins.get(Benchmark, "jamcqa_categories")
    cfg = bench.parse_config({"path": str(DATA)})
    items = bench.load(cfg).items
    assert [i.id for i in items] == ["jamcqa-001", "jamcqa-002", "jamcqa-003", "jamcqa-004"]
    prompt = bench.prompt(items[0], cfg)[0]["content"]
    assert "令和" in prompt and "B) 平成" in prompt
    assert bench.extract("考えた結果、回答：Ｂ", items[0], cfg) == "B"
    assert bench.score("B", items[0], cfg) == 1.0 and bench.score("A", items[0], cfg) == 0.0
    assert bench.score(None, items[0], cfg) == 0.0
    only = bench.load(bench.parse_config({"path": str(DATA), "categories": ["culture"]})).items
    assert [i.id for i in only] == ["jamcqa-001", "jamcqa-003"]
    assert bench.sampling_for(cfg).temperature == 0.6


def test_eval_stage(plugins, tmp_path: Path) -> None:
    replies = {
        "jamcqa-001": "<think>\n令和の前は平成。\n</think>\n\n回答: B",
        "jamcqa-002": "<think>\n信濃川が最長。\n</think>\n\n答え：Ｃ",
        "jamcqa-003": "<think>\n鬼は外かな。回答: A",                       # unclosed
        "jamcqa-004": "<think>\n愛媛？\n</think>\n\n回答: A",              # wrong
    }
    table = ", ".join(f'"{k}" = [{json.dumps(v, ensure_ascii=False)}]' for k, v in replies.items())
    run = tmp_run(tmp_path, f'schema_version = 1\nname = "jamcqa"\nrun_dir = "run"\n\n[eval]\n'
                  f'engine = {{name = "scripted", model = "m", outputs = {{{table}}}}}\n'
                  f'benchmarks = [{{name = "jamcqa_categories", path = "{DATA}"}}]\nbootstrap = 100\n',
                  plugins=plugins)
    execute(run, ["eval"])
    results = json.loads((tmp_path / "run" / "eval" / "jamcqa_categories" / "results.json").read_text())
    assert results["score"] == pytest.approx(0.75)
    assert results["scores_by_policy"]["empty"] == pytest.approx(0.5)
    assert results["failure_rate"] == pytest.approx(0.25)
