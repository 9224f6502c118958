"""Seed instructions for synthesis: Nemotron-Post-Training v1, the authors' Swallow release of
it, LMSYS-Chat-1M, any file or hub set.

Every loader yields :class:`Seed` records in a fixed order that depends only on the data and
``SeedSpec.seed``. Local files (JSONL, JSONL.gz, Parquet, or a folder of them) are streamed
row by row and sampled by the lowest hashes of (seed, id), so memory stays O(count); hub
datasets are streamed through ``datasets`` with a seeded shuffle buffer. Nothing is
downloaded unless ``path`` names a hub dataset that is not cached.

Rows are filtered *before* counting (wrong generator, reasoning off, no ``<think>…</think>``
answer, an instruction too short, a repeated instruction), and Nemotron's ``code``
placeholders are re-hydrated from the dataset their ``metadata`` points to, so ``count``
seeds are all usable. Two specs that differ only in ``count`` give nested samples: the
smaller is a prefix of the larger. What was dropped, by reason, and the revision of every
dataset read are in :attr:`SeedSet.report`.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from jre.errors import UserError
from jre.records import stable_id

NEMOTRON_ID = "nvidia/Nemotron-Post-Training-Dataset-v1"
LMSYS_ID = "lmsys/lmsys-chat-1m"
SWALLOW_ID = "tokyotech-llm/Swallow-Nemotron-Post-Training-Dataset-v1"
_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".gz")

#: Where the questions of Nemotron v1 ``code`` rows live: the ``dataset`` named in a row's
#: ``metadata`` → hub id (as in OpenCodeReasoning, whose questions Nemotron v1 reuses).
CODE_QUESTION_SOURCES = {"taco": "BAAI/TACO", "apps": "codeparrot/apps",
                         "code_contests": "deepmind/code_contests",
                         "open-r1/codeforces": "open-r1/codeforces"}

#: Data files of the code question sets that ship a loading script (builder, data_files).
RAW_CODE_FILES = {"codeparrot/apps": ("json", "hf://datasets/codeparrot/apps/{split}.jsonl"),
                  "BAAI/TACO": ("arrow", "hf://datasets/BAAI/TACO/{split}/*.arrow")}

#: File names of the Swallow release's configs (dataset card), by split; ``stem`` rows are
#: in files named ``science`` except in the 2026-01 Japanese revision.
SWALLOW_FILES = {
    "Nemotron-Post-Training-Dataset-v1": "nemotron-post-training-v1-{s}-deepseek-r1-model-identity-chat-gpt",
    "GPT-OSS-Nemotron-Post-Training-Dataset-v1": "nemotron-post-training-v1-{s}-gpt-oss-model-identity-chat-gpt",
    "GPT-OSS-Nemotron-Post-Training-Dataset-v1-Ja": "nemotron-post-training-v1-ja-{s}-gpt-oss-model-identity-chat-gpt",
    "GPT-OSS-Nemotron-Post-Training-Dataset-v1-Ja-202601":
        "nemotron-post-training-v1-ja-{S}-gpt-oss-model-identity-chat-gpt_v202601",
    "GPT-OSS-High-Nemotron-Post-Training-Dataset-v1":
        "nemotron-post-training-v1-{s}-gpt-oss-model-identity-chat-gpt-reasoning-effort-high",
}

# A stored reasoning answer: a non-empty trace in <think>…</think>, then a non-empty answer.
_THINK_SHAPE = re.compile(r"^\s*<think>\s*\S.*?</think>\s*\S", re.DOTALL)


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


class SeedSet(list):
    """The seeds of a dataset, in order, with :attr:`report`: what was read and dropped."""

    def __init__(self, seeds: Iterator[Seed] | list[Seed] = (), report: dict[str, Any] | None = None) -> None:
        super().__init__(seeds)
        self.report: dict[str, Any] = report if report is not None else new_report()


def new_report() -> dict[str, Any]:
    """An empty seed report: rows scanned, drops by reason, code re-hydration, revisions."""
    return {"rows_scanned": 0, "dropped": {}, "code_rehydrated": 0, "code_unresolved": 0,
            "revisions": {}}


def _drop(report: dict[str, Any], reason: str, n: int = 1) -> None:
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


def _data_files(path: Path, split: str | None = None, stem: str | None = None) -> list[Path]:
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


def iter_file_rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    """Rows of JSONL (optionally gzip'd) / Parquet files, streamed (Parquet in record batches)."""
    for path in files:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=2048):
                yield from batch.to_pylist()
        else:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            yield json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise UserError(f"line {n} is not JSON ({exc.msg})", where=str(path)) from None


