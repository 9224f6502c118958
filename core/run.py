"""One run of a recipe: the recipe, its run folder, the plugin set and the switches.

Every way of running stages goes through :func:`execute`: ``jre run``, ``jre <stage>``, each
experiment of a study, and the training worker a launcher starts. It copies the recipe into
the run folder (so analyses read the same factors however the stages were started), checks
every chosen stage's inputs before any starts, and runs the stages in pipeline order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from jre.console import stage_console
from jre.errors import UserError, all_errors
from jre.plugin_manager import PluginSet, get_plugins
from jre.recipe import STAGE_ORDER, Recipe, load_recipe
from jre.stages import Stage, StageContext, available_stages, stage_problems
from jre.store import ORIGIN, RunStore
from jre.study import run_study, study_problems


@dataclass
class Run:
    """A loaded recipe bound to its run folder, plugin set, console and switches.

    ``recipe_text`` is what is copied to ``<run>/recipe.toml``: the recipe file's text, or
    the generated recipe of a study's experiment.
    """

    recipe: Recipe
    store: RunStore
    plugins: PluginSet
    recipe_text: str
    console: Console = field(default_factory=stage_console)
    force: bool = False
    shard: tuple[int, int] = (0, 1)
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, recipe_file: str | Path, *, plugins: PluginSet | None = None,
             run_dir: str | Path | None = None, **switches: Any) -> Run:
        """Read and validate ``recipe_file`` against ``plugins`` (the default set when None)."""
        plugins = plugins if plugins is not None else get_plugins()
        recipe = load_recipe(recipe_file, plugins)
        assert recipe.path is not None
        return cls(recipe=recipe, store=RunStore.for_recipe(recipe, run_dir), plugins=plugins,
                   recipe_text=recipe.path.read_text(encoding="utf-8"), **switches)

    @property
    def recipe_file(self) -> Path | None:
        """The file the recipe was read from (a study's experiments: the study recipe)."""
        return self.recipe.path

    def context(self) -> StageContext:
        """What each stage function receives."""
        return StageContext(recipe=self.recipe, store=self.store, force=self.force, shard=self.shard,
                            console=self.console, options=self.options, plugins=self.plugins)

    def problems(self, chosen: Sequence[str]) -> list[UserError]:
        """Everything that would stop one of the ``chosen`` stages (a study: its experiments too)."""
        if self.recipe.study is not None:
            return study_problems(self, chosen)
        return stage_problems(self.recipe, self.store, available_stages(), list(chosen))

    def check(self, chosen: Sequence[str]) -> None:
        """Raise every problem of :meth:`problems` at once, before any work starts."""
        problems = self.problems(chosen)
        if problems:
            raise all_errors(problems)

    def plan(self, chosen: Sequence[str]) -> list[tuple[str, list[str]]]:
        """``(stage, lines)`` describing what each chosen stage would do (``--dry-run``)."""
        stages = available_stages()
        return [(name, stages[name].plan(self.recipe, self.plugins)) for name in chosen]

    def copy_recipe(self) -> Path:
        """Write the recipe as run to ``<run>/recipe.toml`` (unchanged text is not rewritten),
        and beside it ``recipe.origin``: the file it came from, against which its relative data
        paths resolve (analyses that reload a run's recipe need that folder, not the copy's)."""
        if self.recipe.path is not None:
            origin = self.store.root / ORIGIN
            origin.parent.mkdir(parents=True, exist_ok=True)
            text = str(self.recipe.path.resolve()) + "\n"
            if not origin.exists() or origin.read_text(encoding="utf-8") != text:
                origin.write_text(text, encoding="utf-8")
        path = self.store.root / "recipe.toml"
        if not path.exists() or path.read_text(encoding="utf-8") != self.recipe_text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".recipe.toml.{os.getpid()}.tmp")
            tmp.write_text(self.recipe_text, encoding="utf-8")
            os.replace(tmp, path)  # launched workers of one run may copy at once
        return path


def select_stages(declared: Sequence[str], only: Sequence[str] = (), until: str | None = None) -> list[str]:
    """The declared stages filtered by ``--only`` and ``--until`` (pipeline order kept)."""
    for name in (*only, *([until] if until else [])):
        if name not in STAGE_ORDER:
            raise UserError(f"unknown stage {name!r}; stages: {', '.join(STAGE_ORDER)}")
    chosen = [s for s in declared if not only or s in only]
    if until:
        chosen = [s for s in chosen if STAGE_ORDER.index(s) <= STAGE_ORDER.index(until)]
    return chosen


def execute(run: Run, chosen: Sequence[str], *, announce: bool = True, check: bool = True) -> None:
    """Run the ``chosen`` stages of ``run`` in pipeline order.

    Every chosen stage must be declared by the recipe. The recipe is copied into the run
    folder first; ``check`` raises every stage's missing inputs before any stage starts;
    ``announce`` prints a rule line before each stage. A study runs its experiments' stages
    in their own run folders, then its analyses and report (:func:`jre.study.run_study`).
    """
    recipe = run.recipe
    where = str(recipe.path) if recipe.path else None
    for name in chosen:
        if getattr(recipe, name, None) is None:
            raise UserError(f"the recipe has no [{name}] table", where=where)
    chosen = [s for s in STAGE_ORDER if s in chosen]
    if check:
        run.check(chosen)
    run.copy_recipe()
    if recipe.study is not None:
        run_study(run, chosen)
        return
    stages = available_stages()
    ctx = run.context()
    for name in chosen:
        if announce:
            run.console.rule(f"{recipe.name}: {name}")
        run_stage(stages[name], ctx)


def run_stage(stage: Stage, ctx: StageContext) -> None:
    """Run one stage; if it raises (a bug, Ctrl-C, a user error mid-way), every manifest it
    began and did not finish is recorded ``failed`` with the error (:meth:`RunStore.fail_open`)."""
    try:
        stage.run(ctx)
    except BaseException as exc:
        ctx.store.fail_open(exc)
        raise


__all__ = ["Run", "Stage", "execute", "select_stages"]
