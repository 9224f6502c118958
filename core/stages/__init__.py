"""Stages wire plugins together; each stage module exposes ``STAGE`` and a click ``command``.

A stage module reads its inputs from the run store, calls plugins, and writes its outputs
and manifest under its own stage folder. Stages listed here are the ones that work.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import click
from rich.console import Console

from jre.recipe import STAGE_ORDER, Recipe
from jre.store import RunStore

# Stage modules that exist in this build, in pipeline order.
STAGE_MODULES: tuple[str, ...] = ()


@dataclass
class StageContext:
    """What a stage run gets: the recipe, its run store, and the command-line switches."""

    recipe: Recipe
    store: RunStore
    force: bool = False
    shard: tuple[int, int] = (0, 1)
    console: Console = field(default_factory=lambda: Console(stderr=True))
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Stage:
    """One pipeline stage: ``run`` does the work, ``plan`` describes it for ``--dry-run``."""

    name: str
    run: Callable[[StageContext], None]
    plan: Callable[[Recipe], list[str]]
    command: click.Command | None = None


def available_stages() -> dict[str, Stage]:
    """Stage name → :class:`Stage`, in pipeline order."""
    stages: dict[str, Stage] = {}
    for module_name in STAGE_MODULES:
        stage: Stage = importlib.import_module(module_name).STAGE
        stages[stage.name] = stage
    return {name: stages[name] for name in STAGE_ORDER if name in stages}
