"""The composition mixer and the mix stage on fixture triples (tests/fixtures/mix)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_jre

FIX = Path(__file__).parent / "fixtures" / "mix"


def _recipe(tmp: Path, body: str, *, name: str = "mixtest", train: str = "") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'schema_version = 1\nname = "{name}"\nrun_dir = "{tmp / "run"}"\n{body}\n{train}',
                    encoding="utf-8")
    return path


STEM_CHAT = f"""
[mix]
seed = 3
[[mix.components]]
name = "stem"
domain = "stem"
count = 41
sources = {{ en = "{FIX / 'stem_r1_en.jsonl'}", ja = "{FIX / 'stem_oss_ja.jsonl'}" }}
[[mix.components]]
name = "chat"
domain = "chat"
count = 20
source = "{FIX / 'chat_oss.parquet'}"
langs = ["en", "ja"]
strip_trace = true
"""


def _run_mix(recipe_path: Path, run_dir: Path | None = None):
    from rich.console import Console

    from jre.recipe import load_recipe
    from jre.stages import StageContext
    from jre.stages.mix import run
    from jre.store import RunStore

    recipe = load_recipe(recipe_path)
    store = RunStore.for_recipe(recipe, run_dir)
    run(StageContext(recipe=recipe, store=store, force=True, console=Console(quiet=True)))
    return store


def _rows(store) -> list[dict]:
    from datasets import load_dataset

    files = sorted(str(p) for p in (store.root / "mix" / "dataset").glob("*.parquet"))
    return list(load_dataset("parquet", data_files=files, split="train"))


def _source_rows(name: str) -> dict[str, dict]:
    path = FIX / name
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["id"]: r for r in rows}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, tiny_model):
    tmp = tmp_path_factory.mktemp("mix")
    train = f'[train]\nbase_model = "{tiny_model}"\nmax_length = 60\n'
    store = _run_mix(_recipe(tmp, STEM_CHAT, train=train))
    return store, _rows(store), json.loads((store.root / "mix" / "manifest.json").read_text())


def test_exact_counts_and_equal_language_split(mixed):
    _, rows, manifest = mixed
    by = {}
    for r in rows:
        by[(r["component"], r["lang_in"])] = by.get((r["component"], r["lang_in"]), 0) + 1
    # 41 split over two languages: the remainder goes to the language listed first.
    assert by == {("stem", "en"): 21, ("stem", "ja"): 20, ("chat", "en"): 10, ("chat", "ja"): 10}
    assert manifest["counts"]["component_languages"] == {"stem/en": 21, "stem/ja": 20, "chat/en": 10, "chat/ja": 10}
    assert manifest["counts"]["rows"] == len(rows) == 61
    assert manifest["status"] == "complete"


def test_rows_are_source_triples_in_chat_form(mixed):
    _, rows, _ = mixed
    sources = {**_source_rows("stem_r1_en.jsonl"), **_source_rows("stem_oss_ja.jsonl"),
               **_source_rows("chat_oss.parquet")}
    for r in rows:
        src = sources[r["id"]]
        assert r["messages"][0] == {"role": "user", "content": src["instruction"]}
        assert r["instruction"] == src["instruction"] and r["response"] == src["response"]
        if r["component"] == "stem":
            assert r["reasoning"] == src["trace"]
            assert r["messages"][1]["content"] == f"<think>\n{src['trace']}\n</think>\n\n{src['response']}"
            assert r["domain"] == "stem" and r["teacher"] == src["teacher"]
        else:  # strip_trace: instruction and response only
            assert r["reasoning"] is None and r["lang_trace"] is None
            assert r["messages"][1]["content"] == src["response"]
            assert "<think>" not in r["messages"][1]["content"]


def test_unclosed_and_duplicate_instructions_are_left_out(mixed):
    _, rows, manifest = mixed
    instructions = [r["instruction"] for r in rows]
    assert len(set(instructions)) == len(instructions)
    sources = _source_rows("stem_r1_en.jsonl")
    assert all(sources[r["id"]]["finish_reason"] == "stop" for r in rows if r["id"] in sources)
    slot = next(s for s in manifest["extra"]["slots"] if s["component"] == "stem" and s["lang"] == "en")
    assert (slot["filtered"], slot["duplicates"], slot["available"]) == (2, 1, 37)


def test_manifest_token_lengths_match_the_students_tokenizer(mixed, tiny_model):
    import numpy as np
    from transformers import AutoTokenizer

    _, rows, manifest = mixed
    tok = AutoTokenizer.from_pretrained(tiny_model)
    lengths = np.array([len(tok(tok.apply_chat_template(r["messages"], tokenize=False),
                                add_special_tokens=False)["input_ids"]) for r in rows])
    stats = manifest["extra"]["tokens"]
    assert stats["measured_rows"] == len(rows)
    assert stats["mean"] == pytest.approx(lengths.mean())
    assert stats["p90"] == pytest.approx(np.percentile(lengths, 90))
    assert stats["max"] == lengths.max()
    over = stats["over_context"]
    assert over["context"] == 60 and over["action"] == "drop"
    assert over["share"] == pytest.approx((lengths > 60).mean())
    assert 0 < over["share"] < 1  # the fixture straddles the context on purpose


def test_manifest_hashes_the_written_files(mixed):
    from jre.store import file_hash

    store, _, manifest = mixed
    files = manifest["extra"]["hashes"]["files"]
    assert files and all(file_hash(store.root / "mix" / "dataset" / name) == h for name, h in files.items())


def test_same_seed_same_mix_other_seed_other_mix(tmp_path):
    a = _run_mix(_recipe(tmp_path, STEM_CHAT), tmp_path / "a")
    b = _run_mix(_recipe(tmp_path, STEM_CHAT), tmp_path / "b")
    c = _run_mix(_recipe(tmp_path, STEM_CHAT.replace("seed = 3", "seed = 4")), tmp_path / "c")
    ha, hb, hc = (json.loads((s.root / "mix" / "manifest.json").read_text())["extra"]["hashes"]["dataset"]
                  for s in (a, b, c))
    assert ha == hb and ha != hc
    assert {r["id"] for r in _rows(a)} != {r["id"] for r in _rows(c)}


def test_selection_does_not_depend_on_file_order(tmp_path):
    lines = (FIX / "stem_oss_ja.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "rev.jsonl").write_text("".join(reversed(lines)), encoding="utf-8")
    body = '[mix]\n[[mix.components]]\nname = "s"\ncount = 9\nsource = "{}"\n'
    a = _run_mix(_recipe(tmp_path, body.format(FIX / "stem_oss_ja.jsonl"), name="fwd"), tmp_path / "fwd")
    b = _run_mix(_recipe(tmp_path, body.format(tmp_path / "rev.jsonl"), name="rev"), tmp_path / "rev")
    assert {r["id"] for r in _rows(a)} == {r["id"] for r in _rows(b)}


def test_synth_folder_of_the_run_is_a_source_and_dedupe_spans_components(tmp_path):
    shards = tmp_path / "run" / "synth" / "stem_en" / "shards"
    shards.mkdir(parents=True)
    shutil.copy(FIX / "stem_r1_en.jsonl", shards / "w0.jsonl")
    body = f"""[mix]
