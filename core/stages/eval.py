"""The ``eval`` stage: every benchmark of ``[eval]`` on one engine → details + results.

Per benchmark, under ``<run>/eval/<benchmark>/``:

- ``details.jsonl`` — one record per sample (prompt, raw text, reasoning, content,
  ``think_closed``, finish reason, token counts, answer, score under each answer policy),
  appended as requests finish and made durable after each one: a killed evaluation resumes
  without regenerating finished samples;
- ``results.json`` — score with a bootstrap 95% interval, the failure rate per sample and
  per question, how closed traces were detected, mean output tokens, N, scores under all
  three policies, sampling, dataset revision, model, engine;
- ``manifest.json`` — the run-store manifest with the size and sha256 of the details it
  summarised; a complete, matching one whose details are unchanged skips the benchmark.

Samples still missing after the engine's retries (a request the server rejected, a server
that returned fewer choices) leave the manifest ``incomplete`` and end the stage with one
line naming the endpoint and the server's reason (exit status 2) once the other benchmarks
ran; a rerun generates only the missing samples.

Changing anything that affects generation (model, engine options, sampling, items)
discards the old details; changing only the answer policy or bootstrap rescores them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.kinds import Engine
from jre.kinds.benchmark import Benchmark
from jre.plugin_manager import PluginSet
from jre.evaluate import rescore
from jre.recipe import Recipe, config_hash, resolved_dict
from jre.store import dumps_json
from jre.stages import Stage, StageContext

DETAILS = "details.jsonl"
RESULTS = "results.json"


def check(recipe: Recipe, store: Any, planned: set[str]) -> list[UserError]:
    """The model to evaluate exists, or the train stage of this run will write it."""
    cfg = recipe.eval.engine.config if recipe.eval else None
    if "train" in planned and recipe.train is not None and not getattr(cfg, "model", None):
        return []
    try:
        model_path(recipe, store)
    except UserError as exc:
        return [exc]
    return []


def model_path(recipe: Recipe, store: Any) -> tuple[str, dict[str, str]]:
    """The model to evaluate and what identifies it: the engine's ``model`` (a path taken
    relative to the recipe when it exists there), else ``<run>/train/model``."""
    section = recipe.eval
    cfg = section.engine.config
    model = getattr(cfg, "model", None) if cfg is not None else None
    if model:
        local = recipe.resolve_path(model)
        if local.exists():
            return str(local), {"model": model}
        if model.startswith(("/", "./", "../", "~")):  # clearly a path, not a hub id
            raise UserError(f"model path does not exist: {local}",
                            where=str(recipe.path) if recipe.path else None, field="eval.engine.model")
        return model, {"model": model}
    trained = store.root / "train" / "model"
    if not trained.is_dir():
        raise UserError(f"no model to evaluate: [eval.engine] sets no `model` and {trained} "
                        f"does not exist (run the train stage first)",
                        where=str(recipe.path) if recipe.path else None, field="eval.engine.model")
    from jre.store import file_hash

    manifest = store.root / "train" / "manifest.json"
    inputs = {"model": str(trained)}
    if manifest.exists():
        inputs["train_manifest"] = file_hash(manifest)
    return str(trained), inputs


class _LazyEngine:
    """Loads the engine on first use, so rescoring finished details needs no model."""

    def __init__(self, recipe: Recipe, model: str, plugins: PluginSet) -> None:
        self.recipe, self.model, self.client, self.plugins = recipe, model, None, plugins

    def get(self):
        if self.client is None:
            ref = self.recipe.eval.engine
            engine = self.plugins.get(Engine, ref.name)
            cfg = ref.config
            if cfg is not None and "model" in type(cfg).model_fields:
                cfg = cfg.model_copy(update={"model": self.model})
            self.client = engine.load(cfg)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _field(exc: UserError, index: int) -> UserError:
    prefix = f"eval.benchmarks[{index}]"
    exc.field = f"{prefix}.{exc.field}" if exc.field else prefix
    return exc


def _bind(ref, recipe: Recipe, index: int, plugins: PluginSet):
    base = recipe.path.parent if recipe.path else None
    try:
        return plugins.get(Benchmark, ref.name).bind(ref.config, base)
    except UserError as exc:
        raise _field(exc, index) from None


def _load_items(benchmark, cfg, recipe: Recipe, index: int):
    base = recipe.path.parent if recipe.path else None
    try:
        return benchmark.load(cfg, base)
    except UserError as exc:
        raise _field(exc, index) from None


def run_benchmark(ctx: StageContext, index: int, engine: _LazyEngine,
                  model_inputs: dict[str, str]) -> dict[str, Any]:
    """Evaluate one benchmark of the recipe (resuming its details); returns its results."""
    from jre import __version__
    from jre.evaluate import sample_id, summarize
    from jre.store import ShardWriter, iter_records, write_json_atomic

    recipe, store = ctx.recipe, ctx.store
    section = recipe.eval
    ref = section.benchmarks[index]
    cfg = ref.config
    benchmark = _bind(ref, recipe, index, ctx.plugins)
    data = _load_items(benchmark, cfg, recipe, index)
    items = data.items
    sampling = benchmark.sampling_for(cfg, section.sampling)
    name = benchmark.name
    out = store.stage_dir("eval", name)
    details = out / DETAILS

    engine_table = resolved_dict(section.engine)
    engine_table.pop("model", None)
    generation_key = config_hash({"benchmark": resolved_dict(ref), "engine": engine_table,
                                  "sampling": sampling.to_dict(), "dataset": data.source,
                                  "items": [i.id for i in items]})
    scoring_key = config_hash({"generation": generation_key, "policy": section.answer_policy,
                               "bootstrap": section.bootstrap, "seed": recipe.seed})
    inputs = {**model_inputs, "generation": generation_key}
    step = store.step("eval", name, config_hash=scoring_key, inputs=inputs, outputs=[out / RESULTS],
                      plugins=ctx.plugins.versions(ctx.plugins.get(Benchmark, ref.name)))
    previous = step.previous
    # Kept samples made under another version of the benchmark plugin are extracted again.
    reextract = previous is not None and previous.plugins != step.plugins
    if previous is not None and (previous.inputs != inputs or ctx.force):
        details.unlink(missing_ok=True)  # stale samples from another model or setting
    elif step.fresh:
        if previous.extra.get("details") == details_fingerprint(details):
            ctx.console.print(f"eval {name}: up to date (use --force to redo)")
            return json.loads((out / RESULTS).read_text(encoding="utf-8"))
        ctx.console.print(f"eval {name}: {DETAILS} changed since it was summarised; "
                          "regenerating what is missing and rescoring")
    elif reextract and details.exists():
        ctx.console.print(f"eval {name}: the benchmark plugin changed; rescoring the stored samples")

    step.begin()
    writer = ShardWriter(details, batch_size=1 << 30)  # committed after each request
    by_id = {item.id: item for item in items}
    todo = [item for item in items
            if any(sample_id(item.id, k) not in writer for k in range(sampling.n))]
    done_samples = len(items) * sampling.n - sum(
        sum(sample_id(i.id, k) not in writer for k in range(sampling.n)) for i in todo)
    failed: list[tuple[str, str]] = []
    try:
        if todo:
            failed = _generate(ctx, benchmark, cfg, todo, by_id, sampling, engine, writer, name,
                               done_samples, len(items) * sampling.n, section.answer_policy)
    finally:
        writer.close()

    wanted = {sample_id(i.id, k) for i in items for k in range(sampling.n)}
    records = [r for r in iter_records([details]) if r.get("id") in wanted]
    missing = wanted - {r["id"] for r in records}
    if reextract and records:
        records = rescore(benchmark, cfg, by_id, records, section.answer_policy)
        _rewrite(details, records)
    if missing:
        (out / RESULTS).unlink(missing_ok=True)  # it would summarise other samples than are here
        step.incomplete(counts={"items": len(items), "samples": len(records),
                             "expected_samples": len(wanted), "missing_samples": len(missing)},
                     extra={"failed_requests": [list(f) for f in failed[:20]]})
        raise IncompleteBenchmark(name, len(missing), len(wanted), _reason(engine, failed))
    # Rescore under the current policy (it may differ from the one the samples were written with).
    for r in records:
        r["score"] = r["scores_by_policy"][section.answer_policy]
    results = summarize(benchmark, cfg, items, records, policy=section.answer_policy,
                        bootstrap=section.bootstrap, seed=recipe.seed)
    client_stats = engine.client.stats if engine.client is not None else None
    engine_cfg = section.engine.config
    results["think_detection"]["prefilled_think"] = getattr(engine_cfg, "prefilled_think", None)
    results.update({
        "sampling": sampling.to_dict(),
        "dataset": data.source,
        "model": engine.model,
        "engine": {"name": section.engine.name, **engine_table},
        "jre_version": __version__,
        **benchmark.result_extras(cfg),
    })
    if client_stats:
        results["engine_stats"] = {k: v for k, v in client_stats.items() if k != "errors"}
    write_json_atomic(out / RESULTS, results)
    step.finish(counts={"items": len(items), "samples": len(records)},
                extra={"score": results["score"], "failure_rate": results["failure_rate"],
                        "failure_rate_per_question": results["failure_rate_per_question"],
                        "details": details_fingerprint(details)})
    return results


def _rewrite(details: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``details`` with ``records`` (through a temporary file and rename)."""
    tmp = details.with_name(f".{details.name}.tmp")
    tmp.write_text("".join(dumps_json(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(details)


class IncompleteBenchmark(UserError):
    """Samples still missing after the engine's retries (the manifest says incomplete)."""

    def __init__(self, benchmark: str, missing: int, expected: int, reason: str) -> None:
        super().__init__(f"eval {benchmark}: {missing} of {expected} samples missing after "
                         f"retries ({reason}); rerun to generate only those")
        self.benchmark = benchmark


def details_fingerprint(path: Path) -> dict[str, Any] | None:
    """Size and sha256 of a details file: what a complete manifest summarised."""
    from jre.store import file_hash

    if not path.exists():
        return None
    return {"bytes": path.stat().st_size, "sha256": file_hash(path)}


def _reason(engine: _LazyEngine, failed: list[tuple[str, str]]) -> str:
    """The engine's own reason for the first failed request (for the openai engine: the
    endpoint and the server's message), else what is known."""
    if failed:
        more = f"; {len(failed) - 1} more failed requests" if len(failed) > 1 else ""
        return failed[0][1] + more
    return f"engine {engine.recipe.eval.engine.name} returned fewer samples than requested"


def _generate(ctx, benchmark, cfg, todo, by_id, sampling, engine, writer, name, done, total,
              policy) -> list[tuple[str, str]]:
    """Generate and score the missing samples of ``todo``; returns the engine's failed
    requests ``(item id, why)``."""
    from dataclasses import replace

    from jre.evaluate import sample_id, score_samples
    from jre.records import ChatRequest
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    requests = []
    prompts = {}
    for item in todo:
        missing = [k for k in range(sampling.n) if sample_id(item.id, k) not in writer]
        messages = benchmark.prompt(item, cfg)
        prompts[item.id] = (messages, missing)
        # A partly finished item (a server that returned fewer choices than asked) asks only
        # for the samples it lacks, which keep their own numbers.
        requests.append(ChatRequest(id=item.id, messages=messages,
                                    sampling=replace(sampling, n=len(missing))))
    client = engine.get()
    failed_before = len(getattr(client, "failed", []))
    columns = (TextColumn(f"eval {name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=ctx.console, transient=False) as progress:
        task = progress.add_task(name, total=total, completed=done)
        for request, generations in client.generate(requests):
            item = by_id[request.id]
            messages, missing = prompts[item.id]
            for index, record in zip(missing, score_samples(benchmark, cfg, item, messages,
                                                            generations, policy)):
                record.update(id=sample_id(item.id, index), sample=index)
                writer.write(record)
            writer.commit()
            progress.advance(task, len(generations))
    return list(getattr(client, "failed", []))[failed_before:]


def run(ctx: StageContext) -> None:
    recipe = ctx.recipe
    model, model_inputs = model_path(recipe, ctx.store)
    engine = _LazyEngine(recipe, model, ctx.plugins)
    incomplete: list[IncompleteBenchmark] = []
    try:
        for index, ref in enumerate(recipe.eval.benchmarks):
            try:
                results = run_benchmark(ctx, index, engine, model_inputs)
            except IncompleteBenchmark as exc:  # the other benchmarks still run
                incomplete.append(exc)
                continue
            ci = results.get("ci95")
            ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            extra = f"  {results['signature']}" if results.get("signature") else ""
            ctx.console.print(f"eval {results['benchmark']}: {results['metric']} {results['score']:.4f}{ci_text}"
                              f"  failure rate {results['failure_rate']:.3f} of samples, "
                              f"{results['failure_rate_per_question']:.3f} of questions"
                              f"  ({results['n_items']} items, {results['n_samples']} samples){extra}")
    finally:
        engine.close()
    if incomplete:
        first = incomplete[0]
        if len(incomplete) > 1:
            first.message += (f" (also incomplete: "
                              f"{', '.join(e.benchmark for e in incomplete[1:])})")
        raise first


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    section = recipe.eval
    lines = []
    for index, ref in enumerate(section.benchmarks):
        plugin = plugins.get(Benchmark, ref.name)
        if type(plugin).bind is Benchmark.bind:
            benchmark, label = plugin, plugin.name
        else:  # binding may load a task and its data (lm-eval); a dry run reads nothing
            benchmark = plugin
            label = f"{plugin.name} {json.dumps(ref.options, ensure_ascii=False, sort_keys=True)}"
        s = benchmark.sampling_for(ref.config, section.sampling)
        lines.append(f"eval {label} on {section.engine.name}: N={s.n} T={s.temperature} "
                     f"top_p={s.top_p} max_tokens={s.max_tokens}, answer policy {section.answer_policy}")
    return lines


STAGE = Stage(name="eval", run=run, plan=plan, check=check,
              help="Evaluate the model on RECIPE_FILE's [eval] benchmarks (details + results per benchmark).")
