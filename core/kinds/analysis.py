"""Analyses: results of many runs in, tables and figures out."""

from __future__ import annotations

from typing import ClassVar

from jre.kinds.base import Plugin


class Analysis(Plugin):
    """An analysis plugin turns evaluation results and recipe factors into findings."""

    kind: ClassVar[str] = "analysis"
