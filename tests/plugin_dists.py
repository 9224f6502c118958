"""Write real (unpacked) plugin distributions for tests: a module plus a dist-info folder
with an ``entry_points.txt`` in the ``jre`` group, found through ``PYTHONPATH``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path


def make_dist(root: Path, dist: str, module: str, source: str, version: str = "1.0") -> Path:
    """Create distribution ``dist`` with entry point ``module = module`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[jre]\n{module} = {module}\n")
    return root


def env_with(root: Path, **extra: str) -> dict[str, str]:
    """Environment variables that put ``root`` first on the import path."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **extra}


GOOD_BENCHMARK = """
from pydantic import Field
from jre import hookimpl
from jre.kinds import Benchmark, StrictModel

class ToyConfig(StrictModel):
    limit: int | None = Field(default=None, gt=0)
    split: str = "test"

class Toy(Benchmark):
    name = "toy"
    description = "a toy benchmark"
    config_model = ToyConfig

@hookimpl
def register_benchmarks(register):
    register(Toy(), aliases=["toy-alias"])
"""
