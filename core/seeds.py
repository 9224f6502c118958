"""Seed instructions for synthesis: Nemotron-Post-Training v1, LMSYS-Chat-1M, any file or hub set.

Every loader yields :class:`Seed` records in a fixed order that depends only on the data and
``SeedSpec.seed``. Local files (JSONL, Parquet, or a folder of them) are streamed row by row
and sampled by the lowest hashes of (seed, id), so memory stays O(count); hub datasets are
streamed through ``datasets`` with a seeded shuffle buffer. Nothing is downloaded unless
``path`` names a hub dataset that is not cached.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from jre.errors import UserError
from jre.records import stable_id

NEMOTRON_ID = "nvidia/Nemotron-Post-Training-Dataset-v1"
LMSYS_ID = "lmsys/lmsys-chat-1m"
_DATA_SUFFIXES = (".jsonl", ".json", ".parquet")


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


def _priority(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest(), "big")


def lowest_k(items: Iterator[Seed], k: int | None, seed: int) -> list[Seed]:
    """A seeded uniform sample of ``k`` seeds (all when ``k`` is None), ordered by priority."""
    keyed = ((_priority(seed, s.id), i, s) for i, s in enumerate(items))
    chosen = list(keyed) if k is None else heapq.nsmallest(k, keyed, key=lambda t: (t[0], t[1]))
    chosen.sort(key=lambda t: (t[0], t[1]))
    return [s for _, _, s in chosen]


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


def _data_files(path: Path, split: str | None = None) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _DATA_SUFFIXES
                   and not p.name.startswith("."))
    if split is not None:
        # HF layouts: <split>.jsonl, <split>-00000-of-00004.parquet, data/<split>/*.parquet
        files = [p for p in files if p.stem == split or p.stem.startswith(f"{split}-")
                 or p.parent.name == split]
    return files


def iter_file_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """Rows of JSONL / Parquet files, streamed (Parquet in record batches)."""
    for path in files:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=2048):
                yield from batch.to_pylist()
        else:
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise UserError(f"line {n} is not JSON ({exc.msg})", where=str(path)) from None


def _hub_rows(spec: Any, name: str, split: str, config: str | None) -> Iterator[dict[str, Any]]:
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


class _Source:
    """Rows of one split: local files (sampled by hash) or a hub dataset (shuffled stream)."""

    def __init__(self, spec: Any, resolve: Callable[[str], Path], default_id: str,
                 split: str, config: str | None = None) -> None:
        self.spec, self.split = spec, split
        name = spec.path or default_id
        local = resolve(name)
        self.label = name
        if local.exists():
            files = _data_files(local, split if spec.loader in ("nemotron",) else None)
            if not files:
                raise UserError(f"no .jsonl or .parquet files for split {split!r}", where=str(local),
                                field="seeds.path")
            self.files: list[Path] | None = files
            self.where = str(local)
        else:
            self.files = None
            self.where = name
        self.config = config

    @property
    def local(self) -> bool:
        return self.files is not None

    def take(self, convert: Callable[[dict[str, Any]], Seed | None], k: int | None) -> list[Seed]:
        if self.files is not None:
            seeds = (s for s in map(convert, iter_file_rows(self.files)) if s is not None)
            return lowest_k(seeds, k, self.spec.seed)
        out: list[Seed] = []
        for row in _hub_rows(self.spec, self.label, self.split, self.config):
            seed = convert(row)
            if seed is not None:
                out.append(seed)
                if k is not None and len(out) >= k:
                    break
        return out


def _field(row: dict[str, Any], name: str, where: str, field: str) -> Any:
    try:
        return get_path(row, name)
    except (KeyError, IndexError, TypeError):
        raise UserError(f"a row has no field {name!r} (mapped by seeds.fields.{field})",
                        where=where, field=f"seeds.fields.{field}") from None


def _first_user(messages: Any) -> str | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return message.get("content")
    return None


def _last_assistant(messages: Any) -> str | None:
    for message in reversed(messages or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return message.get("content")
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


# -- loaders ---------------------------------------------------------------------------


def _nemotron(spec: Any, resolve: Callable[[str], Path], lang: str) -> Iterator[Seed]:
    counts = split_counts(spec.count, spec.mix) if spec.count else {k: None for k in spec.mix}
    per_split: list[list[Seed]] = []
    for split, k in counts.items():
        source = _Source(spec, resolve, NEMOTRON_ID, split)

        def convert(row: dict[str, Any], split: str = split, where: str = source.where) -> Seed | None:
            messages = _field(row, spec.fields.get("instruction", "messages"), where, "instruction")
            instruction = _first_user(messages) if isinstance(messages, list) else messages
            if not instruction:
                return None
            rid = row.get(spec.fields.get("id", "uuid")) or stable_id(split, instruction)
            return Seed(id=str(rid), instruction=instruction, lang=lang,
                        domain="stem", source=f"nemotron-v1/{split}",
                        response=_last_assistant(messages) if isinstance(messages, list) else None,
                        meta={"split": split, **{k: row[k] for k in ("generator", "category", "reasoning")
                                                 if isinstance(row.get(k), str)}})

        per_split.append(source.take(convert, k))
    # Interleave the splits by priority so any prefix (or shard) keeps the mix ratios.
    merged = [s for chunk in per_split for s in chunk]
    merged.sort(key=lambda s: _priority(spec.seed, s.id))
    yield from merged


def _lmsys(spec: Any, resolve: Callable[[str], Path], lang: str) -> Iterator[Seed]:
    source = _Source(spec, resolve, LMSYS_ID, spec.split)
    wanted = set(spec.languages)

    def convert(row: dict[str, Any]) -> Seed | None:
        if wanted and row.get("language") not in wanted:
            return None
        conversation = _field(row, spec.fields.get("instruction", "conversation"), source.where,
                              "instruction")
        instruction = _first_user(conversation) if isinstance(conversation, list) else conversation
        if not instruction or not instruction.strip():
            return None
        rid = str(_field(row, spec.fields.get("id", "conversation_id"), source.where, "id"))
        return Seed(id=rid, instruction=instruction, lang=lang, domain="chat",
                    source="lmsys-chat-1m", meta={"language": row.get("language"),
                                                  "model": row.get("model")})

    yield from source.take(convert, spec.count)


def _mapped(spec: Any, resolve: Callable[[str], Path], lang: str, domain: str) -> Iterator[Seed]:
    source = _Source(spec, resolve, spec.path, spec.split, spec.config)
    fields = spec.fields

    def convert(row: dict[str, Any]) -> Seed | None:
        instruction = _field(row, fields["instruction"], source.where, "instruction")
        if isinstance(instruction, list):
            instruction = _first_user(instruction)
        if not instruction:
            return None
        rid = (str(_field(row, fields["id"], source.where, "id")) if "id" in fields
               else stable_id(source.label, instruction))
        response = _field(row, fields["response"], source.where, "response") if "response" in fields else None
        if isinstance(response, list):
            response = _last_assistant(response)
        return Seed(id=rid, instruction=str(instruction), response=response,
                    lang=str(_field(row, fields["lang"], source.where, "lang")) if "lang" in fields else lang,
                    domain=str(_field(row, fields["domain"], source.where, "domain")) if "domain" in fields else domain,
                    source=Path(source.label).name if source.local else source.label)

    yield from source.take(convert, spec.count)


def load_seeds(spec: Any, resolve: Callable[[str], Path], *, lang: str = "en",
               domain: str | None = None) -> list[Seed]:
    """The seeds ``spec`` (a :class:`jre.sections.synth.SeedSpec`) describes, in a fixed order.

    ``resolve`` turns a recipe path into a file path (relative to the recipe); a ``path``
    that is not a local file or folder is taken as a hub dataset id.
    """
    if spec.loader == "nemotron":
        seeds = list(_nemotron(spec, resolve, lang))
    elif spec.loader == "lmsys":
        seeds = list(_lmsys(spec, resolve, lang))
    else:
        seeds = list(_mapped(spec, resolve, lang, domain or "stem"))
    if domain is not None:
        for s in seeds:
            s.domain = domain
    return seeds
