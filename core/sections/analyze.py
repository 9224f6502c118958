"""``[analyze]``: analyses over the results of one or many runs.

Results come from run folders (``runs``, default: this recipe's own run; a study passes its
experiments) or from a results CSV (``results``); factors come from each run's recipe
``factors`` table unless a factor CSV (``factors``) is given. A folder written by the
analyze stage (``<run>/analyze/<analysis>/inputs/``) holds exactly these files.
"""

from __future__ import annotations

from pydantic import field_validator

from jre.kinds.base import StrictModel
from jre.sections.refs import AnalysisRef


class AnalyzeSection(StrictModel):
    analyses: list[AnalysisRef]
    runs: list[str] = []  # run folders, relative to the recipe file
    results: str | None = None  # results CSV (see jre.kinds.analysis.RESULT_COLUMNS)
    factors: str | None = None  # factor CSV: `run` + one column per factor (rows of a run averaged)
    inputs: str | None = None  # inputs.json (datasets, base model) written next to an analysis
    base_model: str | None = None  # model before training (ppl, lengths); default train.base_model

    @field_validator("analyses")
    @classmethod
    def _distinct_folders(cls, analyses: list[AnalysisRef]) -> list[AnalysisRef]:
        seen: set[str] = set()
        for ref in analyses:
            if ref.key in seen:
                raise ValueError(f"two analyses would write analyze/{ref.key}/; give one an `id`")
            seen.add(ref.key)
        return analyses
