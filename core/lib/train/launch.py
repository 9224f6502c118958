"""Starting training: the launcher command for every rank, the DeepSpeed config jre writes,
world size and gradient accumulation, and DeepSpeed on CPU or in one process."""

from __future__ import annotations

import importlib.util
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.store import write_json_atomic

WORKER_MODULE = "jre.lib.train.worker"  # what a launcher runs on every rank
LAUNCH_ENV = ("LOCAL_RANK", "RANK")  # set by torchrun / accelerate / deepspeed in every worker


def inside_launcher() -> bool:
    """Whether this process was started by a distributed launcher."""
    return any(k in os.environ for k in LAUNCH_ENV)


def configure_cpu_deepspeed() -> dict[str, Any]:
    """Start DeepSpeed's process group on CPU (gloo) and return the ``accelerator_config`` that
    makes ``TrainingArguments`` use it.

    Without a GPU, accelerate finds no device backend for a DeepSpeed run and records one
    process however many the launcher started (ZeRO then asserts on the batch size); an
    explicit ``gloo`` backend gives it the launcher's world size. GPU runs never come here.
    """
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(reset_partial_state=True)  # a study trains again in this process
    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    try:
        PartialState(backend="gloo", timeout=timedelta(minutes=30))
    finally:
        del os.environ["ACCELERATE_USE_DEEPSPEED"]
    return {"use_configured_state": True}


def require_deepspeed(where: str | None) -> None:
    """Raise a one-line :class:`UserError` when ``[train.deepspeed]`` is set but DeepSpeed is missing."""
    if importlib.util.find_spec("deepspeed") is None:
        raise UserError("[train.deepspeed] needs DeepSpeed: pip install 'jre[deepspeed]'", where=where,
                        field="train.deepspeed")


@contextmanager
def single_process_group() -> Iterator[None]:
    """Launcher variables for a DeepSpeed run in this one process (``launcher = "none"``).

    DeepSpeed reads its rank and rendezvous from ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``...;
    with none set it tries MPI discovery (mpi4py). A world of one on a free local port is
    what it needs; the variables and the process group are undone afterwards.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    values = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
              "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def world_size(section: Any) -> int:
    """Processes taking part: the launcher's ``WORLD_SIZE`` inside it, else the recipe's."""
    if "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    launch = section.launch
    return 1 if launch.launcher == "none" else launch.nproc_per_node * launch.nnodes


def grad_accumulation(section: Any, world: int) -> int:
    """``global_batch_size / (micro_batch_size × world)``, which must be a whole number."""
    per_step = section.micro_batch_size * world
    if section.global_batch_size % per_step:
        raise UserError(f"global_batch_size {section.global_batch_size} is not a multiple of "
                        f"micro_batch_size × processes = {section.micro_batch_size} × {world}",
                        field="train.global_batch_size")
    return section.global_batch_size // per_step


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def deepspeed_config(ds: Any) -> dict[str, Any]:
    """The ZeRO config for ``[train.deepspeed]``; ``"auto"`` values are filled by transformers
    from the training arguments, so batch sizes and precision are stated once, in the recipe."""
    zero: dict[str, Any] = {"stage": ds.stage}
    if ds.stage > 0:
        zero.update({"overlap_comm": ds.overlap_comm, "contiguous_gradients": True,
                     "reduce_bucket_size": "auto"})
    if ds.stage == 3:
        zero.update({"stage3_prefetch_bucket_size": "auto", "stage3_param_persistence_threshold": "auto",
                     "stage3_gather_16bit_weights_on_model_save": True})
    for key, device in (("offload_optimizer", ds.offload_optimizer), ("offload_param", ds.offload_param)):
        if device != "none":
            zero[key] = {"device": device, "pin_memory": True}
            if device == "nvme":
                zero[key]["nvme_path"] = ds.nvme_path or "/local_nvme"
    config = {
        "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
        "train_batch_size": "auto", "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"}, "fp16": {"enabled": "auto"},
        "zero_optimization": zero, "steps_per_print": 1_000_000_000, "wall_clock_breakdown": False,
    }
    return _deep_merge(config, ds.extra)


def write_deepspeed_config(ds: Any, path: Path) -> Path:
    """Write :func:`deepspeed_config` as JSON to ``path``."""
    write_json_atomic(path, deepspeed_config(ds))
    return path


def launch_command(recipe_file: Path, run_dir: Path, section: Any) -> list[str]:
    """The command that starts every worker of a multi-process run with the recipe's launcher."""
    launch = section.launch
    entry = ["-m", WORKER_MODULE, str(Path(recipe_file).resolve()), "--run-dir", str(Path(run_dir).resolve())]
    if launch.launcher == "torchrun":
        return ["torchrun", f"--nnodes={launch.nnodes}", f"--nproc_per_node={launch.nproc_per_node}",
                f"--node_rank={launch.node_rank}", f"--master_addr={launch.master_addr}",
                f"--master_port={launch.master_port}", *entry]
    if launch.launcher == "accelerate":
        # Without --multi_gpu (and no `accelerate config` file) accelerate falls back to its
        # simple launcher: one process, no RANK/MASTER_* variables, so DeepSpeed goes looking
        # for MPI (mpi4py). --multi_gpu starts the workers through torch.distributed.run, on
        # CPUs too; the DeepSpeed config itself comes from the training arguments.
        parallel = ["--multi_gpu"] if launch.nproc_per_node * launch.nnodes > 1 else []
        return ["accelerate", "launch", *parallel, "--num_machines", str(launch.nnodes),
                "--num_processes", str(launch.nproc_per_node * launch.nnodes),
                "--machine_rank", str(launch.node_rank), "--main_process_ip", launch.master_addr,
                "--main_process_port", str(launch.master_port), *entry]
    if launch.launcher == "deepspeed":
        return ["deepspeed", "--num_nodes", str(launch.nnodes), "--num_gpus", str(launch.nproc_per_node),
                "--master_addr", launch.master_addr, "--master_port", str(launch.master_port),
                "--module", *entry[1:]]
    return [sys.executable, *entry]


def format_command(cmd: list[str]) -> str:
    """A launch command as one shell-quoted line."""
    return shlex.join(cmd)
