"""The ``synth`` stage: teacher × seed instructions × samples → triples in the run store.

Output per dataset: ``<run>/synth/<dataset>/shards/worker-I-of-N.jsonl`` (one
:class:`~jre.records.Triple` per line, keyed by a stable hash of the teacher's identity, the
instruction id, the instruction language and the sample index) and ``manifest.json``
(``part-I-of-N/manifest.json`` for ``--shard I/N`` with N > 1). Triples are committed in
batches with fsync; a killed run loses at most an uncommitted batch and a rerun asks only
for what is missing, so no triple is lost or written twice. ``--force`` rechecks a dataset
whose manifest says complete; it never deletes triples (remove the folder to start over).

A dataset with ``translate_from`` first translates the other dataset's English seeds into
Japanese (cached in ``translations/``, keyed by the English id, which every Japanese
instruction keeps) and then synthesises from them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from jre.console import StageProgress
from jre.errors import UserError
from jre.kinds import Engine, Teacher
from jre.lib.seeds import Seed, SeedSet, dataset_seeds
from jre.plugin_manager import PluginSet
from jre.recipe import Recipe, config_hash, required, resolved_dict
from jre.records import ChatRequest, Generation, stable_id
from jre.stages import Stage, StageContext
from jre.store import ShardWriter, iter_records, shard_keys, shard_paths
from jre.translation import translation_problem


def _parse_shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise click.BadParameter(f"need 0 <= I < N, got {value}")
    return i, n


SHARD_OPTION = click.Option(["--shard"], callback=_parse_shard, metavar="I/N",
                            help="Do only part I of N (0-based) so N machines split the job.")


# -- plugins ---------------------------------------------------------------------------


def _teacher(ref: Any, plugins: PluginSet):
    teacher = plugins.get(Teacher, ref.name)
    config = ref.config if ref.config is not None else teacher.parse_config(ref.options)
    return teacher, teacher.settings(config)


def _engine_client(plugins: PluginSet, engine_ref: Any, settings: Any, where: str, field: str):
    """Load the dataset's engine (or the teacher's), filling in the teacher's model and format."""
    name = engine_ref.name if engine_ref is not None else settings.engine
    if not name:
        raise UserError(f"teacher {settings.name!r} names no engine; set {field}", where=where, field=field)
    engine = plugins.get(Engine, name)
    config = engine_ref.config if engine_ref is not None else None
    if config is None:
        config = engine.parse_config(engine_ref.options if engine_ref is not None else {})
    if config is not None:
        fields, given = type(config).model_fields, config.model_fields_set
        update = {}
        for key, value in (("model", settings.model), ("reasoning_format", settings.reasoning_format),
                           ("prefilled_think", settings.prefilled_think)):
            if key in fields and key not in given and value is not None and getattr(config, key) != value:
                update[key] = value
        config = config.model_copy(update=update)
        if "model" in fields and not getattr(config, "model", None):
            raise UserError(f"no model for teacher {settings.name!r}: set model on the teacher "
                            "or the engine", where=where, field=field)
    return engine.load(config)


# -- progress --------------------------------------------------------------------------


class _Progress:
    """done/total, requests/s, tokens/s, retries and unclosed traces, on the stage display."""

    def __init__(self, ctx: StageContext, label: str, total: int, done: int) -> None:
        live = ctx.console.is_terminal or bool(ctx.options.get("progress"))
        self.bar = StageProgress(ctx.console, label, total, done, live=live)
        self.start = time.monotonic()
        self.requests = self.tokens = self.unclosed = 0

    def update(self, advance: int, *, tokens: int, unclosed: int, retries: int) -> None:
        self.requests += 1
        self.tokens += tokens
        self.unclosed += unclosed
        dt = max(1e-6, time.monotonic() - self.start)
        self.bar.update(advance, f"{self.requests / dt:.1f} req/s  {self.tokens / dt:,.0f} tok/s  "
                                 f"retries {retries}  unclosed {self.unclosed}")

    def close(self) -> None:
        self.bar.close()


# -- one dataset -----------------------------------------------------------------------


def _data_identity(ds: Any, settings: Any, name: str) -> dict[str, Any]:
    return {"teacher": settings.identity(), "seeds": resolved_dict(ds.seeds),
            "translate_from": ds.translate_from, "lang": ds.lang, "domain": ds.domain,
            "system_prompt": ds.system_prompt, "samples": ds.samples}


