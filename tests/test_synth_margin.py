"""Synthesis margin → exact mix counts, drops reported by reason, translations checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_jre
from openai_server import ServerProcess

# 20 plain questions, two truncated, one empty answer, one answered in English by the first
# translation request, one refused by every translation request, and two repeats.
QUESTIONS = ([f"Question number {i}: what is {i} + 1?" for i in range(20)]
             + ["Question number 20 @fmt:truncated", "Question number 21 @fmt:truncated",
                "Question number 22 @fmt:empty", "Question number 23 @fmt1:english",
                "Question number 24 @fmt:refusal",
                "Question  number 0: what is 0 + 1?", "Question number 1:  what is 1 + 1?"])


def _write(tmp: Path, margin: float) -> Path:
    seeds = tmp / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"qid": f"q{i:02d}", "text": q}) + "\n"
                             for i, q in enumerate(QUESTIONS)), encoding="utf-8")
    return seeds


def _recipe(tmp: Path, url: str, margin: float) -> Path:
    seeds = _write(tmp, margin)
    engine = f'{{ name = "openai", model = "teacher", base_url = "{url}", timeout = 2.0, backoff_base = 0.02 }}'
    path = tmp / "recipe.toml"
    path.write_text(f"""schema_version = 1
name = "margin"
run_dir = "run"

[synth.datasets.en]
teacher = "r1"
engine = {engine}
seeds = {{ loader = "file", path = "{seeds}", count = 20, fields = {{ id = "qid", instruction = "text" }} }}
margin = {margin}

[synth.datasets.ja]
teacher = "r1"
engine = {engine}
translate_from = "en"
lang = "ja"

[mix]
[[mix.components]]
name = "stem_en"
count = 20
source = "en"
[[mix.components]]
name = "stem_ja"
count = 20
source = "ja"
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server():
    with ServerProcess(hang=5) as s:
        yield s


def test_margin_gives_exact_counts_after_truncations_empties_and_repeats(tmp_path, server):
    recipe = _recipe(tmp_path, server.base_url, margin=0.25)
    proc = run_jre("run", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "run"
    en = json.loads((run / "synth" / "en" / "manifest.json").read_text())
    seeds = en["extra"]["seeds"]
    assert en["counts"]["instructions"] == 25 and seeds["margin"] == 0.25
    assert seeds["dropped"] == {"duplicate_instruction": 2}
    ja = json.loads((run / "synth" / "ja" / "manifest.json").read_text())
    translation = ja["extra"]["seeds"]["translation"]
    # Truncated, empty and refused translations are asked three times; the English answer
    # is asked again once and then translated.
    assert translation["rejected"] == {"unclosed": 6, "empty": 3, "refusal": 3, "not_japanese": 1}
    assert translation["untranslated"] == 4 and ja["counts"]["instructions"] == 21
    ja_rows = [json.loads(line) for p in sorted((run / "synth" / "ja" / "shards").glob("*.jsonl"))
               for line in p.read_text(encoding="utf-8").splitlines()]
    assert all(r["meta"]["source_id"].startswith("q") for r in ja_rows)  # provenance: English id

    mix = json.loads((run / "mix" / "manifest.json").read_text())
    assert mix["counts"]["components"] == {"stem_en": 20, "stem_ja": 20}  # Table-1-exact
    drops = mix["extra"]["drops"]
    assert drops["stem_en/any"] == {"truncated": 2, "empty_response": 1, "surplus": 2}
    assert drops["stem_ja/any"] == {"surplus": 1}
    assert mix["counts"]["dropped"] == {"stem_en/any": 3, "stem_ja/any": 0}


def test_without_a_margin_the_mix_says_which_component_is_short(tmp_path, server):
    recipe = _recipe(tmp_path, server.base_url, margin=0)
    proc = run_jre("run", str(recipe), cwd=tmp_path)
    assert proc.returncode == 2
    assert "component 'stem_en' needs 20 examples but 'en' has only 17 usable" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_translation_check_reasons():
    from jre.translation import japanese_share, translation_problem

    source = "Compute $\\int_0^1 x^2 dx$ with `numpy.trapz` for n = 100 points."
    good = "`numpy.trapz` を使い、n = 100 点で $\\int_0^1 x^2 dx$ を計算せよ。"
    assert translation_problem(good, source) is None and japanese_share(good, source) == 1.0
    assert translation_problem("", source) == "empty"
    assert translation_problem("I'm sorry, but I can't help with that.", source) == "refusal"
    assert translation_problem("申し訳ありませんが、このご依頼には対応できません。", source) == "refusal"
    assert translation_problem(source, source) == "not_japanese"  # left untranslated
    assert translation_problem("The integral equals 1/3.", source) == "not_japanese"
