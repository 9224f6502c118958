"""``jre run``: the stages a recipe declares, filtered by ``--only``/``--until``, through
:func:`jre.run.execute` (or described, with ``--dry-run``)."""

from __future__ import annotations

from pathlib import Path

import click

from jre.plugin_manager import PluginSet
from jre.run import Run, execute, select_stages


def run_recipe(file: Path, *, only: tuple[str, ...] = (), until: str | None = None,
               dry_run: bool = False, force: bool = False, run_dir: Path | None = None,
               plugins: PluginSet | None = None) -> None:
    """Load ``file`` and run (or, with ``dry_run``, describe) its stages."""
    run = Run.load(file, plugins=plugins, run_dir=run_dir, force=force)
    chosen = select_stages(run.recipe.stages(), only, until)
    if dry_run:
        run.check(chosen)
        click.echo(f"recipe {run.recipe.name}: run directory {run.store.root}")
        for name, lines in run.plan(chosen):
            click.echo(f"[{name}]")
            for line in lines:
                click.echo(f"  {line}")
        return
    run.check(chosen)
    click.echo(f"recipe {run.recipe.name}: run directory {run.store.root}", err=True)
    execute(run, chosen, check=False)


__all__ = ["run_recipe", "select_stages"]