def _shard(items: list[Any], shard: tuple[int, int]) -> list[Any]:
    i, n = shard
    return items if n == 1 else [x for k, x in enumerate(items) if k % n == i]


def _load_seeds(recipe: Recipe, name: str) -> Any:
    return dataset_seeds(required(recipe.synth, "synth"), name, recipe.resolve_path)


def _request_seed(base: int | None, seed_id: str, index: int) -> int | None:
    if base is None:
        return None
    return int(stable_id(base, seed_id, index)[:8], 16)


def _translate(ctx: StageContext, name: str, ds: Any, folder: Path) -> list[Any]:
    """Japanese seeds translated from ``ds.translate_from``'s seeds (cached, resumable).

    A translation that is empty, a refusal, or not Japanese enough (:mod:`jre.translation`)
    is asked again, up to ``translate_retries`` times; rejections are counted by reason in
    the seed report.
    """
    recipe = ctx.recipe
    where = str(recipe.path)
    loaded = _load_seeds(recipe, ds.translate_from)
    source = _shard(loaded, ctx.shard)
    translator, settings = _teacher(ds.translator or ds.teacher, ctx.plugins)
    ident = stable_id(settings.identity(), ds.translate_prompt)
    out_dir = folder / "translations"
    done = {r["source_id"]: r for r in iter_records(shard_paths(out_dir)) if r.get("translator") == ident}
    rejected: dict[str, int] = {}
    failed = 0
    for attempt in range(ds.translate_retries + 1):
        todo = [s for s in source if s.id not in done]
        if not todo:
            break
        failed = 0
        client = _engine_client(ctx.plugins, ds.translator_engine or ds.engine, settings, where,
                                f"synth.datasets.{name}.translator_engine")
        by_id = {s.id: s for s in todo}
        requests = (translator.request(settings, s.id, ds.translate_prompt.format(text=s.instruction), 1,
                                       sample_seed=_request_seed(settings.sampling.seed, s.id, attempt))
                    for s in todo)
        worker = f"worker-{ctx.shard[0]:03d}-of-{ctx.shard[1]:03d}.jsonl"
        progress = _Progress(ctx, f"translate {name}", len(source), len(source) - len(todo))
        try:
            commit_every = required(recipe.synth, "synth").commit_every
            with ShardWriter(out_dir / worker, key="id", batch_size=commit_every) as writer:
                for request, gens in client.generate(requests):
                    gen = gens[0]
                    text = (gen.content or "").strip()
                    progress.update(1, tokens=gen.completion_tokens or 0, unclosed=int(not gen.think_closed),
                                    retries=client.stats.get("retries", 0))
                    src = by_id[request.id]
                    problem = "unclosed" if not gen.think_closed else translation_problem(
                        text, src.instruction, min_share=ds.min_japanese_share)
                    if problem is not None:
                        rejected[problem] = rejected.get(problem, 0) + 1
                        failed += 1
                        continue
                    record = {"id": stable_id(ident, src.id), "source_id": src.id, "translator": ident,
                              "instruction": text, "source_instruction": src.instruction}
                    writer.write(record)
                    done[src.id] = record
        finally:
            progress.close()
            client.close()
        failed += len(getattr(client, "failed", []))
    if failed:
        ctx.console.print(f"synth {name}: {failed} instructions could not be translated; rerun to retry")
    report = {**loaded.report, "translation": {"rejected": rejected, "untranslated": failed,
                                               "retries": ds.translate_retries}}
    seeds = SeedSet(report=report)
    for s in source:
        translated = done.get(s.id)
        if translated is not None:
            seeds.append(Seed(id=s.id, instruction=translated["instruction"], lang=ds.lang,
                              domain=ds.domain or s.domain, source=s.source,
                              meta={**s.meta, "source_id": s.id, "instruction_en": s.instruction}))
    return seeds


def _summary(shards: Path) -> dict[str, Any]:
    triples = unclosed = tokens = counted = 0
    split_by: dict[str, int] = {}
    for record in iter_records(shard_paths(shards)):
        triples += 1
        meta = record.get("meta") or {}
        unclosed += not meta.get("think_closed", True)
        key = str(meta.get("split_by"))
        split_by[key] = split_by.get(key, 0) + 1
        if record.get("completion_tokens") is not None:
            tokens += record["completion_tokens"]
            counted += 1
    return {"triples": triples, "unclosed": unclosed,
            "unclosed_share": round(unclosed / triples, 6) if triples else 0.0,
            "split_by": split_by,
            "mean_trace_response_tokens": round(tokens / counted, 2) if counted else None}


