"""``budget``: failure rate and score against the token budget, from one run's details.

For every run × benchmark, what ``failure_rate`` and ``score`` would have been had the run
used a smaller ``max_tokens`` (see :mod:`jre.budget`): outputs longer than a budget are cut
there with the evaluated model's tokenizer, split again and re-scored under the run's answer
policy. Exact for greedy decoding; for sampling, an estimate of the same outputs cut short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.budget import budget_curve, default_budgets
from jre.errors import UserError
from jre.kinds import Analysis, Benchmark, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, figure_png, pyplot
from jre.plugin_manager import PluginSet, get_plugins
from jre.recipe import load_recipe
from jre.store import iter_records, recipe_base_dir

COLUMNS = ["run", "benchmark", "budget", "failure_rate", "score", "cut", "n_samples"]


class BudgetConfig(StrictModel):
    """Options of ``budget``: the budgets to evaluate (default 1k, 2k, 4k … up to each run's
    ``max_tokens``), given as a list or as a ``step`` (step, 2·step … up to ``max_tokens``)."""

    budgets: list[int] | None = None
    step: int | None = Field(default=None, ge=1)
    tokenizer: str | None = None  # default: the model each run evaluated


def budgets_for(config: BudgetConfig, max_tokens: int) -> list[int]:
    """The budgets to evaluate for a run whose ``max_tokens`` was ``max_tokens``."""
    if config.budgets is not None:
        chosen = sorted({b for b in config.budgets if 0 < b <= max_tokens})
    elif config.step is not None:
        chosen = list(range(config.step, max_tokens, config.step))
    else:
        return default_budgets(max_tokens)
    return chosen if chosen and chosen[-1] == max_tokens else chosen + [max_tokens]


def _curves(run: str, folder: Path, config: BudgetConfig, plugins: PluginSet) -> list[dict[str, Any]]:
    from transformers import AutoTokenizer

    recipe_path = folder / "recipe.toml"
    if not recipe_path.exists() or not list(folder.glob("eval/*/details.jsonl")):
        return []
    recipe = load_recipe(recipe_path)
    if recipe.eval is None:
        return []
    refs = {ref.name: ref for ref in recipe.eval.benchmarks}
    rows: list[dict[str, Any]] = []
    tokenizers: dict[str, Any] = {}
    for results_json in sorted(folder.glob("eval/*/results.json")):
        results = json.loads(results_json.read_text(encoding="utf-8"))
        ref = refs.get(results_json.parent.name)
        max_tokens = (results.get("sampling") or {}).get("max_tokens")
        if ref is None or not max_tokens:
            continue
        plugin = plugins.get(Benchmark, ref.name)
        if plugin.judged or plugin.turns > 1:
            continue  # a judge's rating cannot be recomputed for a cut answer without asking it
        base_dir = recipe_base_dir(folder)  # relative data paths follow the original recipe
        benchmark = plugin.bind(ref.config, base_dir)
        items = benchmark.load(ref.config, base_dir).items
        name = config.tokenizer or results.get("model")
        if not name:
            raise UserError(f"no tokenizer for run {run}: its results name no model",
                            field="analyze.budget.tokenizer")
        if name not in tokenizers:
            try:
                tokenizers[name] = AutoTokenizer.from_pretrained(name)
            except (OSError, ValueError):
                raise UserError("cannot load the tokenizer to cut outputs with", where=name,
                                field="analyze.budget.tokenizer") from None
        records = list(iter_records([results_json.parent / "details.jsonl"]))
        engine = results.get("engine") or {}
        curve = budget_curve(benchmark, ref.config, items, records, tokenizers[name],
                             budgets_for(config, int(max_tokens)),
                             policy=results.get("answer_policy", "trace"),
                             reasoning_format=engine.get("reasoning_format", "think"))
        rows += [{"run": run, "benchmark": ref.name, **row, "n_samples": len(records)}
                 for row in curve]
    return rows


def _figure(table: Any) -> bytes:
    plt = pyplot()
    fig, (ax_f, ax_s) = plt.subplots(1, 2, figsize=(10, 3.6))
    for (run, bench), part in table.groupby(["run", "benchmark"]):
        ax_f.plot(part["budget"], part["failure_rate"], marker="o", label=f"{run} / {bench}")
        ax_s.plot(part["budget"], part["score"], marker="o", label=f"{run} / {bench}")
    for ax, label in ((ax_f, "failure rate"), (ax_s, "score")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("token budget (max_tokens)")
        ax.set_ylabel(label)
    ax_s.legend(fontsize=7)
    return figure_png(fig)


class Budget(Analysis[BudgetConfig]):
    """Failure rate and score vs token budget per run and benchmark, without regenerating."""

    name = "budget"
    description = "failure rate and score at every smaller token budget, from one run"
    config_model = BudgetConfig

    def run(self, config: BudgetConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd

        config = config or BudgetConfig()
        plugins = inputs.plugins if inputs.plugins is not None else get_plugins()
        rows = [row for run, folder in inputs.runs.items() for row in _curves(run, folder, config, plugins)]
        table = pd.DataFrame(rows, columns=COLUMNS)
        if table.empty:
            return AnalysisOutput(summary="No evaluated runs with details to cut at smaller budgets.",
                                  tables={"budget": table})
        lines = [("Failure rate and score had max_tokens been smaller (outputs cut at each budget "
                  "and re-scored; exact for greedy decoding).")]
        for (run, bench), part in table.groupby(["run", "benchmark"]):
            first, last = part.iloc[0], part.iloc[-1]
            lines.append(f"- {run} / {bench}: failure rate {first['failure_rate']:.3f} at "
                         f"{first['budget']} tokens → {last['failure_rate']:.3f} at {last['budget']}; "
                         f"score {first['score']:.3f} → {last['score']:.3f}")
        return AnalysisOutput(summary="\n".join(lines), tables={"budget": table},
                              figures={"budget": _figure(table)})


@hookimpl
def register_analyses(register):
    register(Budget())
