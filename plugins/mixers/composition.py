"""The composition mixer: Table-1-style SFT mixes with exact counts per component.

A recipe lists components; each takes an exact number of examples from one source, or
from one source per language (``sources = {en = "...", ja = "..."}``), in which case the count
is split equally between the languages (the paper's rule; a remainder goes to the languages
listed first). ``strip_trace`` keeps instruction and response only (experiment 7).

Selection is a seeded uniform sample: every usable row gets a 64-bit hash of (seed, id)
and the lowest hashes win, so the mix depends on the seed and the ids only. With
``dedupe = "instruction"`` one row per instruction survives, across the whole mix. Rows are
unusable when their response is empty, their generation was cut at the token limit
(``finish_reason = "length"``) or they have no trace (unless ``strip_trace``); the manifest
counts every drop by reason, per component and language. Synthesis asks for a few per cent
more seeds than the mix takes (``synth.datasets.*.margin``) so these drops still leave
exact counts.

``prompts`` decides whether two slots may train on the same prompt: ``independent`` (the
paper: the En and Ja halves of experiments 8 and 10 are sampled independently from seeds
of one pool, so they share prompts by chance, ~25k and ~42k) or ``disjoint`` (a prompt, keyed
by its English seed id, appears in one slot only). Two streaming passes keep memory flat in
the row count: the first keeps three integers per candidate row, the second streams the
chosen rows into Parquet shards.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from jre import hookimpl
from jre.errors import UserError
from jre.kinds.base import StrictModel
from jre.kinds.mixer import MIX_COLUMNS, MixContext, Mixer, MixResult
from jre.lib.decontam import benchmark_index
from jre.plugin_manager import get_plugins
from jre.plugins.mixers._select import Candidates, instruction_hash, priority, select
from jre.plugins.mixers._sources import Source, resolve_source
from jre.plugins.mixers._write import ParquetShards, TokenCounter, load_tokenizer, to_example
from jre.rows import iter_rows
from jre.store import file_hash

_PASS1_COLUMNS = ("id", "instruction", "trace", "response", "lang_in", "finish_reason", "meta")


class Component(StrictModel):
    """One part of the mix: ``count`` examples from ``source`` or from ``sources`` per language."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    count: int = Field(gt=0)
    source: str | None = None
    langs: list[str] | None = Field(default=None, min_length=1)
    sources: dict[str, str] | None = Field(default=None, min_length=1)
    domain: str | None = None
    teacher: str | dict[str, str] | None = None  # label for the plan: one, or one per language
    strip_trace: bool = False
    keep_unclosed: bool = False
    allow_fewer: bool | None = None

    @model_validator(mode="after")
    def _one_source_form(self) -> Component:
        if (self.source is None) == (self.sources is None):
            raise ValueError("give exactly one of `source` or `sources` (a table language → source)")
        if self.sources is not None and self.langs is not None:
            raise ValueError("`langs` goes with `source`; with `sources` the table keys are the languages")
        return self

    def slots(self) -> list[tuple[str | None, str, int]]:
        """``(language or None, source spec, count)`` with the count split equally."""
        if self.sources is not None:
            pairs: list[tuple[str | None, str]] = list(self.sources.items())
        elif self.langs:
            pairs = [(lang, self.source or "") for lang in self.langs]
        else:
            pairs = [(None, self.source or "")]
        base, extra = divmod(self.count, len(pairs))
        return [(lang, spec, base + (1 if i < extra else 0)) for i, (lang, spec) in enumerate(pairs)]


class CompositionConfig(StrictModel):
    """Options of the ``[mix]`` table for the composition mixer."""

    components: list[Component] = Field(min_length=1)
    seed: int = 0
    dedupe: Literal["instruction", "none"] = "instruction"
    prompts: Literal["independent", "disjoint"] = "independent"
    allow_fewer: bool = False
    tokenizer: str | None = None
    length_sample: int = Field(default=20000, ge=0)
    rows_per_file: int = Field(default=100_000, ge=1)
    # Drop rows whose instruction shares an 8- or 13-gram with a question of a benchmark in
    # [eval] (overlaps are always counted in the manifest; see jre.lib.decontam).
    decontaminate: bool = False

    @model_validator(mode="after")
    def _unique_names(self) -> CompositionConfig:
        names = [c.name for c in self.components]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"component names must be unique; repeated: {', '.join(dupes)}")
        return self