def hub_revision(name: str, revision: str | None) -> str:
    """The commit a hub dataset ``revision`` (default: main) resolves to, or what was asked."""
    try:
        from huggingface_hub import HfApi

        return str(HfApi().dataset_info(name, revision=revision).sha)
    except Exception:  # offline, or no such dataset: keep what the recipe asked for
        return f"{revision or 'main'} (unresolved)"


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


#: A converter returns a Seed, or the reason (a short string) the row is not one.
Converted = Seed | str


class _Source:
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
            files = _data_files(local, split if spec.loader in ("nemotron", "swallow") else None, stem)
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
            for row in _hub_rows(self.spec, self.label, self.split, self.config):
                report["rows_scanned"] += 1
                got = convert(row)
                if isinstance(got, str):
                    _drop(report, got)
                else:
                    yield got
            return
        window = None if want is None else math.ceil(want * 1.25) + 16
        given = 0
        first = True
        while True:
            def usable(first: bool = first) -> Iterator[Seed]:
                for row in iter_file_rows(self.files or []):
                    got = convert(row)
                    if first:
                        report["rows_scanned"] += 1
                        if isinstance(got, str):
                            _drop(report, got)
                    if not isinstance(got, str):
                        yield got

            chunk = lowest_k(usable(), window, self.spec.seed)
            yield from chunk[given:]
            if window is None or len(chunk) < window:
                return
            given, window, first = len(chunk), window * 4, False


