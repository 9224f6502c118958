"""Teachers: a model, the engine it runs on, its reasoning format and default sampling."""

from __future__ import annotations

from typing import ClassVar

from jre.kinds.base import Plugin


class Teacher(Plugin):
    """A teacher plugin turns seed instructions into reasoning triples.

    Defaults (model id, engine, reasoning format, sampling) are class attributes a recipe
    can override through :attr:`config_model`.
    """

    kind: ClassVar[str] = "teacher"
