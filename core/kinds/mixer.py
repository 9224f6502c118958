"""Mixers: compose triples from several sources into one SFT dataset.

The ``mix`` stage hands a mixer a :class:`MixContext` (the recipe, its run store, the
folder to write Parquet shards into, the student's tokenizer and context length) and
records what :meth:`Mixer.mix` returns in ``<run>/mix/manifest.json``.

Every mixer writes the same dataset contract: Parquet shards under ``ctx.out_dir`` with at
least the columns of :data:`MIX_COLUMNS` (``messages`` holds the chat form, the assistant
turn being ``<think>\\n…\\n</think>\\n\\n…`` or the response alone when the trace is stripped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic

from jre.kinds.base import ConfigT, Plugin

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rich.console import Console

    from jre.plugin_manager import PluginSet
    from jre.recipe import Recipe
    from jre.store import RunStore

#: Columns every mix dataset has, in this order.
MIX_COLUMNS = ("id", "messages", "instruction", "reasoning", "response", "lang_in", "lang_trace",
               "domain", "source", "teacher", "component")


@dataclass
class MixContext:
    """What a mixer gets from the ``mix`` stage.

    ``tokenizer`` is the student's tokenizer path or id (``train.base_model`` when the recipe
    trains), used to measure token lengths; ``max_length`` the training context, used to
    report the share of examples longer than it; ``overlength`` what training does with them;
    ``plugins`` the run's plugin set (a mixer that checks the recipe's benchmarks loads them
    through it).
    """

    recipe: Recipe
    store: RunStore
    out_dir: Path
    tokenizer: str | None = None
    max_length: int | None = None
    overlength: str = "drop"
    console: Console | None = None
    plugins: PluginSet | None = None


@dataclass
class MixResult:
    """What a mixer reports: manifest ``counts`` and ``extra`` (stats, hashes, notes)."""

    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Mixer(Plugin, Generic[ConfigT]):
    """A mixer plugin builds an SFT dataset from source triples as a recipe describes.

    Implement :meth:`mix`; :meth:`plan` (for ``--dry-run``, reads no data) and
    :meth:`inputs` (fingerprints of the sources, so an unchanged mix is skipped on rerun)
    have simple defaults. ``config`` is the mixer's validated :attr:`config_model`.
    """

    kind: ClassVar[str] = "mixer"

    def plan(self, config: ConfigT, recipe: Recipe) -> list[str]:
        """Lines describing what :meth:`mix` would build, without reading any data."""
        return [f"mixer {self.name}"]

    def inputs(self, config: ConfigT, ctx: MixContext) -> dict[str, str]:
        """Source name → fingerprint; a change makes the stage rerun."""
        return {}

    def mix(self, config: ConfigT, ctx: MixContext) -> MixResult:
        """Write the dataset's Parquet shards into ``ctx.out_dir`` and report on them."""
        raise NotImplementedError
