"""``[study]``: the schema of a study's experiments and grids (run by :mod:`jre.study`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from jre.kinds.base import StrictModel

FactorValue = bool | int | float | str


class TinyBaseModel(StrictModel):
    """``[study.tiny_base_model]``: a tiny Qwen3 student built offline from a text corpus."""

    corpus: str  # text file, one training text per line (tokenizer training)
    vocab_size: int = Field(default=512, ge=300)
    hidden_size: int = Field(default=64, ge=8)
    layers: int = Field(default=2, ge=1)
    heads: int = Field(default=4, ge=1)
    kv_heads: int = Field(default=2, ge=1)
    max_positions: int = Field(default=1024, ge=64)
    split_digits: bool = False  # one token per digit, so that numbers share their digits' embeddings
    seed: int = 0


class Experiment(StrictModel):
    """One experiment of a study: its factors and its overrides of the base recipe."""

    description: str = ""
    factors: dict[str, FactorValue] | list[dict[str, FactorValue]] = Field(default_factory=dict)
    set: dict[str, Any] = Field(default_factory=dict)


class Grid(StrictModel):
    """A named selection of experiments plus overrides applied to each (e.g. a CI grid)."""

    experiments: list[str] | None = None
    set: dict[str, Any] = Field(default_factory=dict)


class StudySection(StrictModel):
    """``[study]``: the experiments of a study and how to pick a grid of them."""

    experiments: dict[str, Experiment] = Field(min_length=1)
    grids: dict[str, Grid] = Field(default_factory=dict)
    grid_env: str = "JRE_STUDY_GRID"
    tiny_base_model: TinyBaseModel | None = None
    estimate: str | None = None  # printed before any work: how long the study is expected to take