def run_dataset(ctx: StageContext, name: str) -> dict[str, Any]:
    """Synthesise one dataset of the recipe's ``[synth]`` table; returns its manifest counts."""
    recipe = ctx.recipe
    ds = required(recipe.synth, "synth").datasets[name]
    where = str(recipe.path)
    teacher, settings = _teacher(ds.teacher, ctx.plugins)
    if not teacher.uses_engine and ds.samples != 1:
        raise UserError(f"teacher {settings.name!r} replays stored answers: samples must be 1",
                        where=where, field=f"synth.datasets.{name}.samples")
    identity = _data_identity(ds, settings, name)
    data_hash = config_hash(identity)
    folder = ctx.store.stage_dir("synth", name)
    shards = folder / "shards"
    parts = (name,) if ctx.shard[1] == 1 else (name, f"part-{ctx.shard[0]:03d}-of-{ctx.shard[1]:03d}")
    section_hash = config_hash({"dataset": resolved_dict(ds), "shard": list(ctx.shard)})
    step = ctx.store.step("synth", *parts, config_hash=section_hash, force=ctx.force,
                          plugins=ctx.plugins.versions(teacher))
    previous = step.previous
    if previous is not None and previous.extra.get("data_hash") not in (None, data_hash) and shard_paths(shards):
        raise UserError(f"{folder} holds triples of a different teacher/seed configuration; "
                        "use a new dataset name or move that folder away", where=where,
                        field=f"synth.datasets.{name}")
    if step.fresh and previous is not None:
        ctx.console.print(f"synth {name}: up to date ({previous.counts.get('triples', 0):,} triples)")
        return previous.counts
    carried = previous.extra.get("retries_total", 0) if previous is not None else 0
    step.begin()

    seeds = _translate(ctx, name, ds, folder) if ds.translate_from else _shard(_load_seeds(recipe, name), ctx.shard)
    done = shard_keys(shards)
    ident = settings.identity()
    work: dict[str, tuple[Any, list[tuple[int, str]]]] = {}
    wanted: list[str] = []
    for seed in seeds:
        missing = []
        for j in range(ds.samples):
            tid = stable_id(ident, seed.id, seed.lang, j)
            wanted.append(tid)
            if tid not in done:
                missing.append((j, tid))
        if missing:
            work[seed.id] = (seed, missing)
    expected = len(seeds) * ds.samples
    todo = sum(len(m) for _, m in work.values())
    ctx.console.print(f"synth {name}: {len(seeds):,} instructions × {ds.samples} → "
                      f"{expected - todo:,} done, {todo:,} to do (teacher {settings.name})")
    stats: dict[str, Any] = {}
    failed: list[tuple[str, str]] = []
    if work:
        stats, failed = _generate(ctx, name, ds, teacher, settings, work, shards, expected, todo)
    summary = _summary(shards)
    present = shard_keys(shards)
    # Counted from the store, not from what the engine said: a server that ignored `n`
    # or a request that failed leaves triples missing, and the dataset incomplete.
    missing_triples = sum(tid not in present for tid in wanted)
    retries = int(stats.get("retries", 0))
    counts = {**summary, "expected": expected if ctx.shard[1] == 1 else None,
              "instructions": len(seeds), "samples": ds.samples,
              "missing_triples": missing_triples,
              "split_requests": stats.get("split_requests", 0),
              "retries": retries, "retries_total": carried + retries, "failed_requests": len(failed),
              "errors": stats.get("errors", {}), "prompt_tokens": stats.get("prompt_tokens", 0),
              "completion_tokens": stats.get("completion_tokens", 0)}
    extra = {"data_hash": data_hash, "teacher": settings.name, "teacher_model": settings.model,
             "prefilled_think": settings.prefilled_think,
             "reasoning_effort": settings.reasoning_effort, "shard": list(ctx.shard),
             "retries_total": carried + retries, "seeds": getattr(seeds, "report", None)}
    if failed or missing_triples:
        step.incomplete(counts=counts, extra=extra)
        why = failed[0][1] if failed else "the engine returned fewer samples than requested"
        ctx.console.print(f"synth {name}: {missing_triples:,} of {expected:,} triples missing, "
                          f"{len(failed)} requests failed (first: {why}); rerun to retry them")
        return counts
    step.finish(counts=counts, extra=extra)
    ctx.console.print(f"synth {name}: {summary['triples']:,} triples, unclosed "
                      f"{summary['unclosed_share']:.1%}, {retries} retries → {shards}")
    return counts


