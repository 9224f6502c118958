"""Stages wire plugins together; each stage module exposes ``STAGE`` (a :class:`Stage`).

A stage module reads its inputs from the run store, calls plugins, and writes its outputs
and manifest under its own stage folder. Only modules that define ``STAGE`` are stages, so a
stage that does not work yet is simply absent.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from jre.console import stage_console
from jre.errors import UserError
from jre.plugin_manager import PluginSet, get_plugins
from jre.recipe import STAGE_ORDER, Recipe
from jre.store import RunStore


@dataclass
class StageContext:
    """What a stage run gets: the recipe, its run store, the plugin set and the switches
    (made by :meth:`jre.run.Run.context`)."""

    recipe: Recipe
    store: RunStore
    force: bool = False
    shard: tuple[int, int] = (0, 1)
    console: Console = field(default_factory=stage_console)
    options: dict[str, Any] = field(default_factory=dict)
    plugins: PluginSet = field(default_factory=get_plugins)


# What a stage needs before it starts: (recipe, store, stages planned in this run) → problems.
Check = Callable[[Recipe, RunStore, set[str]], list[UserError]]


@dataclass
class Stage:
    """One pipeline stage: ``run`` does the work, ``plan`` describes it for ``--dry-run``.

    ``options`` are extra click options of the stage's own subcommand (``jre synth
    --shard``); their values reach ``run`` through :attr:`StageContext.options`. ``check``
    names what would stop the stage — a missing input file, or an input that no earlier
    stage of this run produces and the run folder does not hold — before any stage starts.
    """

    name: str
    run: Callable[[StageContext], None]
    plan: Callable[[Recipe, PluginSet], list[str]]
    help: str = ""
    options: list[click.Option] = field(default_factory=list)
    check: Check | None = None
    # Options with which the subcommand only prints (train --print-launch, for job scripts
    # written before the inputs exist): no pre-flight check then.
    print_only: tuple[str, ...] = ()

    def command(self) -> click.Command:
        """The ``jre <stage> RECIPE`` subcommand."""

        def callback(recipe_file: Path, force: bool, run_dir: Path | None, **options: Any) -> None:
            # jre.run imports this module (Stage, StageContext): imported when the command runs.
            from jre.run import Run, execute

            shard = options.get("shard") or (0, 1)
            plugins = click.get_current_context().find_object(PluginSet)  # the CLI's set
            run = Run.load(recipe_file, plugins=plugins, run_dir=run_dir, force=force, shard=shard,
                           options=options)
            execute(run, [self.name], announce=False,
                    check=not any(options.get(name) for name in self.print_only))

        params: list[click.Parameter] = [
            click.Argument(["recipe_file"], type=click.Path(path_type=Path)),
            click.Option(["--force"], is_flag=True, help="Redo work whose outputs are up to date."),
            click.Option(["--run-dir"], type=click.Path(path_type=Path), help="Override the run directory."),
            *self.options,
        ]
        return click.Command(self.name, callback=callback, params=params,
                             help=self.help or f"Run the {self.name} stage of RECIPE_FILE.")


def stage_problems(recipe: Recipe, store: RunStore, stages: dict[str, Stage],
                   chosen: list[str]) -> list[UserError]:
    """Every problem that would stop one of the ``chosen`` stages of ``recipe``."""
    planned = set(chosen)
    problems: list[UserError] = []
    for name in chosen:
        check = stages[name].check if name in stages else None
        if check is not None and getattr(recipe, name) is not None:
            problems += check(recipe, store, planned)
    return problems


def available_stages() -> dict[str, Stage]:
    """Stage name → :class:`Stage`, in pipeline order, for every stage module that exists."""
    stages: dict[str, Stage] = {}
    for info in pkgutil.iter_modules(__path__):
        stage = getattr(importlib.import_module(f"jre.stages.{info.name}"), "STAGE", None)
        if isinstance(stage, Stage):
            stages[stage.name] = stage
    return {name: stages[name] for name in STAGE_ORDER if name in stages}
