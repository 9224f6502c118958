"""``failure_rate``: a Table-3-style table of reasoning failure rates across runs.

Two rates, as the eval stage reports them in ``results.json``: per sample (the share of
outputs whose ``</think>`` never closed; table ``failure_rate``) and per question (the
share of questions with at least one unclosed sample, the paper's definition; table
``failure_rate_per_question``). With one sample per question they are equal.
"""

from __future__ import annotations

from jre import hookimpl
from jre.kinds import Analysis
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection
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
        tables = {"failure_rate": with_mean}
        if "failure_rate_per_question" in inputs.results:
            per_question = pivot(inputs, "failure_rate_per_question", config)
            per_question = per_question[per_question["run"].isin(table["run"])].reset_index(drop=True)
            if per_question.drop(columns=["run"]).notna().any().any():
                tables["failure_rate_per_question"] = mean_row(per_question)
        by_run = table.set_index("run").mean(axis=1, numeric_only=True)
        lines = [f"Reasoning failure rates of {len(table)} run(s) on {len(table.columns) - 1} "
                 f"benchmark(s), per sample: the share of outputs whose </think> never closed."]
        if "failure_rate_per_question" in tables:
            lines.append("Per question (table failure_rate_per_question): the share of questions "
                         "with at least one unclosed sample.")
        if by_run.notna().any():
            lines.append(f"- most stable run: {by_run.idxmin()} (mean {by_run.min():.3f}); "
                         f"least stable: {by_run.idxmax()} (mean {by_run.max():.3f})")
        sections = [ReportSection("Table 3 · Reasoning failure rates (per sample)", table="failure_rate",
                                  order=30, summary=True)]
        if "failure_rate_per_question" in tables:
            sections.append(ReportSection("Table 3b · Reasoning failure rates (per question)",
                                          table="failure_rate_per_question", order=31))
        return AnalysisOutput(summary="\n".join(lines), tables=tables, sections=sections,
                              data={"mean_by_run": {k: (None if v != v else float(v))
                                                    for k, v in by_run.items()}})


@hookimpl
def register_analyses(register):
    register(FailureRate())
