"""What every seed loader shares: the :class:`Seed` record, seeded sampling, the report of
what was dropped, and :class:`Source`, the rows of one split (local files or a hub dataset)."""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.rows import iter_rows

_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".gz")


@dataclass
class Seed:
    """One seed instruction. ``response`` holds an existing assistant answer (for replay)."""

    id: str
    instruction: str
    lang: str = "en"
    domain: str = "stem"
    source: str = ""
    response: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def priority(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest(), "big")


def lowest_k(items: Iterator[Seed], k: int | None, seed: int) -> list[Seed]:
    """A seeded uniform sample of ``k`` seeds (all when ``k`` is None), ordered by priority."""
    keyed = ((priority(seed, s.id), i, s) for i, s in enumerate(items))
    chosen = list(keyed) if k is None else heapq.nsmallest(k, keyed, key=lambda t: (t[0], t[1]))
    chosen.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in chosen]


class SeedSet(list):
    """The seeds of a dataset, in order, with :attr:`report`: what was read and dropped."""

    def __init__(self, seeds: Iterable[Seed] = (), report: dict[str, Any] | None = None) -> None:
        super().__init__(seeds)
        self.report: dict[str, Any] = report if report is not None else new_report()


def new_report() -> dict[str, Any]:
    """An empty seed report: rows scanned, drops by reason, code re-hydration, revisions."""
    return {"rows_scanned": 0, "dropped": {}, "code_rehydrated": 0, "code_unresolved": 0,
            "revisions": {}}


def drop(report: dict[str, Any], reason: str, n: int = 1) -> None:
    report["dropped"][reason] = report["dropped"].get(reason, 0) + n


def instruction_key(text: str) -> str:
    """Whitespace-normalised instruction, for spotting repeats."""
    return hashlib.blake2b(" ".join(text.split()).encode("utf-8"), digest_size=12).hexdigest()


def get_path(row: Any, dotted: str) -> Any:
    """``row["messages"][0]["content"]`` for ``messages.0.content``; KeyError when absent."""
    value = row
    for part in dotted.split("."):
        if isinstance(value, list) and part.lstrip("-").isdigit():
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(dotted)
    return value


# -- reading rows ----------------------------------------------------------------------


def data_files(path: Path, split: str | None = None, stem: str | None = None) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _DATA_SUFFIXES
                   and not p.name.startswith("."))
    if stem is not None:
        return [p for p in files if p.name.split(".")[0] == stem]
    if split is not None:
        # HF layouts: <split>.jsonl, <split>-00000-of-00004.parquet, data/<split>/*.parquet
        files = [p for p in files if p.name.split(".")[0] == split or p.stem.startswith(f"{split}-")
                 or p.parent.name == split]
    return files


def hub_revision(name: str, revision: str | None) -> str:
    """The commit a hub dataset ``revision`` (default: main) resolves to, or what was asked."""
    try:
        from huggingface_hub import HfApi

        return str(HfApi().dataset_info(name, revision=revision).sha)
    except Exception:  # offline, or no such dataset: keep what the recipe asked for
        return f"{revision or 'main'} (unresolved)"


def hub_rows(spec: Any, name: str, split: str, config: str | None) -> Iterator[dict[str, Any]]:
    import datasets

    try:
        ds = datasets.load_dataset(name, config, split=split, streaming=spec.streaming,
                                   revision=spec.revision)
    except Exception as exc:  # datasets raises many types for missing sets/splits/network
        raise UserError(f"cannot load dataset split {split!r}: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}", where=name) from None
    if spec.streaming:
        ds = ds.shuffle(seed=spec.seed, buffer_size=spec.shuffle_buffer)
    else:
        ds = ds.shuffle(seed=spec.seed)
    return iter(ds)


#: A converter returns a Seed, or the reason (a short string) the row is not one.
Converted = Seed | str


