"""Seed loaders on fixture files written in the real dataset schemas."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from jre.errors import UserError
from jre.lib.seeds import load_seeds, split_counts
from jre.sections.synth import SeedSpec

FIXTURES = Path(__file__).parent / "fixtures" / "synth"


def _load(**spec):
    return load_seeds(SeedSpec(**spec), lambda p: FIXTURES / p)


def test_split_counts_follow_the_ratio():
    assert split_counts(10, {"code": 2, "math": 2, "stem": 1}) == {"code": 4, "math": 4, "stem": 2}
    assert split_counts(7, {"code": 2, "math": 2, "stem": 1}) == {"code": 3, "math": 3, "stem": 1}
    assert sum(split_counts(500_000, {"code": 2, "math": 2, "stem": 1}).values()) == 500_000


def test_nemotron_mixes_code_math_stem_2_2_1_seeded():
    seeds = _load(loader="nemotron", path="nemotron", count=10, seed=1)
    assert Counter(s.meta["split"] for s in seeds) == {"code": 4, "math": 4, "stem": 2}
    assert all(s.domain == "stem" and s.source.startswith("nemotron-v1/") for s in seeds)
    assert all(s.response.startswith("<think>") for s in seeds)  # for replay
    first = json.loads((FIXTURES / "nemotron" / "code.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"] in {s.instruction for s in _load(loader="nemotron", path="nemotron")}
    again = _load(loader="nemotron", path="nemotron", count=10, seed=1)
    other = _load(loader="nemotron", path="nemotron", count=10, seed=2)
    assert [s.id for s in seeds] == [s.id for s in again]
    assert {s.id for s in seeds} != {s.id for s in other}


def test_lmsys_first_user_turn_and_language_filter():
    seeds = _load(loader="lmsys", path="lmsys.jsonl")
    rows = [json.loads(line) for line in (FIXTURES / "lmsys.jsonl").read_text().splitlines()]
    english = {r["conversation_id"]: r["conversation"][0]["content"] for r in rows if r["language"] == "English"}
    assert {s.id: s.instruction for s in seeds} == english
    assert all(s.domain == "chat" for s in seeds)
    ja = _load(loader="lmsys", path="lmsys.jsonl", languages=["Japanese"], count=1)
    assert len(ja) == 1 and "東京" in ja[0].instruction


@pytest.mark.parametrize("name", ["custom.jsonl", "custom.parquet"])
def test_file_loader_with_a_field_mapping(name):
    seeds = _load(loader="file", path=name, fields={"id": "qid", "instruction": "body.text", "domain": "topic"})
    assert sorted(s.id for s in seeds) == [f"q-{i:03d}" for i in range(6)]
    assert {s.domain for s in seeds} == {"math"}
    assert any(s.instruction == "Explain why 2 + 2 = 4." for s in seeds)


def test_a_missing_mapped_field_names_it():
    with pytest.raises(UserError) as info:
        _load(loader="file", path="custom.jsonl", fields={"instruction": "body.question"})
    assert "body.question" in str(info.value) and "custom.jsonl" in str(info.value)


def test_spec_is_validated():
    with pytest.raises(ValueError):
        SeedSpec(loader="file", path="x.jsonl")  # no instruction field
    with pytest.raises(ValueError):
        SeedSpec(loader="file", path="x.jsonl", fields={"instruction": "q", "answer": "a"})


# -- rows as the real datasets hold them ------------------------------------------------

CODE_QUESTIONS = {"taco": "code_questions/taco", "apps": "code_questions/apps",
                  "code_contests": "code_questions/code_contests",
                  "open-r1/codeforces": "code_questions/codeforces"}


def _npt(**spec):
    base = {"loader": "nemotron", "path": "nemotron_v1", "generator": "DeepSeek-R1-0528",
            "code_questions": CODE_QUESTIONS}
    return _load(**{**base, **spec})


def test_nemotron_code_placeholders_are_rehydrated_from_metadata():
    seeds = _npt(mix={"code": 1})
    report = seeds.report
    # 24 resolvable rows; one index past the end and one unknown dataset are unresolved.
    assert len(seeds) == 24 and report["code_rehydrated"] == 24 and report["code_unresolved"] == 2
    assert report["dropped"]["instruction_too_short"] == 2
    assert report["dropped"]["reasoning_off"] == 1 and report["dropped"]["other_generator"] == 1
    assert all(s.instruction != "-" for s in seeds)
    by_source = {s.meta["instruction_from"].split("/")[0] for s in seeds}
    assert by_source == {"taco", "apps", "code_contests", "open-r1"}
    cf = next(s for s in seeds if s.meta["instruction_from"].startswith("open-r1/codeforces"))
    assert "Input\n\nThe first line" in cf.instruction and "Note\n\nIn the first test" in cf.instruction
    assert set(report["revisions"]) >= {"taco (train)", "open-r1/codeforces (train)"}


def test_nemotron_filters_duplicates_short_and_malformed_rows_before_counting():
    seeds = _npt(mix={"math": 1})
    report = seeds.report
    assert len(seeds) == 24  # 28 rows: a repeat, a 7-character question, reasoning off, no answer
    assert report["dropped"] == {"duplicate_instruction": 1, "instruction_too_short": 1,
                                 "reasoning_off": 1, "no_think_answer": 1}
    exact = _npt(count=20)
    assert len(exact) == 20 and Counter(s.meta["split"] for s in exact) == {"code": 8, "math": 8, "stem": 4}


def test_without_rehydration_sources_placeholders_are_dropped_not_prompted():
    seeds = _npt(mix={"code": 1}, code_questions={"taco": "nowhere"})
    assert all(s.instruction.strip() != "-" for s in seeds)
    assert seeds.report["code_unresolved"] >= 6


def test_smaller_samples_are_nested_and_disjoint_sets_exclude():
    small, large = _npt(count=10), _npt(count=30)
    assert {s.id for s in small} <= {s.id for s in large}
    apart = load_seeds(SeedSpec(loader="nemotron", path="nemotron_v1", generator="DeepSeek-R1-0528",
                                code_questions=CODE_QUESTIONS, count=10),
                       lambda p: FIXTURES / p, exclude={s.id for s in small})
    assert len(apart) == 10 and not {s.id for s in apart} & {s.id for s in small}


def test_dataset_seeds_add_the_margin_except_for_replay(tmp_path):
    from jre.lib.seeds import dataset_seeds
    from jre.recipe import load_recipe

    questions = ", ".join(f'"{k}" = "{FIXTURES / v}"' for k, v in CODE_QUESTIONS.items())
    spec = (f'{{ loader = "nemotron", path = "{FIXTURES / "nemotron_v1"}", count = 20, '
            f'code_questions = {{ {questions} }} }}')
    path = tmp_path / "r.toml"
    path.write_text(f'''schema_version = 1
name = "m"
[synth.datasets.r1]
teacher = {{ name = "replay", label = "r1", model = "deepseek-ai/DeepSeek-R1-0528" }}
seeds = {spec}
[synth.datasets.oss]
teacher = "oss"
seeds = {spec}
margin = 0.1
[synth.datasets.apart]
teacher = "oss"
seeds = {spec}
disjoint_from = ["oss"]
''')
    synth = load_recipe(path).synth
    assert synth.datasets["r1"].seeds.generator == "DeepSeek-R1-0528"  # from the replayed model
    r1, oss, apart = (dataset_seeds(synth, n, load_recipe(path).resolve_path) for n in ("r1", "oss", "apart"))
    assert len(r1) == 20 and len(oss) == 22 and len(apart) == 21  # 3 % of 20, rounded up
    assert r1.report["margin"] == 0.0 and oss.report["margin"] == 0.1
    assert not {s.id for s in apart} & {s.id for s in oss}


def test_swallow_release_keeps_the_trace_and_picks_the_config():
    seeds = load_seeds(
        SeedSpec(loader="swallow", path="swallow", config="GPT-OSS-Nemotron-Post-Training-Dataset-v1-Ja",
                 count=10), lambda p: FIXTURES / p, lang="ja")
    assert len(seeds) == 10 and Counter(s.meta["split"] for s in seeds) == {"code": 4, "math": 4, "stem": 2}
    assert all("の問題" in s.instruction for s in seeds)
    assert all(s.response.startswith("<think>\nWe need the sum") and "</think>\n\n和は" in s.response for s in seeds)
    assert seeds.report["dropped"] == {"no_think_answer": 3}
    r1 = load_seeds(SeedSpec(loader="swallow", path="swallow"), lambda p: FIXTURES / p)
    assert len(r1) == 36 and all(s.instruction.startswith(("code problem", "math problem", "stem problem")) for s in r1)
