"""Loaders of Nemotron-Post-Training v1 and the Swallow release of it: splits mixed by
weight, reasoning answers checked for their ``<think>`` shape."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jre.lib.seeds.code import CodeQuestions, code_reference
from jre.lib.seeds.common import (
    Converted,
    Seed,
    Source,
    assistant_with_trace,
    collect,
    first_user,
    last_assistant,
    priority,
    row_field,
    split_counts,
)
from jre.records import stable_id

NEMOTRON_ID = "nvidia/Nemotron-Post-Training-Dataset-v1"
SWALLOW_ID = "tokyotech-llm/Swallow-Nemotron-Post-Training-Dataset-v1"

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



def _nemotron_convert(spec: Any, split: str, where: str, lang: str) -> Callable[[dict[str, Any]], Converted]:
    def convert(row: dict[str, Any]) -> Converted:
        if spec.reasoning != "any" and row.get("reasoning") != spec.reasoning:
            return f"reasoning_{row.get('reasoning') or 'missing'}"
        if spec.generator and row.get("generator") != spec.generator:
            return "other_generator"
        messages = row_field(row, spec.fields.get("instruction", "messages"), where, "instruction")
        instruction = first_user(messages) if isinstance(messages, list) else messages
        response = last_assistant(messages) if isinstance(messages, list) else None
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
        instruction = first_user(turns)
        response = assistant_with_trace(turns)
        if spec.require_think and not _THINK_SHAPE.match(response or ""):
            return "no_think_answer"
        if instruction is None:
            return "no_user_turn"
        rid = row.get(spec.fields.get("id", "uuid")) or row.get("id") or stable_id(config, split, instruction)
        return Seed(id=str(rid), instruction=instruction, lang=lang, domain="stem",
                    source=f"swallow-nemotron-v1/{split}", response=response,
                    meta={"split": split, "config": config})

    return convert


def _mixed_splits(spec: Any, count: int | None, make: Callable[[str], tuple[Source, Callable]],
                  report: dict[str, Any], exclude: set[str],
                  rehydrate: Callable[[str], Callable[[list[Seed]], None] | None]) -> list[Seed]:
    counts = split_counts(count, spec.mix) if count else {k: None for k in spec.mix}
    merged: list[Seed] = []
    seen: set[str] = set()
    for split, k in counts.items():
        source, convert = make(split)
        merged.extend(collect(source.candidates(convert, k, report), k, spec, report, seen=seen,
                               exclude=exclude, rehydrate=rehydrate(split)))
    # Interleave the splits by priority so any prefix (or shard) keeps the mix ratios.
    merged.sort(key=lambda s: priority(spec.seed, s.id))
    return merged


def nemotron(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
              report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    questions = CodeQuestions(spec, resolve, report)

    def make(split: str) -> tuple[Source, Callable]:
        source = Source(spec, resolve, NEMOTRON_ID, split, report=report)
        return source, _nemotron_convert(spec, split, source.where, lang)

    return _mixed_splits(spec, count, make, report, exclude,
                         lambda split: questions if split == "code" else None)


def swallow(spec: Any, resolve: Callable[[str], Path], lang: str, count: int | None,
             report: dict[str, Any], exclude: set[str]) -> list[Seed]:
    config = spec.config or "Nemotron-Post-Training-Dataset-v1"
    pattern = SWALLOW_FILES.get(config)

    def make(split: str) -> tuple[Source, Callable]:
        stem = None
        if pattern is not None:
            stem = pattern.format(s="science" if split == "stem" else split, S=split)
        source = Source(spec, resolve, SWALLOW_ID, split, config, report=report, stem=stem)
        return source, _swallow_convert(spec, split, config, lang)

    return _mixed_splits(spec, count, make, report, exclude, lambda split: None)
