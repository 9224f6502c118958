"""``jre run``: run the stages a recipe declares, in order, through the run store."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from jre.errors import UserError, all_errors
from jre.recipe import STAGE_ORDER, Recipe, load_recipe
from jre.stages import StageContext, available_stages, preflight
from jre.store import RunStore


def select_stages(declared: list[str], only: tuple[str, ...] = (), until: str | None = None) -> list[str]:
    """The declared stages filtered by ``--only`` and ``--until`` (pipeline order kept)."""
    for name in (*only, *([until] if until else [])):
        if name not in STAGE_ORDER:
            raise UserError(f"unknown stage {name!r}; stages: {', '.join(STAGE_ORDER)}")
    chosen = [s for s in declared if not only or s in only]
    if until:
        chosen = [s for s in chosen if STAGE_ORDER.index(s) <= STAGE_ORDER.index(until)]
    return chosen


def check_runnable(recipe: Recipe, store: RunStore, only: tuple[str, ...] = (),
                   until: str | None = None) -> None:
    """Raise every problem that would stop the selected stages, before any of them starts."""
    if recipe.study is not None:
        from jre.study import study_problems

        problems = study_problems(recipe, store, only, until)
        if problems:
            raise all_errors(problems)
        return
    preflight(recipe, store, available_stages(), select_stages(recipe.stages(), only, until))


def run_recipe(file: Path, *, only: tuple[str, ...] = (), until: str | None = None,
               dry_run: bool = False, force: bool = False, run_dir: Path | None = None) -> None:
    """Load ``file`` and run (or, with ``dry_run``, describe) its stages."""
    recipe = load_recipe(file)
    stages = available_stages()
    chosen = select_stages(recipe.stages(), only, until)
    missing = [s for s in chosen if s not in stages]
    store = RunStore.for_recipe(recipe, run_dir)
    check_runnable(recipe, store, only, until)
    if not dry_run:
        click.echo(f"recipe {recipe.name}: run directory {store.root}", err=True)
    if recipe.study is not None and not dry_run:
        # A study runs its experiments' stages in their own run folders (jre.study).
        from jre.study import run_study

        store.root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, store.root / "recipe.toml")
        run_study(recipe, store, force=force, only=only, until=until)
        return
    if dry_run:
        click.echo(f"recipe {recipe.name}: run directory {store.root}")
        for name in chosen:
            click.echo(f"[{name}]")
            lines = stages[name].plan(recipe) if name in stages else ["(stage not available in this build)"]
            for line in lines:
                click.echo(f"  {line}")
        return
    if missing:
        raise UserError(f"stage(s) {', '.join(missing)} are not available in this jre build",
                        where=str(file))
    store.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, store.root / "recipe.toml")
    ctx = StageContext(recipe=recipe, store=store, force=force)
    for name in chosen:
        ctx.console.rule(f"{recipe.name}: {name}")
        stages[name].run(ctx)
