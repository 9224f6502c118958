"""The ``mix`` stage: source triples → one SFT dataset (Parquet shards) + manifest.

Output: ``<run>/mix/dataset/part-*.parquet`` and ``<run>/mix/manifest.json``. The dataset is
written to a temporary folder and renamed when complete, so a killed mix leaves no half
dataset; an unchanged mix (same table, same source fingerprints) is skipped on rerun.
"""

from __future__ import annotations

import shutil

from jre.kinds.mixer import MixContext, Mixer
from jre.plugin_manager import PluginSet
from jre.recipe import Recipe, required
from jre.stages import Stage, StageContext


def _mixer(recipe: Recipe, plugins: PluginSet) -> Mixer:
    return plugins.get(Mixer, required(recipe.mix, "mix").name)


def _context(ctx: StageContext, out_dir) -> MixContext:
    recipe = ctx.recipe
    train = recipe.train
    tokenizer = None
    if train is not None:
        local = recipe.resolve_path(train.base_model)
        tokenizer = str(local) if local.exists() else train.base_model
    return MixContext(recipe=recipe, store=ctx.store, out_dir=out_dir, tokenizer=tokenizer,
                      max_length=train.max_length if train else None,
                      overlength=train.overlength if train else "drop", console=ctx.console,
                      plugins=ctx.plugins)


def run(ctx: StageContext) -> None:
    recipe = ctx.recipe
    mixer = _mixer(recipe, ctx.plugins)
    stage_dir = ctx.store.stage_dir("mix")
    final = stage_dir / "dataset"
    mctx = _context(ctx, final)
    inputs = mixer.inputs(required(recipe.mix, "mix").config, mctx)
    step = ctx.store.step("mix", config_hash=recipe.section_hash("mix"), inputs=inputs,
                          plugins=ctx.plugins.versions(mixer), force=ctx.force, outputs=[final])
    if step.fresh:
        ctx.console.print("mix: up to date (use --force to rebuild)")
        return
    tmp = stage_dir / ".dataset.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    mctx.out_dir = tmp
    with step:
        result = mixer.mix(required(recipe.mix, "mix").config, mctx)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        step.finish(counts=result.counts, extra={"dataset": str(final), **result.extra})
    rows = result.counts.get("rows")
    ctx.console.print(f"mix: {rows:,} examples → {final}" if isinstance(rows, int) else f"mix: → {final}")


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    return _mixer(recipe, plugins).plan(required(recipe.mix, "mix").config, recipe)


STAGE = Stage(name="mix", run=run, plan=plan,
              help="Build the SFT dataset of RECIPE_FILE's [mix] table (Parquet shards + manifest).")
