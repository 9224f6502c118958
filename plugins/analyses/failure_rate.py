"""``failure_rate``: a Table-3-style table of reasoning failure rates across runs.

The failure rate of a run on a benchmark is the share of outputs whose ``</think>`` never
closed, as the eval stage reports it in ``results.json``.
"""

from __future__ import annotations

from jre import hookimpl
from jre.kinds import Analysis
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput
from jre.plugins.analyses.scores import PivotConfig, mean_row, pivot


class FailureRate(Analysis):
    """Reasoning failure rates per run and benchmark (the reference study's Table 3)."""

    name = "failure_rate"
    description = "Table-3-style reasoning failure rates across runs"
    config_model = PivotConfig

    def run(self, config: PivotConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        config = config or PivotConfig()
        table = pivot(inputs, "failure_rate", config)
        # Runs evaluated without reasoning (the base model) have no failure rate at all.
        table = table[table.drop(columns=["run"]).notna().any(axis=1)].reset_index(drop=True)
        with_mean = mean_row(table)
        by_run = table.set_index("run").mean(axis=1, numeric_only=True)
        lines = [f"Reasoning failure rates of {len(table)} run(s) on {len(table.columns) - 1} "
                 f"benchmark(s) (share of outputs whose </think> never closed)."]
        if by_run.notna().any():
            lines.append(f"- most stable run: {by_run.idxmin()} (mean {by_run.min():.3f}); "
                         f"least stable: {by_run.idxmax()} (mean {by_run.max():.3f})")
        return AnalysisOutput(summary="\n".join(lines), tables={"failure_rate": with_mean},
                              data={"mean_by_run": {k: (None if v != v else float(v))
                                                    for k, v in by_run.items()}})


@hookimpl
def register_analyses(register):
    register(FailureRate())
