"""The ``train`` stage: the mix dataset → a fine-tuned model in ``<run>/train/model``.

Without a launcher it trains in this process. With ``[train.launch] launcher = "torchrun"``
(or ``accelerate`` / ``deepspeed``) it runs the launcher, which starts
``python -m jre.lib.train.worker`` on every rank; ``jre train --print-launch`` only prints that
command, for job scripts (SLURM) that start the workers themselves.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import click

from jre.errors import UserError
from jre.lib.train.launch import (
    format_command,
    grad_accumulation,
    inside_launcher,
    launch_command,
    require_deepspeed,
    world_size,
    write_deepspeed_config,
)
from jre.lib.train.paths import TrainPaths
from jre.lib.train.trainer import train
from jre.plugin_manager import PluginSet
from jre.recipe import Recipe, required
from jre.recipe import config_hash as hash_of
from jre.stages import Stage, StageContext
from jre.store import RunStore


def _inputs(store: Any) -> dict[str, str]:
    """The mix dataset's content hash (from its manifest): a new mix means a new training."""
    manifest = store.read_manifest("mix")
    if manifest is None or manifest.status != "complete":
        return {"mix": "missing"}
    return {"mix": str(manifest.extra.get("hashes", {}).get("dataset", manifest.finished))}


def _loss(value: Any) -> str:
    return "?" if value is None else f"{value:.4g}"


def check(recipe: Recipe, store: Any, planned: set[str]) -> list[UserError]:
    """Training reads the mix stage's dataset: planned in this run, or already in the run folder."""
    if "mix" in planned and recipe.mix is not None:
        return []
    if _inputs(store)["mix"] != "missing":
        return []
    where = str(recipe.path) if recipe.path else None
    if recipe.mix is None:
        return [UserError(f"training reads the mix stage's dataset, but the recipe has no [mix] table and "
                          f"{store.root / 'mix'} holds none; add a [mix] table (recipes/paper/exp01.toml "
                          "shows one)", where=where, field="train")]
    return [UserError(f"training reads the mix stage's dataset and {store.root / 'mix'} holds none yet; "
                      "run `jre mix` first (or jre run without --only)", where=where, field="train")]


def run_in_process(recipe: Recipe, store: Any, *, force: bool = False, console: Any = None) -> None:
    """Train in this process (a single device, or one rank of a launched run)."""
    import os

    paths = TrainPaths.of(store)
    config_hash = recipe.section_hash("train")
    inputs = _inputs(store)
    rank0 = os.environ.get("RANK", "0") == "0"
    step = store.step("train", config_hash=config_hash, inputs=inputs, force=force, outputs=[paths.model])
    if step.fresh:
        if console is not None and rank0:
            console.print("train: up to date (use --force to retrain)")
        return
    identity = hash_of({"train": config_hash, "inputs": inputs})
    if not rank0:  # rank 0 alone writes the manifest
        train(recipe, store, force=force, console=console, identity=identity)
        return
    with step:
        counts = train(recipe, store, force=force, console=console, identity=identity)
        step.finish(counts=counts, extra={"model": str(paths.model), "log": str(paths.log)})
    if console is not None and rank0:
        console.print(f"train: {counts['steps']} steps, loss {_loss(counts['first_loss'])} → "
                      f"{_loss(counts['last_loss'])}; "
                      f"model → {paths.model}")


def _executable(name: str) -> str:
    """``name`` from PATH, else the script beside this Python (a virtualenv not activated)."""
    import shutil
    import sys

    if shutil.which(name):
        return name
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.exists() else name


def run(ctx: StageContext) -> None:
    recipe = ctx.recipe
    section = required(recipe.train, "train")
    if section.launch.launcher == "none" or inside_launcher():
        if ctx.options.get("print_launch"):
            raise UserError("--print-launch needs [train.launch] launcher = torchrun, accelerate or deepspeed",
                            where=str(recipe.path), field="train.launch.launcher")
        run_in_process(recipe, ctx.store, force=ctx.force, console=ctx.console)
        return
    grad_accumulation(section, world_size(section))  # fail before starting any worker
    if section.deepspeed is not None:
        if not ctx.options.get("print_launch"):
            require_deepspeed(str(recipe.path))

        write_deepspeed_config(section.deepspeed, TrainPaths.of(ctx.store).deepspeed)
    cmd = launch_command(recipe.path or Path("recipe.toml"), ctx.store.root, section)
    if ctx.force:
        cmd.append("--force")
    if ctx.options.get("print_launch"):
        click.echo(format_command(cmd))
        return
    ctx.console.print(f"train: launching {format_command(cmd)}")
    try:
        status = subprocess.call([_executable(cmd[0]), *cmd[1:]])
    except FileNotFoundError:
        raise UserError(f"launcher {cmd[0]!r} not found; install it (the jre[deepspeed] extra for "
                        "deepspeed) or use --print-launch", field="train.launch.launcher") from None
    if status != 0:
        raise UserError(f"training workers exited with status {status}", where=str(recipe.path))


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    t = required(recipe.train, "train")
    world = world_size(t)
    lines = [f"base model {t.base_model}",
             f"lr {t.learning_rate:g}, epochs {t.epochs:g}" + (f", max_steps {t.max_steps}" if t.max_steps else "")
             + f", global batch {t.global_batch_size} ({t.micro_batch_size} per device × {world} process(es)"
             + (", packed rows)" if t.packing else ")") + f", context {t.max_length:,}",
             f"packing {'on' if t.packing else 'off (padded)'}, over-length {t.overlength}, "
             f"{'LoRA r=' + str(t.lora.r) if t.lora else 'full fine-tuning'}"
             + (f", DeepSpeed ZeRO-{t.deepspeed.stage}" if t.deepspeed else "")]
    if t.launch.launcher != "none":
        root = RunStore.for_recipe(recipe).root
        lines.append("launch: " + format_command(launch_command(recipe.path or Path("recipe.toml"), root, t)))
    return lines


STAGE = Stage(name="train", run=run, plan=plan, check=check, print_only=("print_launch",),
              help="Fine-tune [train].base_model on the mix dataset of RECIPE_FILE.",
              options=[click.Option(["--print-launch"], is_flag=True,
                                    help="Print the multi-process launch command instead of running it.")])
