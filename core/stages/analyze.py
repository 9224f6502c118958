"""The ``analyze`` stage: results of many runs + a factor table → tables, figures, summaries.

Output: ``<run>/analyze/<analysis>/`` holding ``result.json``, ``summary.md``, ``tables/``,
``figures/``, the inputs the analysis saw (``inputs/results.csv``, ``inputs/factors.csv``,
``inputs/inputs.json``) and ``rerun.toml``, a recipe that reruns the analysis from those
files alone (``jre analyze rerun.toml``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.kinds import Analysis
from jre.kinds.analysis import AnalysisInputs, result_row, results_frame
from jre.plugin_manager import PluginSet
from jre.recipe import Recipe, config_hash, resolved_dict
from jre.stages import Stage, StageContext
from jre.store import RunStore, file_hash
from jre.study import selected_experiments, study_runs
from jre.toml_text import toml_dumps


def run_factors(folder: Path) -> dict[str, Any]:
    """The ``factors`` table of the recipe a run folder was made from (``{}`` when none)."""
    path = folder / "recipe.toml"
    if not path.exists():
        return {}
    try:
        return dict(tomllib.loads(path.read_text(encoding="utf-8")).get("factors", {}))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"unreadable recipe copy ({exc})", where=str(path)) from None


def gather_inputs(runs: dict[str, Path], factors: Any = None,
                  base_model: str | None = None) -> AnalysisInputs:
    """Inputs from run folders (run id → folder): their eval results, data and factors.

    ``factors`` (a DataFrame with a ``run`` column) replaces the factors the run folders'
    recipes declare.
    """
    import pandas as pd

    rows, datasets, factor_rows = [], {}, []
    for run, folder in runs.items():
        for results_json in sorted(folder.glob("eval/*/results.json")):
            try:
                data = json.loads(results_json.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise UserError(f"unreadable results ({exc})", where=str(results_json)) from None
            details = results_json.parent / "details.jsonl"
            rows.append(result_row(run, data, str(details.resolve()) if details.exists() else None))
        for shard_dir in sorted(folder.glob("synth/*/shards")):
            files = sorted(p.resolve() for p in shard_dir.glob("*.jsonl"))
            if files:
                datasets[f"{run}/{shard_dir.parent.name}"] = files
        mix = sorted(p.resolve() for p in (folder / "mix" / "dataset").glob("*.parquet"))
        if mix:
            datasets[f"{run}/mix"] = mix
        factor_rows.append({"run": run, **run_factors(folder)})
    if factors is None:
        factors = pd.DataFrame(factor_rows)
    return AnalysisInputs(results=results_frame(rows), factors=factors, datasets=datasets,
                          base_model=base_model, runs={k: v.resolve() for k, v in runs.items()})


def _base_model(recipe: Recipe) -> str | None:
    section = recipe.analyze
    name = (section.base_model if section and section.base_model else
            recipe.train.base_model if recipe.train else None)
    if name is None:
        return None
    local = recipe.resolve_path(name)
    return str(local) if local.exists() else name


def recipe_inputs(recipe: Recipe, store: RunStore) -> AnalysisInputs:
    """The inputs an ``[analyze]`` table describes (CSV files, or run folders)."""
    import pandas as pd

    section = recipe.analyze
    assert section is not None
    base = _base_model(recipe)
    factors = None
    if section.factors:
        path = recipe.resolve_path(section.factors)
        if not path.exists():
            raise UserError("no such factor file", where=str(path), field="analyze.factors")
        factors = pd.read_csv(path, dtype={"run": str})
        if "run" not in factors.columns:
            raise UserError("the factor CSV needs a `run` column", where=str(path),
                            field="analyze.factors")
    if section.results:
        path = recipe.resolve_path(section.results)
        if not path.exists():
            raise UserError("no such results file", where=str(path), field="analyze.results")
        meta = recipe.resolve_path(section.inputs) if section.inputs else None
        inputs = AnalysisInputs.read(path, None, meta)
        if factors is not None:
            inputs.factors = factors
        inputs.base_model = base or inputs.base_model
        return inputs
    if recipe.study is not None and not section.runs:
        experiment_runs, study_factors, study_base = study_runs(recipe, store)
        missing = [name for name, folder in experiment_runs.items() if not folder.is_dir()]
        if missing:
            raise UserError(f"experiment(s) {', '.join(missing)} have not run yet (jre run the study)",
                            where=str(store.root / "experiments"), field="analyze")
        return gather_inputs(experiment_runs, study_factors if factors is None else factors,
                             study_base or base)
    folders = [recipe.resolve_path(r) for r in section.runs] or [store.root]
    runs: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise UserError("no such run folder", where=str(folder), field="analyze.runs")
        if folder.name in runs:
            # Run ids are folder names; two folders of one name would merge their results.
            raise UserError(f"two run folders are named {folder.name!r}", where=str(folder),
                            field="analyze.runs")
        runs[folder.name] = folder
    return gather_inputs(runs, factors, base)


def check(recipe: Recipe, store: RunStore, planned: set[str]) -> list[UserError]:
    """The files and run folders ``[analyze]`` names exist."""
    section = recipe.analyze
    assert section is not None
    problems = []
    for key in ("results", "factors", "inputs"):
        value = getattr(section, key)
        if value and not recipe.resolve_path(value).is_file():
            problems.append(UserError(f"no such {key} file", where=str(recipe.resolve_path(value)),
                                      field=f"analyze.{key}"))
    if not section.results:
        for i, run_folder in enumerate(section.runs):
            if not recipe.resolve_path(run_folder).is_dir():
                problems.append(UserError("no such run folder", where=str(recipe.resolve_path(run_folder)),
                                          field=f"analyze.runs[{i}]"))
    return problems


def rerun_recipe(name: str, options: dict[str, Any]) -> str:
    """A recipe that reruns analysis ``name`` with ``options`` from the ``inputs/`` folder."""
    ref = {"name": name, **{k: v for k, v in options.items() if k != "name"}}
    recipe = {"schema_version": 1, "name": f"rerun-{name}", "run_dir": "rerun",
              "analyze": {"results": "inputs/results.csv", "factors": "inputs/factors.csv",
                          "inputs": "inputs/inputs.json", "analyses": [ref]}}
    return ("# Reruns this analysis from the inputs written next to it: jre analyze rerun.toml\n"
            + toml_dumps(recipe))


def run_analyses(recipe: Recipe, store: RunStore, inputs: AnalysisInputs, *,
                 plugins: PluginSet, force: bool = False, console: Any = None) -> list[Path]:
    """Run every analysis of ``recipe.analyze`` on ``inputs``; returns the result.json paths."""
    import tempfile

    section = recipe.analyze
    assert section is not None
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp)
        inputs.write(probe)
        digest = {name: file_hash(probe / name) for name in ("results.csv", "factors.csv", "inputs.json")}
    inputs.plugins = plugins
    for ref in section.analyses:
        plugin = plugins.get(Analysis, ref.name)
        options = resolved_dict(ref)
        folder = store.stage_dir("analyze", ref.key)
        chash = config_hash(options)
        result_json = folder / "result.json"
        step = store.step("analyze", ref.key, config_hash=chash, inputs=digest,
                          plugins=plugins.versions(plugin), force=force, outputs=[result_json])
        if step.fresh:
            if console:
                console.print(f"analyze {ref.key}: up to date (use --force to redo)")
            written.append(result_json)
            continue
        with step:
            output = plugin.run(ref.config, inputs)
            inputs.write(folder / "inputs")
            (folder / "rerun.toml").write_text(rerun_recipe(ref.name, options), encoding="utf-8")
            written.append(output.write(folder, analysis=ref.name, config=options))
            step.finish(counts={"tables": len(output.tables), "figures": len(output.figures)})
        if console:
            console.print(f"analyze {ref.key}: {folder}")
            first = output.summary.splitlines()[0] if output.summary else ""
            if first:
                console.print(f"  {first}")
    return written


def run(ctx: StageContext) -> None:
    inputs = recipe_inputs(ctx.recipe, ctx.store)
    run_analyses(ctx.recipe, ctx.store, inputs, plugins=ctx.plugins, force=ctx.force,
                 console=ctx.console)


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    section = recipe.analyze
    assert section is not None
    source = (f"results {section.results}" if section.results else
              f"runs {', '.join(section.runs)}" if section.runs else "this run's results")
    if recipe.study is not None and not section.runs and not section.results:
        grid, names = selected_experiments(recipe.study, str(recipe.path))
        source = (f"the study's {len(names)} experiments" + (f" (grid {grid})" if grid else "")
                  + f": {', '.join(names)}, each run through the stages above")
    return [f"analyses {', '.join(r.key for r in section.analyses)} over {source}"]


STAGE = Stage(name="analyze", run=run, plan=plan, check=check,
              help="Run the analyses of RECIPE_FILE's [analyze] table over its runs' results.")
