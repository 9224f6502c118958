"""``python -m jre.lib.train.worker RECIPE [--run-dir DIR] [--force]``: the entry module a
launcher (``torchrun``, ``accelerate launch``, ``deepspeed``) runs on every rank."""

from __future__ import annotations

import argparse
import os
import sys

from jre.errors import UserError
from jre.run import Run, execute


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
        # Inside the launcher the train stage trains in this process (one rank).
        execute(Run.load(ns.recipe, run_dir=ns.run_dir, force=ns.force), ["train"], announce=False,
                check=False)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        sys.exit(2)
    finally:
        # Tear the process group down before the interpreter does: left to exit, a rank's
        # communication threads can die mid-teardown (std::terminate, exit status -6) after
        # training has finished and the model is saved.
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