def _generate(ctx: StageContext, name: str, ds: Any, teacher: Any, settings: Any,
              work: dict[str, tuple[Any, list[tuple[int, str]]]], shards: Path,
              expected: int, todo: int) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    recipe = ctx.recipe
    worker = f"worker-{ctx.shard[0]:03d}-of-{ctx.shard[1]:03d}.jsonl"
    progress = _Progress(ctx, f"synth {name}", expected, expected - todo)

    def triple(seed: Any, j: int, tid: str, gen: Generation) -> dict[str, Any]:
        # split_by: whether a server's reasoning field or the text (and which prefill
        # assumption) decided that the trace closed.
        meta = {"seed_id": seed.id, "sample": j, "split_by": gen.split_by, **seed.meta}
        return teacher.triple(settings, triple_id=tid, instruction=seed.instruction, generation=gen,
                              lang_in=seed.lang, domain=ds.domain or seed.domain,
                              source=seed.source, meta=meta).to_dict()

    writer = ShardWriter(shards / worker, key="id", batch_size=required(recipe.synth, "synth").commit_every)
    try:
        if not teacher.uses_engine:
            for seed, missing in work.values():
                gen = teacher.replay(settings, seed.response)
                if gen is None:
                    raise UserError(f"seed {seed.id!r} has no stored answer to replay; map "
                                    "seeds.fields.response", where=str(recipe.path),
                                    field=f"synth.datasets.{name}.seeds")
                for j, tid in missing:
                    writer.write(triple(seed, j, tid, gen))
                progress.update(len(missing), tokens=0, unclosed=int(not gen.think_closed), retries=0)
            return {}, []
        client = _engine_client(ctx.plugins, ds.engine, settings, str(recipe.path), f"synth.datasets.{name}.engine")
        requests: Iterator[ChatRequest] = (
            teacher.request(settings, seed.id, seed.instruction, len(missing),
                            system_prompt=ds.system_prompt,
                            sample_seed=_request_seed(settings.sampling.seed, seed.id, missing[0][0]))
            for seed, missing in work.values())
        try:
            failed_before = len(getattr(client, "failed", []))
            short: list[tuple[str, str]] = []
            for request, gens in client.generate(requests):
                seed, missing = work[request.id]
                if len(gens) < len(missing):
                    short.append((request.id, f"{len(gens)} of {len(missing)} samples returned"))
                for (j, tid), gen in zip(missing, gens):
                    writer.write(triple(seed, j, tid, gen))
                progress.update(len(gens), tokens=sum(g.completion_tokens or 0 for g in gens),
                                unclosed=sum(not g.think_closed for g in gens),
                                retries=client.stats.get("retries", 0))
        finally:
            client.close()
        failed = list(getattr(client, "failed", []))[failed_before:]
        reported = {request_id for request_id, _ in failed}
        return dict(client.stats), failed + [s for s in short if s[0] not in reported]
    finally:
        writer.close()
        progress.close()


# -- the stage -------------------------------------------------------------------------


def _order(recipe: Recipe) -> list[str]:
    datasets = required(recipe.synth, "synth").datasets
    return ([n for n, ds in datasets.items() if ds.translate_from is None]
            + [n for n, ds in datasets.items() if ds.translate_from is not None])


def run(ctx: StageContext) -> None:
    """Synthesise every dataset of ``[synth]`` (sources before their translations)."""
    if ctx.options.get("shard"):
        ctx.shard = ctx.options["shard"]
    for name in _order(ctx.recipe):
        run_dataset(ctx, name)


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    lines = []
    for name in _order(recipe):
        ds = required(recipe.synth, "synth").datasets[name]
        seeds = ds.seeds
        origin = (f"translated from {ds.translate_from}" if ds.translate_from or seeds is None
                  else f"{seeds.loader} seeds" + (f" ×{seeds.count:,}" if seeds.count else "")
                  + (f" + {ds.seed_margin:.0%} margin" if seeds.count and ds.seed_margin else ""))
        lines.append(f"synth {name}: teacher {ds.teacher.name}, {origin}, {ds.samples} sample(s), "
                     f"lang {ds.lang}")
    return lines


STAGE = Stage(name="synth", run=run, plan=plan, options=[SHARD_OPTION],
              help="Synthesise the reasoning triples of RECIPE_FILE's [synth] table (resumable; --shard I/N).")
