"""``[analyze]``: analyses over the results of one or many runs."""

from __future__ import annotations

from jre.kinds.base import StrictModel
from jre.sections.refs import AnalysisRef


class AnalyzeSection(StrictModel):
    analyses: list[AnalysisRef]
