"""Evaluation that never crashes on what a model writes or a disk holds, and the two
failure rates.

Eval runs go through the real eval stage with the scripted engine (a real plugin that
answers from a script file); compare runs on real WMT20 details written that way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jre.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def _script(folder: Path, outputs: dict[str, list[str]]) -> str:
    path = folder / "script.json"
    # ASCII escapes, so that lone surrogates survive in the script file itself.
    path.write_text(json.dumps(outputs, ensure_ascii=True), encoding="utf-8")
    return str(path)


def _arith(folder: Path, n_items: int) -> Path:
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 7?",
                                        "answer": i + 7}) + "\n" for i in range(n_items)),
                    encoding="utf-8")
    return path


def _recipe(folder: Path, outputs: dict[str, list[str]], n_items: int, n: int) -> Path:
    engine = {"name": "scripted", "script": _script(folder, outputs), "model": "m",
              "log": str(folder / "log.jsonl")}
    return evalkit.write_recipe(folder, [{"name": "arith_en", "path": str(_arith(folder, n_items)),
                                          "n": n}], engine, bootstrap=100)


def _served(folder: Path) -> int:
    log = folder / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_failure_rate_per_sample_and_per_question(tmp_path):
    recipe = _recipe(tmp_path, {
        "q0": ["<think>7</think>Answer: 7", "<think>0 + 7 is"],           # one of two unclosed
        "q1": ["<think>8</think>Answer: 8", "<think>8</think>Answer: 8"],  # none
        "q2": ["<think>9 and", "<think>9 and more"],                      # both unclosed
    }, n_items=3, n=2)
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "arith_en")
    assert res["failure_rate"] == pytest.approx(3 / 6)
    assert res["failure_rate_per_question"] == pytest.approx(2 / 3)
    assert res["failure_rates"]["per_sample"] == res["failure_rate"]
    assert res["failure_rates"]["per_question"] == res["failure_rate_per_question"]
    assert res["failure_rates"]["questions_unclosed"] == 2 and res["failure_rates"]["questions"] == 3
    assert "at least one" in res["failure_rates"]["definitions"]["per_question"]
    assert res["think_detection"] == {"split_by": {"text": 6}, "prefilled_think": None}
    # The analyses and the report carry both, labelled.
    from jre.plugin_manager import get_plugins
    from jre.stages.analyze import gather_inputs

    inputs = gather_inputs({"r": tmp_path / "run"})
    assert inputs.results.iloc[0]["failure_rate_per_question"] == pytest.approx(2 / 3)
    plugin = get_plugins().get("analysis", "failure_rate")
    out = plugin.run(plugin.parse_config({}), inputs)
    assert out.tables["failure_rate"].iloc[0]["arith_en"] == pytest.approx(0.5)
    assert out.tables["failure_rate_per_question"].iloc[0]["arith_en"] == pytest.approx(2 / 3)
    assert "per sample" in out.summary and "Per question" in out.summary


def test_lone_surrogates_and_nul_are_stored_faithfully(tmp_path):
    odd = ["<think>\ud800 half a pair\x00</think>Answer: 7 \udfff", "Answer: 8\x00\ud83d"]
    recipe = _recipe(tmp_path, {"q0": odd[:1], "q1": odd[1:]}, n_items=2, n=1)
    evalkit.run_eval(recipe)
    rows = {r["item_id"]: r for r in evalkit.details(tmp_path, "arith_en")}
    assert rows["q0"]["text"] == odd[0] and rows["q1"]["text"] == odd[1]
    assert rows["q0"]["reasoning"] == "\ud800 half a pair\x00" and rows["q0"]["think_closed"]
    assert rows["q0"]["score"] == 1.0 and rows["q1"]["score"] == 1.0
    # Valid UTF-8 on disk, and a rerun reads it back as up to date.
    (tmp_path / "run/eval/arith_en/details.jsonl").read_bytes().decode("utf-8")
    served = _served(tmp_path)
    evalkit.run_eval(recipe)
    assert _served(tmp_path) == served


def test_a_non_json_line_names_the_file_and_line(tmp_path):
    recipe = _recipe(tmp_path, {f"q{i}": ["Answer: 1"] for i in range(3)}, n_items=3, n=1)
    evalkit.run_eval(recipe)
    details = tmp_path / "run/eval/arith_en/details.jsonl"
    lines = details.read_text(encoding="utf-8").splitlines(True)
    lines[1] = '{"id": "q1#0", "text": "cut here\n'  # complete line, not JSON
    details.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(UserError) as info:
        evalkit.run_eval(recipe)
    message = str(info.value)
    assert message.startswith(f"{details}:2: not a JSON record")
    assert "\n" not in message


def test_a_non_json_line_through_the_cli(tmp_path):
    from conftest import run_jre

    out = tmp_path / "run" / "eval" / "arith_en"
    out.mkdir(parents=True)
    (out / "details.jsonl").write_text('{"id": "q0#0"}\nnot json at all\n', encoding="utf-8")
    recipe = evalkit.write_recipe(tmp_path, [{"name": "arith_en", "path": str(_arith(tmp_path, 2))}],
                                  {"name": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"})
    proc = run_jre("eval", str(recipe))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [f"{out / 'details.jsonl'}:2: not a JSON record (Expecting value); fix or "
                     "remove that line"], proc.stderr


def test_details_damaged_after_a_complete_run_are_noticed(tmp_path):
    recipe = _recipe(tmp_path, {"q0": ["Answer: 7"], "q1": ["Answer: 8"], "q2": ["Answer: 0"]},
                     n_items=3, n=1)
    evalkit.run_eval(recipe)
    assert evalkit.results(tmp_path, "arith_en")["score"] == pytest.approx(2 / 3)
    manifest = json.loads((tmp_path / "run/eval/arith_en/manifest.json").read_text())
    details = tmp_path / "run/eval/arith_en/details.jsonl"
    assert manifest["extra"]["details"]["bytes"] == details.stat().st_size
    served = _served(tmp_path)

    # A line lost: the rerun regenerates that sample instead of saying "up to date".
    lines = details.read_text(encoding="utf-8").splitlines(True)
    details.write_text("".join(lines[:2]), encoding="utf-8")
    evalkit.run_eval(recipe)
    assert _served(tmp_path) == served + 1
    assert evalkit.results(tmp_path, "arith_en")["n_samples"] == 3

    # A score edited by hand: the rerun rescores from what the file now says.
    rows = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        if row["item_id"] == "q2":
            row["scores_by_policy"] = {p: 1.0 for p in row["scores_by_policy"]}
    details.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evalkit.run_eval(recipe)
    assert evalkit.results(tmp_path, "arith_en")["score"] == pytest.approx(1.0)
    assert _served(tmp_path) == served + 1  # nothing regenerated

    # Untouched: up to date.
    before = (tmp_path / "run/eval/arith_en/results.json").stat().st_mtime_ns
    evalkit.run_eval(recipe)
    assert (tmp_path / "run/eval/arith_en/results.json").stat().st_mtime_ns == before


WMT_ROWS = [
    {"ja": "今日は晴れです。", "en": "It is sunny today."},
    {"ja": "猫が好きです。", "en": "I like cats."},
    {"ja": "駅はどこですか。", "en": "Where is the station?"},
    {"ja": "明日は雨が降るでしょう。", "en": "It will probably rain tomorrow."},
    {"ja": "この本はとても面白い。", "en": "This book is very interesting."},
    {"ja": "彼は毎朝走ります。", "en": "He runs every morning."},
]


def _wmt_run(folder: Path, translations: list[str], arith_right: int) -> Path:
    """A run with WMT20 Ja→En (corpus BLEU) and arith_en (mean accuracy) details."""
    folder.mkdir()
    data = folder / "wmt.jsonl"
    data.write_text("".join(json.dumps({"translation": row}, ensure_ascii=False) + "\n"
                            for row in WMT_ROWS), encoding="utf-8")
    outputs = {str(i): [f"English: {t}"] for i, t in enumerate(translations)}
    outputs.update({f"q{i}": [f"Answer: {i + 7 if i < arith_right else 0}"] for i in range(6)})
    recipe = evalkit.write_recipe(folder, [{"name": "wmt20_ja_en", "path": str(data)},
                                           {"name": "arith_en", "path": str(_arith(folder, 6))}],
                                  {"name": "scripted", "script": _script(folder, outputs), "model": "m"},
                                  bootstrap=100)
    evalkit.run_eval(recipe)
    return folder / "run"


def test_compare_resamples_corpus_bleu(tmp_path):
    from jre.bleu_ja import bleu_from_stats, corpus_bleu
    from jre.plugin_manager import get_plugins
    from jre.plugins.analyses.compare import corpus_bleu_from_stats, item_scores
    from jre.stages.analyze import gather_inputs

    good = ["It is sunny today.", "I like cats.", "Where is the station?",
            "It will rain tomorrow.", "This book is interesting.", "He runs every morning."]
    poor = ["Today sunny.", "Cats I like.", "Station where?", "Rain tomorrow maybe.",
            "Book interesting very.", "Every morning he runs."]
    runs = {"good": _wmt_run(tmp_path / "good", good, 6), "poor": _wmt_run(tmp_path / "poor", poor, 3)}
    inputs = gather_inputs(runs)
    plugin = get_plugins().get("analysis", "compare")
    out = plugin.run(plugin.parse_config({"pairs": ["good vs poor"], "bootstrap": 200}), inputs)
    table = out.tables["deltas"].set_index("benchmark")
    row = table.loc["wmt20_ja_en"]
    refs = [r["en"] for r in WMT_ROWS]
    expected = corpus_bleu(good, refs, "en").score - corpus_bleu(poor, refs, "en").score
    assert row["ci_method"] == "paired bootstrap" and row["n_items"] == 6
    assert row["delta"] == pytest.approx(expected)
    assert row["delta"] == pytest.approx(row["score_a"] - row["score_b"])
    assert row["ci95_lo"] <= row["delta"] <= row["ci95_hi"] and row["ci95_lo"] < row["ci95_hi"]
    assert table.loc["arith_en", "ci_method"] == "paired bootstrap"
    assert table.loc["arith_en", "delta"] == pytest.approx(0.5)
    assert table.loc["wmt20_ja_en", "failure_delta"] == 0
    assert table.loc["wmt20_ja_en", "failure_per_question_delta"] == 0
    # sacrebleu's own compute_bleu on summed statistics equals the eval stage's BLEU.
    stats = item_scores(Path(inputs.results.set_index(["run", "benchmark"]).loc[("good", "wmt20_ja_en"), "details"]))
    summed = [sum(col) for col in zip(*stats.values())]
    assert corpus_bleu_from_stats(summed) == pytest.approx(bleu_from_stats([summed], "en"))


def test_shard_round_trip_of_odd_text(tmp_path) -> None:
    from jre.store import ShardWriter, iter_records, write_json_atomic

    # (A high surrogate followed by a low one is a pair that JSON reads back as the one
    # character it encodes; lone halves, in either order, stay as they are.)
    odd = {"id": "a\ud800", "text": "x\x00y\udfff\ud83dz😀", "nested": ["\udc00\ud800", {"k\x00": "\udc00"}]}
    with ShardWriter(tmp_path / "s.jsonl") as writer:
        writer.write(odd)
        writer.write({"id": "plain", "text": "日本語"})
    with ShardWriter(tmp_path / "s.jsonl") as writer:  # reopened: the keys are read back
        assert "a\ud800" in writer and not writer.write(odd)
    assert list(iter_records([tmp_path / "s.jsonl"])) == [odd, {"id": "plain", "text": "日本語"}]
    assert "日本語" in (tmp_path / "s.jsonl").read_text(encoding="utf-8")  # others stay readable
    write_json_atomic(tmp_path / "r.json", odd)
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == odd
