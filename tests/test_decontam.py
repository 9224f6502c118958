"""Decontamination of SFT mixes against the questions of the recipe's [eval] benchmarks:
n-gram overlap (8 and 13 words), Japanese cut into words by MeCab."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_jre

EN_Q = ("A ball is thrown straight up at twelve metres per second from the roof of a "
        "building twenty metres tall; how long until it reaches the ground?")
JA_Q = "質量二キログラムの物体を高さ二十メートルの屋上から静かに落としたとき地面に達するまでの時間はおよそ何秒か。"
# Planted copies with a small edit each (a last word changed, a polite ending), and clean rows.
ROWS = [
    ("en-planted", "en", EN_Q.replace("the ground?", "the street below?")),
    ("ja-planted", "ja", "問題：" + JA_Q.replace("何秒か。", "何秒ですか。")),
    ("en-clean-1", "en", "What is the sum of the interior angles of a convex hexagon in degrees?"),
    ("en-clean-2", "en", "Name the process by which plants turn light into chemical energy."),
    ("ja-clean-1", "ja", "日本の首都はどこですか。"),
    ("ja-clean-2", "ja", "三角形の内角の和は何度ですか。"),
]


def _gpqa(path: Path, question: str) -> str:
    path.write_text(json.dumps({"Question": question, "Correct Answer": "2 s",
                                "Incorrect Answer 1": "1 s", "Incorrect Answer 2": "3 s",
                                "Incorrect Answer 3": "4 s", "Record ID": "r1",
                                "Subdomain": "物理"}, ensure_ascii=False) + "\n", encoding="utf-8")
    return str(path)


def _recipe(tmp: Path, count: int, decontaminate: bool) -> Path:
    source = tmp / "rows.jsonl"
    source.write_text("".join(json.dumps(
        {"id": i, "instruction": text, "trace": "t", "response": "r", "lang_in": lang,
         "lang_trace": lang, "domain": "stem", "finish_reason": "stop", "meta": {}},
        ensure_ascii=False) + "\n" for i, lang, text in ROWS), encoding="utf-8")
    en = tmp / "en.jsonl"  # math100_ja's rows carry the English question next to the Japanese
    en.write_text(json.dumps({"ja": "計算せよ。", "answer": "2", "en": EN_Q}) + "\n", encoding="utf-8")
    ja = _gpqa(tmp / "ja.jsonl", JA_Q)
    path = tmp / "recipe.toml"
    path.write_text(f'''schema_version = 1
name = "decontam"
run_dir = "{tmp / 'run'}"
[mix]
decontaminate = {str(decontaminate).lower()}
[[mix.components]]
name = "s"
count = {count}
source = "{source}"
[eval]
engine = {{ name = "hf", model = "unused" }}
benchmarks = [{{ name = "math100_ja", path = "{en}" }}, {{ name = "gpqa_ja", path = "{ja}" }}]
''', encoding="utf-8")
    return path


def test_japanese_words_come_from_mecab() -> None:
    from jre.lib.decontam import BenchmarkIndex, words

    assert words("三角形の内角の和は何度ですか。") == [
        "三角形", "の", "内角", "の", "和", "は", "何", "度", "です", "か"]
    index = BenchmarkIndex()
    index.add("ja", [JA_Q])
    assert index.matches(ROWS[1][2]) == {"ja": 13}  # no spaces anywhere, yet a 13-gram matches
    assert index.matches("物体を高さ二十メートルから落とす。") == {}


def _manifest(tmp: Path) -> dict:
    return json.loads((tmp / "run" / "mix" / "manifest.json").read_text(encoding="utf-8"))


def _ids(tmp: Path) -> list[str]:
    import pyarrow.parquet as pq

    return sorted(i for p in (tmp / "run" / "mix" / "dataset").glob("*.parquet")
                  for i in pq.read_table(p).column("id").to_pylist())


def test_overlaps_are_recorded_and_dropped_on_request(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    proc = run_jre("mix", str(_recipe(kept, 6, decontaminate=False)))
    assert proc.returncode == 0, proc.stderr
    found = _manifest(kept)["extra"]["decontamination"]
    assert found["decontaminate"] is False and found["n"] == [8, 13]
    assert found["benchmarks"]["math100_ja"] == {"questions": 1, "in_mix": 1, "found": 1,
                                                   "dropped": 0, "example_ids": ["en-planted"]}
    assert found["benchmarks"]["gpqa_ja"]["example_ids"] == ["ja-planted"]
    assert len(_ids(kept)) == 6

    dropped = tmp_path / "dropped"
    dropped.mkdir()
    proc = run_jre("mix", str(_recipe(dropped, 4, decontaminate=True)))
    assert proc.returncode == 0, proc.stderr
    found = _manifest(dropped)["extra"]["decontamination"]["benchmarks"]
    assert {b: (v["found"], v["dropped"], v["in_mix"]) for b, v in found.items()} == {
        "math100_ja": (1, 1, 0), "gpqa_ja": (1, 1, 0)}
    assert _ids(dropped) == ["en-clean-1", "en-clean-2", "ja-clean-1", "ja-clean-2"]


def test_too_few_clean_rows_is_one_line(tmp_path: Path) -> None:
    proc = run_jre("mix", str(_recipe(tmp_path, 5, decontaminate=True)))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "2 dropped as benchmark overlaps" in proc.stderr and "mix.components[0].count" in proc.stderr


def test_the_analysis_tabulates_the_manifest(tmp_path: Path) -> None:
    from jre.plugin_manager import get_plugins
    from jre.stages.analyze import gather_inputs

    assert run_jre("mix", str(_recipe(tmp_path, 6, decontaminate=False))).returncode == 0
    analysis = get_plugins().get("analysis", "decontamination")
    out = analysis.run(None, gather_inputs({"r": tmp_path / "run"}))
    table = out.tables["decontamination"]
    assert table[["benchmark", "found", "in_mix", "dropped"]].values.tolist() == [
        ["math100_ja", 1, 1, 0], ["gpqa_ja", 1, 1, 0]]
    assert "2 overlapping source row(s), 2 in the mixes, 0 dropped" in out.summary