class Source:
    """Rows of one split: local files (sampled by hash) or a hub dataset (shuffled stream)."""

    def __init__(self, spec: Any, resolve: Callable[[str], Path], default_id: str,
                 split: str, config: str | None = None, report: dict[str, Any] | None = None,
                 stem: str | None = None) -> None:
        self.spec, self.split = spec, split
        name = spec.path or default_id
        local = resolve(name)
        self.label = name
        self.config = config
        if local.exists():
            files = data_files(local, split if spec.loader in ("nemotron", "swallow") else None, stem)
            if not files:
                raise UserError(f"no .jsonl or .parquet files for split {split!r}", where=str(local),
                                field="seeds.path")
            self.files: list[Path] | None = files
            self.where = str(local)
            revision = f"local {local}"
        else:
            self.files = None
            self.where = name
            revision = hub_revision(name, spec.revision)
        if report is not None:
            report["revisions"][name + (f" [{config}]" if config else "")] = revision

    @property
    def local(self) -> bool:
        return self.files is not None

    def candidates(self, convert: Callable[[dict[str, Any]], Converted], want: int | None,
                   report: dict[str, Any]) -> Iterator[Seed]:
        """Usable rows in sampling order (lowest priority first for local files).

        Local files are read again with a larger window when the first ``want`` × 1.25
        candidates run out before the caller has enough (rows dropped after conversion).
        """
        if self.files is None:
            for row in hub_rows(self.spec, self.label, self.split, self.config):
                report["rows_scanned"] += 1
                got = convert(row)
                if isinstance(got, str):
                    drop(report, got)
                else:
                    yield got
            return
        window = None if want is None else math.ceil(want * 1.25) + 16
        given = 0
        first = True
        while True:
            def usable(first: bool = first) -> Iterator[Seed]:
                for row in iter_rows(self.files or []):
                    got = convert(row)
                    if first:
                        report["rows_scanned"] += 1
                        if isinstance(got, str):
                            drop(report, got)
                    if not isinstance(got, str):
                        yield got

            chunk = lowest_k(usable(), window, self.spec.seed)
            yield from chunk[given:]
            if window is None or len(chunk) < window:
                return
            given, window, first = len(chunk), window * 4, False


def collect(candidates: Iterator[Seed], k: int | None, spec: Any, report: dict[str, Any], *,
             seen: set[str], exclude: set[str], rehydrate: Callable[[list[Seed]], None] | None = None,
             batch: int = 256) -> list[Seed]:
    """The first ``k`` candidates that survive re-hydration, the length check and dedupe."""
    out: list[Seed] = []
    pending: list[Seed] = []

    def flush() -> bool:
        if rehydrate is not None:
            rehydrate(pending)
        for s in pending:
            if s.id in exclude:
                drop(report, "in_disjoint_dataset")
                continue
            if len(s.instruction.strip()) < spec.min_instruction_chars:
                drop(report, "instruction_too_short")
                continue
            key = instruction_key(s.instruction)
            if key in seen:
                drop(report, "duplicate_instruction")
                continue
            seen.add(key)
            out.append(s)
            if k is not None and len(out) >= k:
                return True
        pending.clear()
        return False

    for seed in candidates:
        pending.append(seed)
        if len(pending) >= batch and flush():
            return out
    flush()
    return out


def row_field(row: dict[str, Any], name: str, where: str, field: str) -> Any:
    try:
        return get_path(row, name)
    except (KeyError, IndexError, TypeError):
        raise UserError(f"a row has no field {name!r} (mapped by seeds.fields.{field})",
                        where=where, field=f"seeds.fields.{field}") from None


def first_user(messages: Any) -> str | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return message.get("content")
    return None


def last_assistant(messages: Any) -> str | None:
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return message.get("content")
    return None


def assistant_with_trace(messages: Any) -> str | None:
    """The last assistant turn as ``<think>trace</think>answer``, the trace taken from the
    turn's ``reasoning_content`` / ``thinking`` / ``reasoning`` field when it has one."""
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content") or ""
            trace = next((message[k] for k in ("reasoning_content", "thinking", "reasoning")
                          if isinstance(message.get(k), str) and message[k].strip()), None)
            return content if trace is None else f"<think>\n{trace.strip()}\n</think>\n\n{content.lstrip()}"
    return None


def split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` split by ``weights`` (largest remainders first, ties to splits listed first)."""
    scale = sum(weights.values())
    exact = {k: total * w / scale for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    order = sorted(weights, key=lambda k: -(exact[k] - counts[k]))
    for k in order[: total - sum(counts.values())]:
        counts[k] += 1
    return counts
