"""What every plugin object has in common: a name, a description, an optional config model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base of every recipe table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    def inapplicable(self) -> set[str]:
        """Fields whose values play no part given the others (``jre recipe show`` leaves them
        out); a table overrides this where a choice like a loader decides what applies."""
        return set()


ConfigT = TypeVar("ConfigT", bound=BaseModel)
"""A kind's config model: ``class Scores(Analysis[PivotConfig])`` types ``run``'s config."""


class Plugin:
    """A registered plugin object.

    ``name`` is how recipes refer to it; ``config_model`` (a :class:`StrictModel`) validates
    the recipe table a user writes for it. A plugin without options leaves it ``None``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel] | None] = None

    def parse_config(self, options: Mapping[str, Any] | None, plugins: Any = None) -> BaseModel | None:
        """Validate ``options`` against :attr:`config_model` (raises pydantic.ValidationError).

        ``plugins``, the plugin set the recipe is read with, reaches validators as
        ``info.context["plugins"]`` (an option naming another plugin, such as a judge engine)."""
        if self.config_model is None:
            if options:
                raise ValueError(f"{self.kind} {self.name!r} takes no options, got {sorted(options)}")
            return None
        return self.config_model.model_validate(dict(options or {}), context={"plugins": plugins})
