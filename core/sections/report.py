"""``[report]``: the study report written from the analyses."""

from __future__ import annotations

from jre.kinds.base import StrictModel


class ReportSection(StrictModel):
    title: str | None = None
