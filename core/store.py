"""The run store: a run directory, stage manifests, and resumable append-only shards.

Layout::

    <recipe folder>/runs/<recipe name>/      (or the recipe's run_dir, or --run-dir)
      recipe.toml                 the recipe as run
      <stage>/[<part>/]manifest.json
      <stage>/[<part>/]shards/<worker>.jsonl

A manifest records the config hash and input hashes of a stage; a stage whose manifest
is complete and matches is skipped on rerun. Shards are JSON lines keyed by a stable id:
a killed writer loses at most its uncommitted batch, and a resumed one writes no duplicate.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jre.errors import UserError

MANIFEST = "manifest.json"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def file_hash(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, or of a folder's files (names and bytes, sorted)."""
    digest = hashlib.sha256()
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        if path.is_dir():
            digest.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def dumps_json(data: Any, *, indent: int | None = None) -> str:
    """JSON text that UTF-8 can always encode.

    Model output may hold lone surrogates (half a UTF-16 pair, e.g. ``"\\ud800"``), which
    UTF-8 cannot encode; such data is written with ``\\u`` escapes, which JSON reads back
    as the very same string (a high half directly followed by a low half is a pair, which
    JSON reads back as the one character it encodes). NUL and other control characters are
    always escaped.
    """
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=indent, ensure_ascii=True, default=str)
    return text


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(dumps_json(data, indent=2))
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


#: ``<run>/recipe.origin``: the path of the recipe file ``<run>/recipe.toml`` was copied from.
ORIGIN = "recipe.origin"


def recipe_base_dir(run_root: Path) -> Path:
    """The folder a run's relative data paths resolve against: the original recipe's, when
    ``recipe.origin`` names one that still exists, else the run folder itself."""
    origin = run_root / ORIGIN
    if origin.exists():
        source = Path(origin.read_text(encoding="utf-8").strip())
        if source.exists():
            return source.parent
    return run_root


@dataclass
class Manifest:
    """What a stage (or one part of it) did, with what inputs, under which versions."""

    stage: str
    config_hash: str
    inputs: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    jre_version: str = ""
    plugins: dict[str, str] = field(default_factory=dict)
    started: str = field(default_factory=_now)
    finished: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, config_hash: str, inputs: dict[str, str],
                plugins: dict[str, str] | None = None) -> bool:
        """True when complete and produced from the same config, inputs and (when given)
        versions of the plugins that made the outputs."""
        return (self.status == "complete" and self.config_hash == config_hash and self.inputs == inputs
                and (plugins is None or self.plugins == plugins))


