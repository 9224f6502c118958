"""Seed loaders on fixture files written in the real dataset schemas."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from jre.errors import UserError
from jre.sections.synth import SeedSpec
from jre.seeds import load_seeds, split_counts

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
