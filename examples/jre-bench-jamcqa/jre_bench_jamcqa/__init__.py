"""JamC-QA as a jre benchmark: a third-party plugin distribution in one module."""

from __future__ import annotations

from pydantic import Field

from jre import hookimpl
from jre.kinds import Benchmark, StrictModel


class JamCQAConfig(StrictModel):
    """Recipe options of ``jamcqa``: where the data comes from and how much of it."""

    dataset: str = "sbintuitions/JamC-QA"
    split: str = "test"
    revision: str | None = None
    path: str | None = None  # a local JSONL/Parquet copy overrides the hub dataset
    limit: int | None = Field(default=None, gt=0)
    categories: list[str] | None = None


class JamCQA(Benchmark):
    """JamC-QA: Japanese-specific knowledge, four choices (fields qid, category, question,
    choice0-3, answer_index)."""

    name = "jamcqa"
    description = "JamC-QA: Japanese-specific knowledge QA, 4-way multiple choice"
    config_model = JamCQAConfig


@hookimpl
def register_benchmarks(register):
    register(JamCQA())