@dataclass
class _Slot:
    component: str
    index: int
    lang: str | None
    spec: str
    requested: int
    source: str = ""
    available: int = 0
    selected: int = 0
    filtered: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    taken_elsewhere: int = 0
    written: int = 0
    overlaps: dict[int, list[str]] = field(default_factory=dict)  # ordinal → benchmarks


def _teacher_of(component: Component, lang: str | None, spec: str, recipe: Any) -> str:
    synth = getattr(recipe, "synth", None)
    if synth is not None and spec in synth.datasets:
        return synth.datasets[spec].teacher.name
    label = component.teacher.get(lang or "", None) if isinstance(component.teacher, dict) else component.teacher
    return label or "as recorded in the source"


def _drop_reason(row: dict[str, Any], component: Component) -> str | None:
    """Why a source row cannot enter the mix (None when it can)."""
    if not component.keep_unclosed and row.get("finish_reason") == "length":
        return "truncated"
    if not (row.get("response") or "").strip():
        return "empty_response"
    if not component.strip_trace and not (row.get("trace") or "").strip():
        return "no_trace"
    return None


def prompt_key(row: dict[str, Any]) -> str:
    """The seed a row answers (a translation keeps its English seed id), else its instruction."""
    meta = row.get("meta") or {}
    if isinstance(meta, dict):
        for key in ("source_id", "seed_id"):
            if meta.get(key):
                return f"seed:{meta[key]}"
    return f"instruction:{' '.join(str(row.get('instruction') or '').split())}"


