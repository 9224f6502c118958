"""Plugin references inside a recipe: ``name`` plus the plugin's own options.

A reference may be written as a bare string (``engine = "hf"``) or as a table
(``[eval.engine] name = "hf"  model = "..."``). Structural validation keeps the extra keys;
:func:`jre.recipe.load_recipe` then validates them against the plugin's ``config_model``
and stores the result in :attr:`PluginRef.config`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator


class PluginRef(BaseModel):
    """A named plugin of :attr:`kind` with options validated by the plugin itself."""

    model_config = ConfigDict(extra="allow")
    kind: ClassVar[str] = ""
    name: str
    _config: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @property
    def options(self) -> dict[str, Any]:
        """The keys other than ``name``, as written in the recipe."""
        return dict(self.model_extra or {})

    @property
    def config(self) -> Any:
        """The plugin-validated options (set when the recipe is loaded)."""
        return self._config


class EngineRef(PluginRef):
    kind: ClassVar[str] = "engine"


class TeacherRef(PluginRef):
    kind: ClassVar[str] = "teacher"


class MixerRef(PluginRef):
    kind: ClassVar[str] = "mixer"


class BenchmarkRef(PluginRef):
    kind: ClassVar[str] = "benchmark"


class AnalysisRef(PluginRef):
    kind: ClassVar[str] = "analysis"
    # Names the analysis's folder (analyze/<id>/); needed when one analysis runs twice.
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

    @property
    def key(self) -> str:
        """The folder and report name of this analysis: its ``id``, else its plugin name."""
        return self.id or self.name
