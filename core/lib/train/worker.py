"""``python -m jre.lib.train.worker RECIPE [--run-dir DIR] [--force]``: the entry module a
launcher (``torchrun``, ``accelerate launch``, ``deepspeed``) runs on every rank."""

from __future__ import annotations

import argparse
import os
import sys

from jre.console import stage_console
from jre.errors import UserError
from jre.recipe import load_recipe
from jre.stages.train import run_in_process
from jre.store import RunStore


def main(argv: list[str] | None = None) -> None:
    """``python -m jre.lib.train.worker RECIPE [--run-dir DIR] [--force]``: what a launcher runs per rank."""
    parser = argparse.ArgumentParser(prog="python -m jre.lib.train.worker", description=main.__doc__)
    parser.add_argument("recipe")
    parser.add_argument("--run-dir")
    parser.add_argument("--force", action="store_true")
    # The deepspeed launcher passes --local_rank=N to every worker (it also sets LOCAL_RANK).
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args(argv)
    if ns.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(ns.local_rank))
    try:
        recipe = load_recipe(ns.recipe)
        if recipe.train is None:
            raise UserError("the recipe has no [train] table", where=ns.recipe)
        store = RunStore.for_recipe(recipe, ns.run_dir)
        run_in_process(recipe, store, force=ns.force, console=stage_console())
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
