"""Mixers: compose triples from several sources into one SFT dataset."""

from __future__ import annotations

from typing import ClassVar

from jre.kinds.base import Plugin


class Mixer(Plugin):
    """A mixer plugin builds an SFT dataset from source triples as a recipe describes."""

    kind: ClassVar[str] = "mixer"
