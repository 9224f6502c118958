"""``[eval]``: which benchmarks to run on which engine, and the answer-source policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jre.kinds.base import StrictModel
from jre.kinds.benchmark import SamplingOptions
from jre.sections.refs import BenchmarkRef, EngineRef


class EvalSection(StrictModel):
    """The ``[eval]`` table.

    ``engine`` generates (its ``model`` defaults to ``<run>/train/model``); each entry of
    ``benchmarks`` is a name or a table with the benchmark's options (``path``, ``limit``,
    sampling overrides...). ``sampling`` overrides every benchmark's default sampling (a
    benchmark's own options win). ``answer_policy`` picks the headline score when
    ``</think>`` never closed; results always show all three. ``bootstrap`` resamples items
    for the 95% interval.
    """

    engine: EngineRef
    benchmarks: list[BenchmarkRef] = Field(min_length=1)
    answer_policy: Literal["trace", "empty", "whole"] = "trace"
    sampling: SamplingOptions | None = None
    bootstrap: int = Field(default=1000, ge=0)
