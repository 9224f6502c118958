"""Studies: one recipe, a grid of experiment variants, then analyses across them and a report.

A recipe with a root-level ``[study]`` table is a study. Its stage tables (``synth``,
``mix``, ``train``, ``eval``) are the base experiment; each ``[study.experiments.NAME]``
table gives the experiment's ``factors`` (a table, or a list of tables for a mixed
experiment, averaged by the analyses) and ``set``, dotted-key overrides of the base recipe::

    [study.experiments.verbose]
    factors = { verbose = 1, trace = 1 }
    set = { "synth.datasets.en.teacher.style" = "verbose" }

``jre run`` on a study runs every experiment's stages in ``<run>/experiments/NAME/`` (or
``<run>/grids/GRID/NAME/`` for a named grid; each a
complete run folder with its own ``recipe.toml``, resumable like any run), then the study's
``[analyze]`` over all experiments and its ``[report]`` in ``<run>/``. Named grids
(``[study.grids.ci]``: a subset of experiments and overrides for all of them) are chosen with
the environment variable that ``grid_env`` names. ``[study.tiny_base_model]`` builds a tiny
Qwen3-architecture model with a tokenizer trained on a local corpus into ``<run>/base_model``
and makes it every experiment's ``train.base_model`` (the offline quickstart's student).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jre.errors import UserError
from jre.recipe import config_hash, parse_recipe, resolved_dict
from jre.sections.study import StudySection
from jre.stages import available_stages, stage_problems
from jre.store import RunStore
from jre.tiny import build_tiny_model
from jre.toml_text import toml_dumps

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rich.console import Console

    from jre.recipe import Recipe
    from jre.run import Run

EXPERIMENT_STAGES = ("synth", "mix", "train", "eval")


def set_dotted(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set ``a.b.0.c = value`` inside nested tables and lists, creating tables as needed.

    A plugin reference written as a bare string (``teacher = "arith"``) becomes a table
    (``{name = "arith"}``) when an option is set inside it.
    """
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit()
        if isinstance(node, list):
            index = int(part)
            if index >= len(node):
                raise UserError(f"index {index} is past the end of the list", where=where, field=key)
            child = node[index]
        else:
            child = node.get(part)
            if child is None:
                child = [] if nxt_is_index else {}
                node[part] = child
            elif isinstance(child, str) and not nxt_is_index:
                child = {"name": child}
                node[part] = child
        if not isinstance(child, (dict, list)):
            raise UserError(f"{'.'.join(parts[:i + 1])} is a value, not a table", where=where,
                            field=key)
        if isinstance(node, list):
            node[int(part)] = child
        node = child
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def mean_factors(factors: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """One factor table for a recipe: a mixed experiment's numeric factors averaged."""
    if isinstance(factors, dict):
        return dict(factors)
    out: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for row in factors for k in row))
    for key in keys:
        values = [row[key] for row in factors if key in row]
        if all(isinstance(v, (int, float)) for v in values):
            out[key] = sum(float(v) for v in values) / len(values)
        else:
            out[key] = values[0]
    return out


def selected_experiments(section: StudySection, where: str) -> tuple[str | None, list[str]]:
    """The grid chosen through ``grid_env`` (or None) and the experiments it runs."""
    grid = os.environ.get(section.grid_env) or None
    if grid is None:
        return None, list(section.experiments)
    if grid not in section.grids:
        raise UserError(f"{section.grid_env}={grid}: no grid {grid!r}; grids: "
                        f"{', '.join(section.grids) or '(none)'}", where=where,
                        field="study.grids")
    names = section.grids[grid].experiments or list(section.experiments)
    unknown = [n for n in names if n not in section.experiments]
    if unknown:
        raise UserError(f"grid {grid!r} names unknown experiment(s) {', '.join(unknown)}",
                        where=where, field=f"study.grids.{grid}.experiments")
    return grid, names


def base_model_dir(store: RunStore) -> Path:
    """Where a study's tiny base model lives."""
    return (store.root / "base_model").resolve()


def experiment_dir(store: RunStore, name: str, grid: str | None = None) -> Path:
    """The run folder of one experiment (a named grid's runs live apart from the full grid's,
    so a small CI grid never resumes from, or overwrites, the full study's checkpoints)."""
    if grid is not None:
        return store.root / "grids" / grid / name
    return store.root / "experiments" / name


