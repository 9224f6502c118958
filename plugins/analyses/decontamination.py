"""``decontamination``: the benchmark overlaps each run's mix manifest recorded.

Reads ``<run>/mix/manifest.json`` (``extra.decontamination``, written by the composition
mixer; see :mod:`jre.lib.decontam`) and tabulates per run and benchmark how many source
rows shared an 8/13-gram with a benchmark question, how many the mix took and how many
``decontaminate = true`` dropped.
"""

from __future__ import annotations

import json

from jre import hookimpl
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput

COLUMNS = ["run", "benchmark", "questions", "found", "in_mix", "dropped", "example_ids"]


class DecontaminationConfig(StrictModel):
    """``decontamination`` has no options."""


class Decontamination(Analysis[DecontaminationConfig]):
    """Benchmark-question overlaps found in each run's SFT mix."""

    name = "decontamination"
    description = "overlaps of each run's SFT mix with the [eval] benchmarks' questions"
    config_model = DecontaminationConfig

    def run(self, config: DecontaminationConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd

        rows = []
        for run, folder in inputs.runs.items():
            path = folder / "mix" / "manifest.json"
            if not path.exists():
                continue
            found = (json.loads(path.read_text(encoding="utf-8")).get("extra") or {}).get(
                "decontamination")
            if not found:
                continue
            for bench, counts in found.get("benchmarks", {}).items():
                rows.append({"run": run, "benchmark": bench, "questions": counts.get("questions"),
                             "found": counts.get("found", 0), "in_mix": counts.get("in_mix", 0),
                             "dropped": counts.get("dropped", 0),
                             "example_ids": " ".join(counts.get("example_ids", []))})
        table = pd.DataFrame(rows, columns=COLUMNS)
        if table.empty:
            return AnalysisOutput(summary="No mix manifest with a decontamination check.",
                                  tables={"decontamination": table})
        summary = (f"SFT mixes checked against the [eval] benchmarks' questions (8/13-gram "
                   f"overlap): {int(table['found'].sum())} overlapping source row(s), "
                   f"{int(table['in_mix'].sum())} in the mixes, {int(table['dropped'].sum())} dropped.")
        return AnalysisOutput(summary=summary, tables={"decontamination": table})


@hookimpl
def register_analyses(register):
    register(Decontamination())
