"""The ``jre`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from jre import __version__
from jre.errors import UserError
from jre.jobs import JobSettings, Scheduler, recipe_jobs, submit_script
from jre.kinds import KINDS
from jre.pipeline import run_recipe
from jre.plugin_manager import PluginSet, add_plugin_commands, get_plugins
from jre.recipe import load_recipe, resolved_dict
from jre.run import Run
from jre.scaffold import write_plugin_package
from jre.stages import available_stages
from jre.toml_text import toml_dumps


def _debug_enabled(ctx: click.Context | None) -> bool:
    root = ctx.find_root() if ctx else None
    return bool(root and root.params.get("debug")) or os.environ.get("JRE_DEBUG") == "1"


class JreGroup(click.Group):
    """Turns user errors into one line on stderr and exit status 2 (``--debug`` re-raises)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            if _debug_enabled(ctx):
                raise
            click.echo(str(exc), err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; finished work is kept, rerun the same command to resume", err=True)
            ctx.exit(130)


def _plugins() -> PluginSet:
    """The plugin set :func:`main` put on the click context (the installed one otherwise)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(PluginSet) if ctx is not None else None
    return found if found is not None else get_plugins()


def _version_message() -> str:
    lines = [f"jre {__version__}"]
    plugins = _plugins()
    dists = sorted({src for src in plugins.sources.values() if src[0] != "jre"})
    lines += [f"  plugin distribution {dist} {version}" for dist, version in dists]
    lines += [f"  broken plugin {b.plugin} ({b.distribution}): {b.error}" for b in plugins.broken]
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_message())
        ctx.exit(0)


@click.group(cls=JreGroup)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show jre's version and the plugin distributions it loaded.")
@click.option("--debug", is_flag=True, help="Show tracebacks for user errors.")
def cli(debug: bool) -> None:
    """jre: reasoning-distillation experiments on Japanese-English LLMs, from a recipe."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--kind", type=click.Choice(list(KINDS)),
              help="Only plugins of this kind.")
def plugins_command(as_json: bool, kind: str | None) -> None:
    """List every engine, teacher, mixer, benchmark and analysis, and any broken plugin."""
    plugins = _plugins()
    rows = []
    for k, registry in plugins.registries.items():
        if kind and k != kind:
            continue
        clashes = plugins.duplicates.get(k, {})
        clashed = {plugins.aliases[k].get(n, n) for n in clashes}  # first registrations that clash
        later = list({id(r): r for regs in clashes.values() for r in regs}.values())
        entries = [(name, reg, name in clashed) for name, reg in sorted(registry.items())]
        entries += [(reg.obj.name, reg, True) for reg in later]
        for name, reg, duplicate in entries:
            rows.append({"kind": k, "name": name, "aliases": list(reg.aliases), "plugin": reg.plugin,
                         "distribution": reg.distribution, "version": reg.version,
                         "description": reg.obj.description, "duplicate": duplicate})
    broken = [{"plugin": b.plugin, "distribution": b.distribution, "error": b.error}
              for b in plugins.broken]
    duplicates = [{"kind": k, "name": n, "plugins": [r.plugin for r in
                   [plugins.registries[k][plugins.aliases[k].get(n, n)], *regs]]}
                  for k, names in plugins.duplicates.items() if not kind or k == kind
                  for n, regs in sorted(names.items())]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "broken": broken, "duplicates": duplicates},
                              indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Plain Text cells: a description such as "(install jre[vllm])" is not rich markup.
    table = Table("kind", "name", "plugin", "distribution", "version", "description")
    for row in rows:
        label = Text(str(row["name"])) + (Text(" (duplicate)", style="red") if row["duplicate"] else Text())
        table.add_row(*(Text(str(row[c])) for c in ("kind",)), label,
                      *(Text(str(row[c])) for c in ("plugin", "distribution", "version", "description")))
    console = Console(width=max(100, Console().width))
    console.print(table)
    for b in broken:
        console.print(Text("broken", style="red") + Text(f" {b['plugin']} ({b['distribution']}): {b['error']}"))
    for d in duplicates:
        console.print(Text("duplicate", style="red") + Text(
            f" {d['kind']} {d['name']!r} registered by {' and '.join(d['plugins'])}; using it fails "
            "until one is uninstalled or left out with JRE_DISABLE_PLUGINS"))


@cli.group("recipe")
def recipe_group() -> None:
    """Check and show recipes."""


@recipe_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def recipe_check(file: Path) -> None:
    """Validate FILE and what its stages need; one line per problem, exit 2 if there is one."""
    run = Run.load(file, plugins=_plugins())
    recipe = run.recipe
    run.check(recipe.stages())
    click.echo(f"{file}: ok ({recipe.name}; stages: {', '.join(recipe.stages()) or 'none'})")


@recipe_group.command("show")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (unset options as null) instead of TOML.")
def recipe_show(file: Path, as_json: bool) -> None:
    """Print FILE fully resolved, with every default and plugin option that applies filled in.

    TOML by default, leaving out options that are unset or play no part given the others
    (``streaming`` for a local seed file, translation settings of an untranslated dataset),
    so the output is itself a recipe that runs the same way.
    """
    resolved = resolved_dict(load_recipe(file), applicable_only=True)
    click.echo(json.dumps(resolved, indent=2, ensure_ascii=False) if as_json else toml_dumps(resolved),
               nl=as_json)