class CompositionMixer(Mixer[CompositionConfig]):
    name = "composition"
    description = "Table-1 mixes: exact counts per component, equal language split, strip-trace, dedupe"
    config_model = CompositionConfig

    def plan(self, config: CompositionConfig, recipe: Any) -> list[str]:
        lines = [f"mixer composition: seed {config.seed}, dedupe {config.dedupe}"]
        total = 0
        for comp in config.components:
            parts = []
            for lang, spec, count in comp.slots():
                teacher = _teacher_of(comp, lang, spec, recipe)
                parts.append(f"{count:,} {lang or 'any language'} ← {spec} (teacher {teacher})")
                total += count
            trace = "instruction + response only (trace stripped)" if comp.strip_trace else "with trace"
            domain = f" [{comp.domain}]" if comp.domain else ""
            lines.append(f"component {comp.name}{domain}: {'; '.join(parts)}; {trace}")
        lines.append(f"total {total:,} examples")
        return lines

    def _sources(self, config: CompositionConfig, ctx: MixContext) -> dict[str, Source]:
        out: dict[str, Source] = {}
        for i, comp in enumerate(config.components):
            for lang, spec, _ in comp.slots():
                if spec not in out:
                    field = f"mix.components[{i}]." + (f"sources.{lang}" if comp.sources else "source")
                    out[spec] = resolve_source(spec, ctx.recipe, ctx.store, field=field)
        return out

    def inputs(self, config: CompositionConfig, ctx: MixContext) -> dict[str, str]:
        fingerprints = {spec: src.fingerprint() for spec, src in self._sources(config, ctx).items()}
        fingerprints["tokenizer"] = str(self._tokenizer_name(config, ctx))
        fingerprints["max_length"] = str(ctx.max_length)
        return fingerprints

    @staticmethod
    def _tokenizer_name(config: CompositionConfig, ctx: MixContext) -> str | None:
        return config.tokenizer or ctx.tokenizer

    def mix(self, config: CompositionConfig, ctx: MixContext) -> MixResult:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        sources = self._sources(config, ctx)
        where = str(ctx.recipe.path) if ctx.recipe.path else None
        index = benchmark_index(ctx.recipe, ctx.plugins if ctx.plugins is not None else get_plugins())
        contamination: dict[str, dict[str, Any]] = {}
        slots: list[_Slot] = []
        selections = []
        taken = np.empty(0, dtype=np.uint64)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=ctx.console, transient=True,
                            disable=ctx.console is None or not ctx.console.is_terminal)
        with progress:
            # Pass 1: a few integers per candidate row, then exact selection per slot.
            for i, comp in enumerate(config.components):
                for lang, spec, count in comp.slots():
                    slot = _Slot(component=comp.name, index=i, lang=lang, spec=spec, requested=count,
                                 source=sources[spec].label)
                    task = progress.add_task(f"scan {comp.name}/{lang or 'any'}", total=None)
                    cands = Candidates()
                    for ordinal, row in enumerate(iter_rows(sources[spec].files, _PASS1_COLUMNS)):
                        progress.advance(task)
                        if lang is not None and row.get("lang_in") != lang:
                            continue
                        if "id" not in row or "instruction" not in row:
                            raise UserError("a source row has no `id` or `instruction`; expected Triple "
                                            "records", where=sources[spec].label)
                        reason = _drop_reason(row, comp)
                        if reason is None and index.grams:
                            found = index.matches(str(row["instruction"]))
                            for bench in found:
                                seen = contamination.setdefault(bench, {"found": 0, "dropped": 0,
                                                                        "example_ids": []})
                                seen["found"] += 1
                                if len(seen["example_ids"]) < 5:
                                    seen["example_ids"].append(str(row["id"]))
                                if config.decontaminate:
                                    seen["dropped"] += 1
                            if found and config.decontaminate:
                                reason = "contaminated"
                            elif found:
                                slot.overlaps[ordinal] = sorted(found)
                        if reason is not None:
                            slot.filtered += 1
                            slot.dropped[reason] = slot.dropped.get(reason, 0) + 1
                            continue
                        key = prompt_key(row) if config.prompts == "disjoint" else row["instruction"]
                        cands.add(ordinal, priority(config.seed, str(row["id"])), instruction_hash(key))
                    progress.remove_task(task)
                    columns = cands.columns()
                    del cands
                    sel, hashes = select(*columns, count, taken=taken,
                                         dedupe=config.dedupe == "instruction" or config.prompts == "disjoint")
                    del columns
                    taken = np.concatenate([taken, hashes])
                    slot.available, slot.selected = sel.available, len(sel.ordinals)
                    slot.duplicates, slot.taken_elsewhere = sel.duplicates, sel.taken_elsewhere
                    if sel.duplicates:
                        slot.dropped["duplicate_instruction"] = sel.duplicates
                    if sel.taken_elsewhere:
                        slot.dropped["taken_by_earlier_component"] = sel.taken_elsewhere
                    allow = comp.allow_fewer if comp.allow_fewer is not None else config.allow_fewer
                    if slot.selected < count and not allow:
                        what = f"{count:,} {lang} examples" if lang else f"{count:,} examples"
                        raise UserError(
                            f"component {comp.name!r} needs {what} but {spec!r} has only "
                            f"{slot.available:,} usable (after filtering and dedupe"
                            + (f"; {slot.dropped['contaminated']:,} dropped as benchmark overlaps"
                               if slot.dropped.get("contaminated") else "")
                            + "); lower the count or set allow_fewer = true",
                            where=where, field=f"mix.components[{i}].count")
                    slots.append(slot)
                    selections.append(sel)

            threshold = np.iinfo(np.uint64).max
            measured = sum(len(s.priorities) for s in selections)
            if config.length_sample and measured > config.length_sample:
                every = np.concatenate([s.priorities for s in selections])
                threshold = np.partition(every, config.length_sample - 1)[config.length_sample - 1]
                del every
            tok_name = self._tokenizer_name(config, ctx)
            counter, tok_note = None, None
            if tok_name:
                try:
                    counter = TokenCounter(load_tokenizer(tok_name))
                except (OSError, ValueError) as exc:
                    tok_note = (f"tokenizer {tok_name!r} could not be loaded ({exc.__class__.__name__}); "
                                "lengths not measured")
                    if ctx.console:
                        ctx.console.print(f"warning: {tok_note}")

            # Pass 2: stream the chosen rows into Parquet shards.
            writer = ParquetShards(ctx.out_dir, rows_per_file=config.rows_per_file)
            for slot, sel in zip(slots, selections):
                comp = config.components[slot.index]
                task = progress.add_task(f"write {slot.component}/{slot.lang or 'any'}", total=len(sel.ordinals))
                wanted = sel.ordinals
                pos = 0
                target = int(wanted[0]) if len(wanted) else -1
                for ordinal, row in enumerate(iter_rows(sources[slot.spec].files)):
                    if target < 0:
                        break
                    if ordinal != target:
                        continue
                    example = to_example(row, component=slot.component, strip_trace=comp.strip_trace,
                                         domain=comp.domain)
                    writer.write(example)
                    if counter is not None and sel.priorities[pos] <= threshold:
                        counter.add(slot.component, example["messages"])
                    pos += 1
                    target = int(wanted[pos]) if pos < len(wanted) else -1
                    progress.advance(task)
                slot.written = pos
                progress.remove_task(task)
            files = writer.close()

        for slot, sel in zip(slots, selections):
            if not slot.overlaps:
                continue
            # Membership through numpy: a set of every selected ordinal would cost ~70 bytes a
            # row at a million rows (bench/mix_memory.py).
            inside = np.isin(np.fromiter(slot.overlaps, dtype=np.int64, count=len(slot.overlaps)),
                             sel.ordinals)
            for (_ordinal, benches), taken_here in zip(slot.overlaps.items(), inside):
                for bench in benches:
                    contamination[bench]["in_mix"] = contamination[bench].get("in_mix", 0) + int(taken_here)
            slot.overlaps = {}
        result = self._report(config, ctx, slots, files, counter, tok_name, tok_note)
        result.extra["decontamination"] = {
            "decontaminate": config.decontaminate, "n": list(index.n),
            "benchmarks": {b: {"questions": index.questions.get(b, 0), "in_mix": 0,
                               **contamination.get(b, {"found": 0, "dropped": 0, "example_ids": []})}
                           for b in index.grams}}
        return result

    def _report(self, config: CompositionConfig, ctx: MixContext, slots: list[_Slot], files: list,
                counter: TokenCounter | None, tok_name: str | None, tok_note: str | None) -> MixResult:
        by_component: dict[str, int] = {}
        by_lang: dict[str, int] = {}
        by_pair: dict[str, int] = {}
        for s in slots:
            lang = s.lang or "any"
            by_component[s.component] = by_component.get(s.component, 0) + s.written
            by_lang[lang] = by_lang.get(lang, 0) + s.written
            by_pair[f"{s.component}/{lang}"] = by_pair.get(f"{s.component}/{lang}", 0) + s.written
        hashes = {p.name: file_hash(p) for p in files}
        dataset_hash = hashlib.sha256("".join(f"{k}:{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()
        tokens: dict[str, Any] = {"tokenizer": tok_name}
        if counter is not None:
            tokens.update(counter.summary(ctx.max_length, ctx.overlength))
            measured = tokens.get("measured_rows", 0)
            tokens["sampled"] = config.length_sample != 0 and measured < sum(by_component.values())
        else:
            tokens["note"] = tok_note or "no tokenizer given (train.base_model or mix.tokenizer); lengths not measured"
        shortfalls = [f"{s.component}/{s.lang or 'any'}: {s.written:,} of {s.requested:,}"
                      for s in slots if s.written < s.requested]
        drops: dict[str, dict[str, int]] = {}
        for s in slots:
            part = drops.setdefault(f"{s.component}/{s.lang or 'any'}", {})
            for reason, n in s.dropped.items():
                part[reason] = part.get(reason, 0) + n
            if s.available > s.written:
                part["surplus"] = part.get("surplus", 0) + s.available - s.written
        counts = {"rows": sum(by_component.values()), "components": by_component,
                  "languages": by_lang, "component_languages": by_pair, "files": len(files)}
        counts["dropped"] = {k: sum(v for r, v in d.items() if r != "surplus") for k, d in drops.items()}
        extra = {"seed": config.seed, "dedupe": config.dedupe, "prompts": config.prompts,
                 "drops": drops, "columns": list(MIX_COLUMNS),
                 "slots": [asdict(s) for s in slots], "tokens": tokens, "shortfalls": shortfalls,
                 "hashes": {"dataset": dataset_hash, "files": hashes}}
        return MixResult(counts=counts, extra=extra)


@hookimpl
def register_mixers(register):
    register(CompositionMixer())