def _collect(candidates: Iterator[Seed], k: int | None, spec: Any, report: dict[str, Any], *,
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
                _drop(report, "in_disjoint_dataset")
                continue
            if len(s.instruction.strip()) < spec.min_instruction_chars:
                _drop(report, "instruction_too_short")
                continue
            key = instruction_key(s.instruction)
            if key in seen:
                _drop(report, "duplicate_instruction")
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


def _assistant_with_trace(messages: Any) -> str | None:
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


# -- Nemotron code questions -----------------------------------------------------------


def code_reference(metadata: Any) -> tuple[str, str, int] | None:
    """``(dataset, split, index)`` from a Nemotron v1 ``metadata`` value (a JSON string)."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            return None
    if not isinstance(metadata, dict):
        return None
    name = metadata.get("dataset") or metadata.get("source")
    split, index = metadata.get("split"), metadata.get("index", metadata.get("idx"))
    if not name or split is None or index is None:
        return None
    try:
        return str(name), str(split), int(index)
    except (TypeError, ValueError):
        return None


def question_text(dataset: str, row: dict[str, Any]) -> str | None:
    """A programming question as its source dataset stores it (TACO / APPS: ``question``;
    CodeContests: ``description``; open-r1/codeforces: statement, I/O format, examples, note)."""
    if "codeforces" in dataset:
        if not row.get("description"):
            return None
        parts = [row["description"]]
        for title, key in (("Input", "input_format"), ("Output", "output_format")):
            if row.get(key):
                parts.append(f"{title}\n\n{row[key]}")
        examples = row.get("examples") or []
        if examples:
            parts.append("Examples")
            for ex in examples:
                for title in ("input", "output"):
                    if isinstance(ex, dict) and ex.get(title):
                        parts.append(f"{title.capitalize()}\n\n{ex[title]}")
        if row.get("note"):
            parts.append(f"Note\n\n{row['note']}")
        return "\n\n".join(parts)
    for key in ("question", "description", "problem"):
        if isinstance(row.get(key), str) and row[key].strip():
            return row[key]
    return None


class CodeQuestions:
    """Re-hydrates Nemotron v1 ``code`` placeholders ("-") from the datasets ``metadata`` names."""

    def __init__(self, spec: Any, resolve: Callable[[str], Path], report: dict[str, Any]) -> None:
        self.sources = {**CODE_QUESTION_SOURCES, **spec.code_questions}
        self.spec, self.resolve, self.report = spec, resolve, report
        self._tables: dict[tuple[str, str], Any] = {}

    def _table(self, dataset: str, split: str) -> Any:
        key = (dataset, split)
        if key not in self._tables:
            self._tables[key] = self._load(dataset, split)
        return self._tables[key]

    def _load(self, dataset: str, split: str) -> Any:
        name = self.sources.get(dataset)
        if name is None:
            return None
        local = self.resolve(name)
        if local.exists():
            files = _data_files(local, split)
            self.report["revisions"][f"{dataset} ({split})"] = f"local {local}"
            return [question_text(dataset, row) for row in iter_file_rows(files)] if files else None
        import datasets

        try:
            table = datasets.load_dataset(name, split=split)
        except Exception:
            # TACO and APPS ship loading scripts, which datasets >= 4 no longer runs: read
            # their data files instead.
            raw = RAW_CODE_FILES.get(name)
            try:
                if raw is None:
                    raise LookupError(name)
                table = datasets.load_dataset(raw[0], data_files=raw[1].format(split=split), split="train")
            except Exception:  # unreachable or gone: its rows are counted as unresolved
                self.report["revisions"][f"{dataset} ({split})"] = f"{name}: not loadable"
                return None
        self.report["revisions"][f"{dataset} ({split})"] = f"{name}@{hub_revision(name, None)}"
        return _LazyQuestions(dataset, table)

    def __call__(self, seeds: list[Seed]) -> None:
        for seed in seeds:
            ref = seed.meta.get("code_ref")
            if ref is None or len(seed.instruction.strip()) >= self.spec.min_instruction_chars:
                continue
            dataset, split, index = ref
            table = self._table(dataset, split)
            text = table[index] if table is not None and 0 <= index < len(table) else None
            if text and text.strip():
                seed.instruction = text
                seed.meta["instruction_from"] = f"{dataset}/{split}/{index}"
                self.report["code_rehydrated"] += 1
            else:
                self.report["code_unresolved"] += 1


class _LazyQuestions:
    """Question text of rows of a hub dataset, built on access."""

    def __init__(self, dataset: str, table: Any) -> None:
        self.dataset, self.table = dataset, table

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> str | None:
        return question_text(self.dataset, self.table[int(i)])


# -- loaders ---------------------------------------------------------------------------


def _nemotron_convert(spec: Any, split: str, where: str, lang: str) -> Callable[[dict[str, Any]], Converted]:
    def convert(row: dict[str, Any]) -> Converted:
        if spec.reasoning != "any" and row.get("reasoning") != spec.reasoning:
            return f"reasoning_{row.get('reasoning') or 'missing'}"
        if spec.generator and row.get("generator") != spec.generator:
            return "other_generator"
        messages = _field(row, spec.fields.get("instruction", "messages"), where, "instruction")
        instruction = _first_user(messages) if isinstance(messages, list) else messages
        response = _last_assistant(messages) if isinstance(messages, list) else None
        if spec.require_think and not _THINK_SHAPE.match(response or ""):
            return "no_think_answer"
        if instruction is None:
            return "no_user_turn"
        rid = row.get(spec.fields.get("id", "uuid")) or stable_id(split, instruction)
        meta: dict[str, Any] = {"split": split, **{k: row[k] for k in ("generator", "category", "reasoning")
                                                   if isinstance(row.get(k), str)}}
        ref = code_reference(row.get("metadata"))
        if ref is not None:
            meta["code_ref"] = ref
        return Seed(id=str(rid), instruction=instruction, lang=lang, domain="stem",
                    source=f"nemotron-v1/{split}", response=response, meta=meta)

    return convert


def _swallow_convert(spec: Any, split: str, config: str, lang: str) -> Callable[[dict[str, Any]], Converted]:
    def convert(row: dict[str, Any]) -> Converted:
        if spec.reasoning != "any" and "reasoning" in row and row.get("reasoning") != spec.reasoning:
            return f"reasoning_{row.get('reasoning') or 'missing'}"
        if spec.generator and "generator" in row and row.get("generator") != spec.generator:
            return "other_generator"
        turns = row.get(spec.fields.get("instruction", "conversation"))
        if turns is None:
            turns = row.get("messages")
        if not isinstance(turns, list):
            return "no_conversation"
        instruction = _first_user(turns)
        response = _assistant_with_trace(turns)
        if spec.require_think and not _THINK_SHAPE.match(response or ""):
            return "no_think_answer"
        if instruction is None:
            return "no_user_turn"
        rid = row.get(spec.fields.get("id", "uuid")) or row.get("id") or stable_id(config, split, instruction)
        return Seed(id=str(rid), instruction=instruction, lang=lang, domain="stem",
                    source=f"swallow-nemotron-v1/{split}", response=response,
                    meta={"split": split, "config": config})

    return convert


def _mixed_splits(spec: Any, count: int | None, make: Callable[[str], tuple[_Source, Callable]],
                  report: dict[str, Any], exclude: set[str],
                  rehydrate: Callable[[str], Callable[[list[Seed]], None] | None]) -> list[Seed]:
    counts = split_counts(count, spec.mix) if count else {k: None for k in spec.mix}
    merged: list[Seed] = []
    seen: set[str] = set()
    for split, k in counts.items():
        source, convert = make(split)
        merged.extend(_collect(source.candidates(convert, k, report), k, spec, report, seen=seen,
                               exclude=exclude, rehydrate=rehydrate(split)))
    # Interleave the splits by priority so any prefix (or shard) keeps the mix ratios.
    merged.sort(key=lambda s: _priority(spec.seed, s.id))
    return merged


def _nemotron(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
              report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    questions = CodeQuestions(spec, resolve, report)

    def make(split: str) -> tuple[_Source, Callable]:
        source = _Source(spec, resolve, NEMOTRON_ID, split, report=report)
        return source, _nemotron_convert(spec, split, source.where, lang)

    return _mixed_splits(spec, count, make, report, exclude,
                         lambda split: questions if split == "code" else None)


def _swallow(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
             report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    config = spec.config or "Nemotron-Post-Training-Dataset-v1"
    pattern = SWALLOW_FILES.get(config)

    def make(split: str) -> tuple[_Source, Callable]:
        stem = None
        if pattern is not None:
            stem = pattern.format(s="science" if split == "stem" else split, S=split)
        source = _Source(spec, resolve, SWALLOW_ID, split, config, report=report, stem=stem)
        return source, _swallow_convert(spec, split, config, lang)

    return _mixed_splits(spec, count, make, report, exclude, lambda split: None)


def _lmsys(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
           report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    source = _Source(spec, resolve, LMSYS_ID, spec.split, report=report)
    wanted = set(spec.languages)

    def convert(row: dict[str, Any]) -> Converted:
        if wanted and row.get("language") not in wanted:
            return "other_language"
        conversation = _field(row, spec.fields.get("instruction", "conversation"), source.where,
                              "instruction")
        instruction = _first_user(conversation) if isinstance(conversation, list) else conversation
        if not instruction or not instruction.strip():
            return "empty_instruction"
        rid = str(_field(row, spec.fields.get("id", "conversation_id"), source.where, "id"))
        return Seed(id=rid, instruction=instruction, lang=lang, domain="chat",
                    source="lmsys-chat-1m", meta={"language": row.get("language"),
                                                  "model": row.get("model")})

    return _collect(source.candidates(convert, count, report), count, spec, report, seen=set(),
                    exclude=exclude)


def _mapped(spec: Any, resolve: Callable[[str], Path], lang: str, domain: str, count: int | None,
            report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    source = _Source(spec, resolve, spec.path, spec.split, spec.config, report=report)
    fields = spec.fields

    def convert(row: dict[str, Any]) -> Converted:
        instruction = _field(row, fields["instruction"], source.where, "instruction")
        if isinstance(instruction, list):
            instruction = _first_user(instruction)
        if not instruction:
            return "empty_instruction"
        rid = (str(_field(row, fields["id"], source.where, "id")) if "id" in fields
               else stable_id(source.label, instruction))
        response = _field(row, fields["response"], source.where, "response") if "response" in fields else None
        if isinstance(response, list):
            response = _assistant_with_trace(response)
        return Seed(id=rid, instruction=str(instruction), response=response,
                    lang=str(_field(row, fields["lang"], source.where, "lang")) if "lang" in fields else lang,
                    domain=str(_field(row, fields["domain"], source.where, "domain")) if "domain" in fields else domain,
                    source=Path(source.label).name if source.local else source.label)

    return _collect(source.candidates(convert, count, report), count, spec, report, seen=set(),
                    exclude=exclude)


def load_seeds(spec: Any, resolve: Callable[[str], Path], *, lang: str = "en",
               domain: str | None = None, count: int | None = None,
               exclude: set[str] | None = None) -> SeedSet:
    """The seeds ``spec`` (a :class:`jre.sections.synth.SeedSpec`) describes, in a fixed order.

    ``resolve`` turns a recipe path into a file path (relative to the recipe); a ``path``
    that is not a local file or folder is taken as a hub dataset id. ``count`` overrides
    ``spec.count`` (the synth stage adds its margin); seeds whose id is in ``exclude`` are
    skipped and the sample continues past them.
    """
    report = new_report()
    want = spec.count if count is None else count
    excluded = exclude or set()
    if spec.loader == "nemotron":
        seeds = _nemotron(spec, resolve, lang, want, report, excluded)
    elif spec.loader == "swallow":
        seeds = _swallow(spec, resolve, lang, want, report, excluded)
    elif spec.loader == "lmsys":
        seeds = _lmsys(spec, resolve, lang, want, report, excluded)
    else:
        seeds = _mapped(spec, resolve, lang, domain or "stem", want, report, excluded)
    if domain is not None:
        for s in seeds:
            s.domain = domain
    report["requested"] = want
    report["selected"] = len(seeds)
    return SeedSet(seeds, report)


def dataset_seeds(synth: Any, name: str, resolve: Callable[[str], Path]) -> SeedSet:
    """The seeds of ``[synth.datasets.<name>]``: its spec plus the margin, minus the seeds of
    the datasets it is ``disjoint_from`` (English seeds for a translated dataset)."""
    ds = synth.datasets[name]
    if ds.translate_from is not None:
        return dataset_seeds(synth, ds.translate_from, resolve)
    spec = ds.seeds
    count = math.ceil(spec.count * (1 + ds.seed_margin)) if spec.count else None
    exclude: set[str] = set()
    for other in ds.disjoint_from:
        exclude.update(s.id for s in dataset_seeds(synth, other, resolve))
    seeds = load_seeds(spec, resolve, lang=ds.lang, domain=ds.domain, count=count, exclude=exclude)
    seeds.report.update({"margin": ds.seed_margin, "count": spec.count,
                         "disjoint_from": list(ds.disjoint_from)})
    return seeds