[[mix.components]]
name = "a"
count = 30
source = "stem_en"
[[mix.components]]
name = "b"
count = 7
source = "{FIX / 'stem_r1_en.jsonl'}"
"""
    store = _run_mix(_recipe(tmp_path, body))
    rows = _rows(store)
    assert len(rows) == 37 and len({r["instruction"] for r in rows}) == 37
    assert sum(r["component"] == "b" for r in rows) == 7


def test_too_few_rows_is_one_line_error_or_allow_fewer(tmp_path):
    body = f'[mix]\n[[mix.components]]\nname = "s"\ncount = 38\nsource = "{FIX / "stem_r1_en.jsonl"}"\n'
    proc = run_jre("mix", str(_recipe(tmp_path, body)))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "mix.components[0].count" in proc.stderr and "only 37 usable" in proc.stderr
    store = _run_mix(_recipe(tmp_path, body.replace("[mix]", "[mix]\nallow_fewer = true")))
    manifest = json.loads((store.root / "mix" / "manifest.json").read_text())
    assert manifest["counts"]["rows"] == 37
    assert manifest["extra"]["shortfalls"] == ["s/any: 37 of 38"]


def test_missing_source_is_one_line_error(tmp_path):
    body = '[mix]\n[[mix.components]]\nname = "s"\ncount = 3\nsource = "nowhere/triples.jsonl"\n'
    proc = run_jre("mix", str(_recipe(tmp_path, body)))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "mix.components[0].source" in proc.stderr and "not found" in proc.stderr


def test_bad_component_table_is_a_recipe_error(tmp_path):
    body = (f'[mix]\n[[mix.components]]\nname = "s"\ncount = 3\nsource = "{FIX / "stem_r1_en.jsonl"}"\n'
            'sources = { en = "x" }\n')
    proc = run_jre("recipe", "check", str(_recipe(tmp_path, body)))
    assert proc.returncode == 2 and "exactly one of `source` or `sources`" in proc.stderr


def test_dry_run_prints_teachers_and_counts_per_language(tmp_path):
    proc = run_jre("run", str(_recipe(tmp_path, STEM_CHAT)), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "21 en ←" in proc.stdout and "20 ja ←" in proc.stdout and "10 ja ←" in proc.stdout
    assert "trace stripped" in proc.stdout and "total 61 examples" in proc.stdout


def test_unchanged_mix_is_skipped(tmp_path):
    recipe = _recipe(tmp_path, STEM_CHAT)
    first = run_jre("mix", str(recipe))
    assert first.returncode == 0, first.stderr
    again = run_jre("mix", str(recipe))
    assert again.returncode == 0 and "up to date" in again.stderr


def _halves(tmp: Path) -> tuple[Path, Path]:
    en, ja = tmp / "en.jsonl", tmp / "ja.jsonl"
    base = {"trace": "t", "response": "r", "lang_trace": "en", "domain": "chat", "finish_reason": "stop"}
    en.write_text("".join(json.dumps({**base, "id": f"e{i}", "instruction": f"Question {i}?", "lang_in": "en",
                                      "meta": {"seed_id": f"s{i}"}}) + "\n" for i in range(20)))
    ja.write_text("".join(json.dumps({**base, "id": f"j{i}", "instruction": f"質問 {i}?", "lang_in": "ja",
                                      "meta": {"seed_id": f"s{i}", "source_id": f"s{i}"}}) + "\n"
                          for i in range(20)))
    return en, ja


@pytest.mark.parametrize("prompts", ["independent", "disjoint"])
def test_halves_share_prompts_only_when_independent(tmp_path, prompts):
    en, ja = _halves(tmp_path)
    body = f"""
[mix]
seed = 1
prompts = "{prompts}"
[[mix.components]]
name = "chat"
count = 20
sources = {{ en = "{en}", ja = "{ja}" }}
"""
    store = _run_mix(_recipe(tmp_path, body))
    rows = _rows(store)
    seeds = {lang: {int(r["id"][1:]) for r in rows if r["lang_in"] == lang} for lang in ("en", "ja")}
    assert len(seeds["en"]) == len(seeds["ja"]) == 10
    shared = seeds["en"] & seeds["ja"]
    assert (not shared) if prompts == "disjoint" else bool(shared)
    manifest = json.loads((store.root / "mix" / "manifest.json").read_text())
    assert manifest["extra"]["prompts"] == prompts