@cli.command("run")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--only", "only", multiple=True, help="Run only this stage (repeatable).")
@click.option("--until", "until", help="Stop after this stage.")
@click.option("--dry-run", is_flag=True, help="Print the plan, run nothing.")
@click.option("--force", is_flag=True, help="Rerun stages whose outputs are up to date.")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Override the run directory.")
def run_command(file: Path, only: tuple[str, ...], until: str | None, dry_run: bool, force: bool,
                run_dir: Path | None) -> None:
    """Run every stage FILE declares, in order; finished stages are skipped."""
    run_recipe(file, only=only, until=until, dry_run=dry_run, force=force, run_dir=run_dir,
               plugins=_plugins())


@cli.command("jobs")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--scheduler", type=click.Choice(["slurm", "pbs"]), required=True, help="SLURM or PBS Pro.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the scripts and submit.sh here (else print them).")
@click.option("--shards", type=int, default=1, show_default=True, help="Synthesis workers (--shard I/N).")
@click.option("--replicas-per-node", type=int, default=1, show_default=True,
              help="Synthesis workers per node, each on its own GPUs.")
@click.option("--gpus-per-replica", type=int, default=1, show_default=True, help="GPUs per synthesis worker.")
@click.option("--nodes", type=int, default=1, show_default=True, help="Training nodes.")
@click.option("--gpus-per-node", type=int, default=8, show_default=True, help="Training GPUs per node.")
@click.option("--eval-gpus", type=int, default=1, show_default=True, help="GPUs of the evaluation job.")
@click.option("--queue", help="SLURM partition or PBS queue.")
@click.option("--account", help="Account / group charged.")
@click.option("--time", "walltime", default="24:00:00", show_default=True, help="Wall-clock limit per job.")
@click.option("--setup", multiple=True, help="Shell line run first in every job (repeatable), e.g. "
              "'source .venv/bin/activate'.")
@click.option("--directive", multiple=True, help="Extra scheduler option line (repeatable), e.g. '-P gXX'.")
@click.option("--run-dir", type=click.Path(path_type=Path), help="Override the run directory.")
def jobs_command(file: Path, scheduler: Scheduler, out: Path | None, shards: int, replicas_per_node: int,
                 gpus_per_replica: int, nodes: int, gpus_per_node: int, eval_gpus: int, queue: str | None,
                 account: str | None, walltime: str, setup: tuple[str, ...], directive: tuple[str, ...],
                 run_dir: Path | None) -> None:
    """Print (or write) SLURM/PBS job scripts for FILE's synth, train and eval stages."""
    recipe = load_recipe(file)
    settings = JobSettings(scheduler=scheduler, recipe=recipe.path or file.resolve(), workdir=Path.cwd().resolve(),
                           run_dir=run_dir.resolve() if run_dir else None, name=recipe.name, queue=queue,
                           account=account, walltime=walltime, setup=list(setup), directives=list(directive))
    scripts = recipe_jobs(recipe, settings, shards=shards, replicas_per_node=replicas_per_node,
                          gpus_per_replica=gpus_per_replica, nodes=nodes, gpus_per_node=gpus_per_node,
                          eval_gpus=eval_gpus)
    submit = submit_script(scheduler, scripts)
    if out is None:
        for script in scripts:
            click.echo(f"# ---- {script.filename} ----\n{script.text}")
        click.echo(f"# ---- submit.sh ----\n{submit}", nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        (out / script.filename).write_text(script.text, encoding="utf-8")
    (out / "submit.sh").write_text(submit, encoding="utf-8")
    names = ", ".join(s.filename for s in scripts)
    click.echo(f"wrote {names} and submit.sh to {out}; submit with: bash {out / 'submit.sh'}")


@cli.group("new")
def new_group() -> None:
    """Start new things: plugin packages."""


@new_group.command("plugin")
@click.option("--kind", required=True,
              type=click.Choice(list(KINDS)))
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("."),
              help="Where to create the package folder.")
def new_plugin(kind: str, name: str, directory: Path) -> None:
    """Write a ready-to-install plugin package for a new KIND called NAME."""
    folder = write_plugin_package(kind, name, directory)
    click.echo(f"wrote {folder}; install it with: pip install -e {folder}")


def _add_stage_and_plugin_commands(plugins: PluginSet) -> None:
    for stage in available_stages().values():
        cli.add_command(stage.command())
    add_plugin_commands(plugins, cli)


def main(plugins: PluginSet | None = None) -> None:
    """Console-script entry point. ``plugins`` replaces the installed plugin set (a test or an
    embedding program passes its own; the commands find it on the click context)."""
    try:
        plugins = plugins if plugins is not None else get_plugins()
        _add_stage_and_plugin_commands(plugins)
    except UserError as exc:
        if "--debug" in sys.argv or os.environ.get("JRE_DEBUG") == "1":
            raise
        click.echo(str(exc), err=True)
        sys.exit(2)
    cli(prog_name="jre", obj=plugins)
