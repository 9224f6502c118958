"""The share of a student's traces that are Japanese, per benchmark, next to the failure rate.

Runs go through the real eval stage with the scripted engine (answers from a script file of
known languages); the failure_rate analysis then reads the real results folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def _run(folder: Path, outputs: dict[str, list[str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    items = folder / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 7?", "answer": i + 7})
                             + "\n" for i in range(len(outputs))), encoding="utf-8")
    script = folder / "script.json"
    script.write_text(json.dumps(outputs, ensure_ascii=False), encoding="utf-8")
    engine = {"name": "scripted", "script": str(script), "model": "m"}
    recipe = evalkit.write_recipe(folder, [{"name": "arith_en", "path": str(items)}], engine, bootstrap=10)
    evalkit.run_eval(recipe)
    return folder


def test_japanese_trace_share_in_results_and_failure_rate_table(tmp_path):
    ja = _run(tmp_path / "ja", {
        "q0": ["<think>0に7を足すと7です。</think>Answer: 7"],          # Japanese trace
        "q1": ["<think>1に7を足します。答えは8"],                      # Japanese, unclosed
        "q2": ["<think>First add 2 and 7: that is 9.</think>Answer: 9"],  # English trace
        "q3": ["Answer: 10"],                                             # no trace at all
    })
    res = evalkit.results(ja, "arith_en")
    assert res["trace_languages"] == {"ja": 2, "other": 1, "none": 1, "japanese_share": pytest.approx(2 / 3)}
    assert res["japanese_trace_share"] == pytest.approx(2 / 3)
    # A trace of mostly English words with a Japanese name stays English (the synth detector).
    en = _run(tmp_path / "en", {
        "q0": ["<think>Taro has 0 apples and buys 7 more (太郎).</think>Answer: 7"],
        "q1": ["<think>1 plus 7 is 8.</think>Answer: 8"],
    })
    assert evalkit.results(en, "arith_en")["japanese_trace_share"] == 0.0

    from jre.plugin_manager import get_plugins
    from jre.stages.analyze import gather_inputs

    inputs = gather_inputs({"ja": ja / "run", "en": en / "run"})
    plugin = get_plugins().get("analysis", "failure_rate")
    table = plugin.run(plugin.parse_config({}), inputs).tables["failure_rate"].set_index("run")
    assert list(table.columns) == ["arith_en", "arith_en ja traces"]
    assert table.loc["ja", "arith_en"] == pytest.approx(1 / 4)
    assert table.loc["ja", "arith_en ja traces"] == pytest.approx(2 / 3)
    assert table.loc["en", "arith_en ja traces"] == 0.0
    assert table.loc["mean", "arith_en ja traces"] == pytest.approx(1 / 3)


def test_no_trace_anywhere_has_no_share(tmp_path):
    folder = _run(tmp_path, {"q0": ["Answer: 7"], "q1": ["Answer: 8"]})
    res = evalkit.results(folder, "arith_en")
    assert res["japanese_trace_share"] is None and res["trace_languages"]["none"] == 2
