"""``[eval]``: which benchmarks to run on which engine, and the answer-source policy."""

from __future__ import annotations

from typing import Literal

from jre.kinds.base import StrictModel
from jre.sections.refs import BenchmarkRef, EngineRef


class EvalSection(StrictModel):
    engine: EngineRef
    benchmarks: list[BenchmarkRef]
    answer_policy: Literal["trace", "empty", "whole"] = "trace"