def experiment_recipe(recipe: Recipe, name: str, grid: str | None,
                      base_model: Path | None, plugins: Any = None) -> tuple[Recipe, str]:
    """The validated recipe of experiment ``name`` and its TOML text."""
    assert recipe.path is not None and recipe.study is not None
    where = str(recipe.path)
    raw = tomllib.loads(recipe.path.read_text(encoding="utf-8"))
    data = {k: v for k, v in raw.items() if k not in ("study", "analyze", "report", "run_dir")}
    experiment = recipe.study.experiments[name]
    data["name"] = f"{recipe.name}-{name}"
    data["description"] = experiment.description or f"{recipe.name}: experiment {name}"
    data["factors"] = mean_factors(experiment.factors)
    overrides = dict(experiment.set)
    if grid is not None:
        overrides.update(recipe.study.grids[grid].set)
    for key, value in overrides.items():
        set_dotted(data, key, value, where)
    if base_model is not None and "train" in data:
        data["train"]["base_model"] = str(base_model)
    text = toml_dumps(data)
    # Validated as if written next to the study recipe, so its relative paths still hold.
    return parse_recipe(text, recipe.path, plugins), text


def factor_frame(recipe: Recipe, names: list[str]) -> Any:
    """The study's factor table: a row per experiment, or per component of a mixed one."""
    import pandas as pd

    assert recipe.study is not None
    rows = []
    for name in names:
        factors = recipe.study.experiments[name].factors
        for row in (factors if isinstance(factors, list) else [factors]):
            rows.append({"run": name, **row})
    return pd.DataFrame(rows)


def study_problems(run: Run, wanted: Sequence[str]) -> list[UserError]:
    """What would stop the study: a missing corpus, or an experiment stage without its input."""
    recipe, store = run.recipe, run.store
    assert recipe.study is not None
    problems: list[UserError] = []
    spec = recipe.study.tiny_base_model
    if spec is not None and not recipe.resolve_path(spec.corpus).exists():
        problems.append(UserError("no such corpus file", where=str(recipe.resolve_path(spec.corpus)),
                                  field="study.tiny_base_model.corpus"))
    stages = available_stages()
    per_experiment = [s for s in wanted if s in EXPERIMENT_STAGES]
    grid, names = selected_experiments(recipe.study, str(recipe.path))
    # The same problem in several experiments (a missing data file they share) is one line.
    by_problem: dict[tuple[str, str | None, str | None, int | None], list[str]] = {}
    for name in names if per_experiment else []:
        exp = experiment_run(run, name, grid)
        for e in stage_problems(exp.recipe, exp.store, stages, per_experiment):
            by_problem.setdefault((e.message, e.where, e.field, e.line), []).append(name)
    for (message, where, field, line), which in by_problem.items():
        if len(which) == 1:
            who = f"experiment {which[0]}"
        else:
            who = f"all {len(which)} experiments" if len(which) == len(names) else \
                f"experiments {', '.join(which)}"
        problems.append(UserError(f"{who}: {message}", where=where, field=field, line=line))
    return problems + stage_problems(recipe, store, stages, [s for s in wanted if s not in EXPERIMENT_STAGES])


def experiment_run(run: Run, name: str, grid: str | None) -> Run:
    """The :class:`~jre.run.Run` of experiment ``name`` in its own run folder, with the study
    run's plugin set, console and switches."""
    from dataclasses import replace

    assert run.recipe.study is not None
    base = base_model_dir(run.store) if run.recipe.study.tiny_base_model is not None else None
    exp_recipe, text = experiment_recipe(run.recipe, name, grid, base, run.plugins)
    return replace(run, recipe=exp_recipe, recipe_text=text,
                   store=RunStore(experiment_dir(run.store, name, grid)))


def share_stage(recipe: Recipe, folder: Path, stage: str, upstream: str) -> str:
    """Point ``folder/<stage>`` at a folder shared by every experiment whose work is the same.

    The key is the stage's resolved table, the recipe seed and the key of the stage before it,
    so experiments with identical synthesis (or mix, or training on the same mix) compute it
    once: the first writes ``.shared/<stage>-<key>/``, the others find it up to date. Returns
    the key. A stage folder that already exists as a real folder (an older run) is left alone.
    """
    key = config_hash({"stage": stage, "table": resolved_dict(getattr(recipe, stage)),
                       "seed": recipe.seed, "upstream": upstream})[:16]
    target = folder.parent / ".shared" / f"{stage}-{key}"
    link = folder / stage
    if not link.exists() and not link.is_symlink():
        target.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(target, folder))
    return key


