"""``[report]``: the study report (Markdown + one self-contained HTML) written from the analyses."""

from __future__ import annotations

from jre.kinds.base import StrictModel


class ReportSection(StrictModel):
    title: str | None = None  # default: the recipe's name
    precision: int = 3  # decimals shown in tables
    caveat: str | None = None  # shown under the title, e.g. "a demonstration, not a result"
