"""Benchmarks: dataset, prompts, answer extraction, scoring."""

from __future__ import annotations

from typing import ClassVar

from jre.kinds.base import Plugin


class Benchmark(Plugin):
    """A benchmark plugin: where its items come from, how to prompt, extract and score."""

    kind: ClassVar[str] = "benchmark"