def build_base_model(recipe: Recipe, store: RunStore, console: Console) -> Path | None:
    """Build ``[study.tiny_base_model]`` into ``<run>/base_model`` unless it is up to date."""
    assert recipe.study is not None
    spec = recipe.study.tiny_base_model
    if spec is None:
        return None
    corpus = recipe.resolve_path(spec.corpus)
    if not corpus.exists():
        raise UserError("no such corpus file", where=str(corpus), field="study.tiny_base_model.corpus")
    out = base_model_dir(store)
    stamp = out / "jre-build.json"
    digest = config_hash({**spec.model_dump(), "corpus": corpus.read_text(encoding="utf-8")})
    if stamp.exists() and json.loads(stamp.read_text()).get("hash") == digest:
        return out

    console.print(f"study: building the tiny base model → {out}")
    texts = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    build_tiny_model(out, corpus=texts, vocab_size=spec.vocab_size, hidden_size=spec.hidden_size,
                     num_layers=spec.layers, num_heads=spec.heads, num_kv_heads=spec.kv_heads,
                     max_positions=spec.max_positions, split_digits=spec.split_digits, seed=spec.seed)
    stamp.write_text(json.dumps({"hash": digest}) + "\n")
    return out


def study_runs(recipe: Recipe, store: RunStore) -> tuple[dict[str, Path], Any, str | None]:
    """(experiment → run folder, factor table, base model) of the selected grid, for analyze."""
    assert recipe.study is not None
    grid, names = selected_experiments(recipe.study, str(recipe.path))
    base = base_model_dir(store) if recipe.study.tiny_base_model else None
    return ({n: experiment_dir(store, n, grid) for n in names}, factor_frame(recipe, names),
            str(base) if base is not None and base.exists() else None)


def run_study(run: Run, wanted: Sequence[str]) -> Path | None:
    """Run the ``wanted`` stages: every selected experiment's through :func:`jre.run.execute`
    in its own run folder, then the study's analyses and report (the caller has checked
    :func:`study_problems` first, as :func:`~jre.run.execute` does).

    Returns the HTML report's path (None when the report stage did not run).
    """
    import time

    from jre.run import execute, run_stage  # jre.run imports this module

    recipe, store, console = run.recipe, run.store, run.console
    assert recipe.study is not None
    stages = available_stages()
    grid, names = selected_experiments(recipe.study, str(recipe.path))
    per_experiment = [s for s in wanted if s in EXPERIMENT_STAGES]
    started = time.monotonic()
    store.root.mkdir(parents=True, exist_ok=True)
    console.print(f"study {recipe.name}: {len(names)} experiment(s)"
                  + (f" (grid {grid})" if grid else "") + f": {', '.join(names)}")
    if recipe.study.estimate and per_experiment:
        console.print(f"expected time: {recipe.study.estimate}")
    if per_experiment:
        build_base_model(recipe, store, console)
    for index, name in enumerate(names, 1):
        if not per_experiment:
            break
        exp = experiment_run(run, name, grid)
        exp.store.root.mkdir(parents=True, exist_ok=True)
        upstream = ""
        for stage in EXPERIMENT_STAGES:  # every declared stage, so keys never depend on --only
            if getattr(exp.recipe, stage) is not None:
                upstream = share_stage(exp.recipe, exp.store.root, stage, upstream)
        chosen = [s for s in per_experiment if getattr(exp.recipe, s) is not None]
        for stage in chosen:
            console.rule(f"{recipe.name} [{index}/{len(names)}] {name}: {stage}")
            execute(exp, [stage], announce=False, check=False)
    report = None
    ctx = run.context()
    for stage in ("analyze", "report"):
        if stage in wanted:
            console.rule(f"{recipe.name}: {stage}")
            run_stage(stages[stage], ctx)
    if "report" in wanted:
        report = store.root / "report" / "report.html"
    print_summary(recipe, store, names, grid, time.monotonic() - started, report, console)
    return report


def print_summary(recipe: Recipe, store: RunStore, names: list[str], grid: str | None,
                  seconds: float, report: Path | None, console: Console) -> None:
    """A few lines on what the study found, naming the report file."""
    from rich.table import Table

    table = Table(title=f"study {recipe.name}: {len(names)} experiments in {seconds:.0f} s")
    benches: list[str] = []
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for name in names:
        for path in sorted(experiment_dir(store, name, grid).glob("eval/*/results.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            bench = data.get("benchmark", path.parent.name)
            if bench not in benches:
                benches.append(bench)
            results[(name, bench)] = data
    table.add_column("experiment")
    for bench in benches:
        table.add_column(f"{bench} score / failure", justify="right")
    for name in names:
        cells = []
        for bench in benches:
            r = results.get((name, bench))
            cells.append("-" if r is None else f"{r.get('score', 0):.3f} / {r.get('failure_rate', 0):.3f}")
        table.add_row(name, *cells)
    console.print(table)
    aicc = store.root / "analyze" / "aicc" / "summary.md"
    if aicc.exists():
        console.print(aicc.read_text(encoding="utf-8").strip())
    if report is not None:
        import click

        click.echo(f"report: {report}")
