"""Nemotron v1 ``code`` rows hold a placeholder for the question: re-hydrating it from the
dataset a row's ``metadata`` names (TACO, APPS, CodeContests, Codeforces)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jre.lib.seeds.common import Seed, data_files, hub_revision
from jre.rows import iter_rows

#: Where the questions of Nemotron v1 ``code`` rows live: the ``dataset`` named in a row's
#: ``metadata`` → hub id (as in OpenCodeReasoning, whose questions Nemotron v1 reuses).
CODE_QUESTION_SOURCES = {"taco": "BAAI/TACO", "apps": "codeparrot/apps",
                         "code_contests": "deepmind/code_contests",
                         "open-r1/codeforces": "open-r1/codeforces"}

#: Data files of the code question sets that ship a loading script (builder, data_files).
RAW_CODE_FILES = {"codeparrot/apps": ("json", "hf://datasets/codeparrot/apps/{split}.jsonl"),
                  "BAAI/TACO": ("arrow", "hf://datasets/BAAI/TACO/{split}/*.arrow")}


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
            files = data_files(local, split)
            self.report["revisions"][f"{dataset} ({split})"] = f"local {local}"
            return [question_text(dataset, row) for row in iter_rows(files)] if files else None
        import datasets  # heavy: only for a question set that is not on disk

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