class Step:
    """One stage (or stage part) under the store: skip-if-unchanged, begin, finish.

    Made by :meth:`RunStore.step`. ``fresh`` says a complete manifest matches the config,
    the inputs and the plugin versions (and the ``outputs`` exist). Used as a context
    manager it writes a ``running`` manifest on entry; :meth:`finish` records ``complete``,
    :meth:`incomplete` records work still missing, and an exception leaves ``failed`` with
    the error, so a rerun redoes the step instead of saying "up to date".
    """

    def __init__(self, store: RunStore, stage: str, parts: tuple[str, ...], config_hash: str,
                 inputs: dict[str, str], plugins: dict[str, str], fresh: bool,
                 previous: Manifest | None) -> None:
        self.store, self.stage, self.parts = store, stage, parts
        self.config_hash, self.inputs, self.plugins = config_hash, inputs, plugins
        self.fresh, self.previous = fresh, previous
        self.manifest: Manifest | None = None

    def begin(self) -> Step:
        """Write the ``running`` manifest (what entering ``with step:`` does)."""
        self.manifest = self.store.begin(self.stage, *self.parts, config_hash=self.config_hash,
                                         inputs=self.inputs, plugins=self.plugins)
        return self

    def __enter__(self) -> Step:
        return self.begin()

    def finish(self, counts: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
               status: str = "complete") -> Manifest:
        """Record the outcome (``complete`` unless told otherwise)."""
        assert self.manifest is not None, "finish() inside `with step:`"
        return self.store.finish(self.manifest, *self.parts, counts=counts, extra=extra, status=status)

    def incomplete(self, counts: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> Manifest:
        """Record that some work is still missing (a rerun does it)."""
        return self.finish(counts, extra, status="incomplete")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if self.manifest is not None and self.manifest.finished is None:
            self.finish(extra={"error": f"{kind.__name__}: {exc}" if kind else "stopped"},
                        status="failed")


class RunStore:
    """One run directory. Stages write under ``stage_dir(stage)`` and nowhere else."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._open: dict[int, tuple[Manifest, tuple[str, ...]]] = {}  # begun, not finished

    @classmethod
    def for_recipe(cls, recipe: Any, override: str | Path | None = None) -> RunStore:
        """``override`` (relative to the working directory), else the recipe's ``run_dir``, else
        ``runs/<recipe name>`` beside the recipe file; always absolute.

        The default follows the recipe, like every path a recipe names, so a rerun from any
        working directory finds the run it resumes.
        """
        if override:
            return cls(Path(override).expanduser().resolve())
        return cls(recipe.resolve_path(recipe.run_dir or f"runs/{recipe.name}").resolve())

    def stage_dir(self, stage: str, *parts: str) -> Path:
        path = self.root.joinpath(stage, *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def manifest_path(self, stage: str, *parts: str) -> Path:
        return self.root.joinpath(stage, *parts, MANIFEST)

    def read_manifest(self, stage: str, *parts: str) -> Manifest | None:
        path = self.manifest_path(stage, *parts)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Manifest(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise UserError(f"unreadable manifest ({exc})", where=str(path)) from None

    def is_fresh(self, stage: str, *parts: str, config_hash: str, inputs: dict[str, str]) -> bool:
        """Whether the stage part already completed with this config and these inputs."""
        manifest = self.read_manifest(stage, *parts)
        return manifest is not None and manifest.matches(config_hash, inputs)

    def step(self, stage: str, *parts: str, config_hash: str, inputs: dict[str, str] | None = None,
             plugins: dict[str, str] | None = None, force: bool = False,
             outputs: Iterable[Path] = ()) -> Step:
        """The :class:`Step` of ``stage`` (``parts``: a sub-folder, e.g. one benchmark).

        ``plugins`` maps each plugin that produces the outputs to its version
        (:meth:`jre.plugin_manager.PluginSet.versions`): a changed plugin redoes the step.
        """
        inputs, plugins = dict(inputs or {}), dict(plugins or {})
        previous = self.read_manifest(stage, *parts)
        fresh = (not force and previous is not None and previous.matches(config_hash, inputs, plugins)
                 and all(Path(p).exists() for p in outputs))
        return Step(self, stage, parts, config_hash, inputs, plugins, fresh, previous)

    def begin(self, stage: str, *parts: str, config_hash: str,
              inputs: dict[str, str] | None = None, plugins: dict[str, str] | None = None) -> Manifest:
        """Write a ``running`` manifest; call :meth:`finish` when the work is complete."""
        from jre import __version__  # jre/__init__ imports hookspecs, whose imports reach this module

        manifest = Manifest(stage=stage, config_hash=config_hash, inputs=dict(inputs or {}),
                            jre_version=__version__, plugins=dict(plugins or {}))
        write_json_atomic(self.manifest_path(stage, *parts), asdict(manifest))
        self._open[id(manifest)] = (manifest, parts)
        return manifest

    def fail_open(self, exc: BaseException) -> None:
        """Record ``failed`` (with the error) on every manifest begun and not finished: what
        :func:`jre.run.execute` does when a stage raises, so no stage leaves a ``running``
        manifest behind and a rerun redoes that work."""
        for manifest, parts in list(self._open.values()):
            self.finish(manifest, *parts, extra={"error": f"{type(exc).__name__}: {exc}"},
                        status="failed")

    def finish(self, manifest: Manifest, *parts: str, counts: dict[str, Any] | None = None,
               extra: dict[str, Any] | None = None, status: str = "complete") -> Manifest:
        """Record the outcome: ``complete``, or ``incomplete`` when some work is still missing
        (a rerun then does it instead of saying "up to date")."""
        self._open.pop(id(manifest), None)
        manifest.status = status
        manifest.finished = _now()
        manifest.counts.update(counts or {})
        manifest.extra.update(extra or {})
        write_json_atomic(self.manifest_path(manifest.stage, *parts), asdict(manifest))
        return manifest


# ---------------------------------------------------------------------------------------
# Append-only shards

_KEY_PREFIX = re.compile(r'^\{"(?P<field>[^"]+)": "(?P<key>(?:[^"\\]|\\.)*)"')


class ShardWriter:
    """Append JSON records to one shard file, keyed by ``record[key]``.

    Records are buffered and made durable (flush + fsync) every ``batch_size`` writes or
    on :meth:`commit`. On open, a torn last line left by a killed writer is cut off and the
    keys already present are loaded, so :meth:`write` skips anything written before.
    """

    def __init__(self, path: str | Path, *, key: str = "id", batch_size: int = 64,
                 known: set[str] | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self.batch_size = batch_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keys: set[str] = known if known is not None else set()
        self.dropped_torn = repair_shard(self.path)
        if self.path.exists():
            self.keys.update(iter_keys(self.path, key))
        self._fh = open(self.path, "a", encoding="utf-8")
        self._pending = 0
        self.committed = len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def write(self, record: dict[str, Any]) -> bool:
        """Append ``record`` unless its key was written already; returns whether it was."""
        key = record[self.key]
        if key in self.keys:
            return False
        ordered = {self.key: key, **{k: v for k, v in record.items() if k != self.key}}
        self._fh.write(dumps_json(ordered) + "\n")
        self.keys.add(key)
        self._pending += 1
        if self._pending >= self.batch_size:
            self.commit()
        return True

    def commit(self) -> int:
        """Make every written record durable; returns how many are committed in total."""
        if self._pending:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.committed += self._pending
            self._pending = 0
        return self.committed

    def close(self) -> None:
        if not self._fh.closed:
            self.commit()
            self._fh.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def repair_shard(path: Path) -> int:
    """Cut a torn (unterminated) last line off ``path``; returns the bytes dropped."""
    if not path.exists():
        return 0
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the last newline in blocks.
        pos, block = size, 1 << 16
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            pos = start
        else:
            keep = 0
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
        return size - keep


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each complete line; a torn last line is left out.
    A line that is not UTF-8 is a :class:`UserError` naming the file and line."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                return  # torn by a killed writer; repaired on the next open
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UserError("not UTF-8 text; fix or remove that line", where=str(path),
                                line=number) from None


def _record(path: Path, number: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"not a JSON record ({exc.msg}); fix or remove that line",
                        where=str(path), line=number) from None


def iter_keys(path: Path, key: str = "id") -> Iterator[str]:
    """The keys of a shard's records, read from each line's leading field (fast path)."""
    for number, line in _lines(path):
        match = _KEY_PREFIX.match(line)
        if match and match.group("field") == key:
            yield json.loads(f'"{match.group("key")}"')
        elif line.strip():
            record = _record(path, number, line)
            if not isinstance(record, dict) or key not in record:
                raise UserError(f"record without {key!r}; fix or remove that line",
                                where=str(path), line=number)
            yield record[key]


def iter_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every record of the given shard files, skipping a torn last line. A complete line
    that is not a JSON object is a :class:`UserError` naming the file and line."""
    for path in paths:
        for number, line in _lines(path):
            if not line.strip():
                continue
            record = _record(path, number, line)
            if not isinstance(record, dict):
                raise UserError("not a JSON object; fix or remove that line", where=str(path),
                                line=number)
            yield record


def shard_paths(folder: Path) -> list[Path]:
    """The shard files of a folder, sorted."""
    return sorted(folder.glob("*.jsonl")) if folder.exists() else []


def shard_keys(folder: Path, key: str = "id") -> set[str]:
    """Keys already written by any worker into ``folder``'s shards."""
    keys: set[str] = set()
    for path in shard_paths(folder):
        repair_shard(path)
        keys.update(iter_keys(path, key))
    return keys
