"""Where a mix component's triples come from, and streaming them row by row.

A source is written in the recipe as either the name of a synth dataset (of this recipe, or
one already present in this run's ``synth/`` folder), or a path: a JSONL or Parquet file of
Triple records, a folder of such files, or another run's ``synth/<dataset>`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jre.errors import UserError

_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class Source:
    """A resolved source: a label for the manifest and the files to stream, in order."""

    label: str
    files: tuple[Path, ...]
    synth_dataset: str | None = None

    def fingerprint(self) -> str:
        """Cheap change detector (names, sizes, mtimes): sources can be tens of GB."""
        parts = []
        for path in self.files:
            st = path.stat()
            parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
        return "|".join(parts)


def _data_files(folder: Path) -> list[Path]:
    shards = folder / "shards"
    if shards.is_dir():
        folder = shards
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _SUFFIXES
                  and not p.name.startswith("."))


def resolve_source(spec: str, recipe: Any, store: Any, *, field: str) -> Source:
    """Resolve a component's ``source`` string (raises :class:`UserError` when nothing is there)."""
    where = str(recipe.path) if recipe.path else None
    synth = getattr(recipe, "synth", None)
    in_recipe = synth is not None and spec in synth.datasets
    run_folder = store.root / "synth" / spec
    if in_recipe or (run_folder / "shards").is_dir():
        files = _data_files(run_folder) if run_folder.is_dir() else []
        if not files:
            raise UserError(f"synth dataset {spec!r} has no triples yet in {run_folder}; "
                            "run `jre synth` first", where=where, field=field)
        return Source(label=f"synth:{spec}", files=tuple(files), synth_dataset=spec)
    path = recipe.resolve_path(spec)
    if path.is_file():
        if path.suffix not in _SUFFIXES:
            raise UserError(f"source {path} is not a .jsonl or .parquet file", where=where, field=field)
        return Source(label=str(path), files=(path,))
    if path.is_dir():
        files = _data_files(path)
        if not files:
            raise UserError(f"source folder {path} holds no .jsonl or .parquet triples",
                            where=where, field=field)
        return Source(label=str(path), files=tuple(files))
    raise UserError(f"source {spec!r} not found: not a synth dataset of this recipe and no such "
                    f"file or folder ({path})", where=where, field=field)

