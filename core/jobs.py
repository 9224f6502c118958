"""Batch job scripts for SLURM and PBS Pro: what ``jre jobs`` prints.

- ``synth``: the ``[synth]`` stage as an array job, one ``jre synth --shard I/N`` per
  replica (``--replicas-per-node`` replicas share a node, each on its own GPUs through
  ``CUDA_VISIBLE_DEVICES``: vLLM's one-process-per-replica data parallelism), then a merge
  job that runs ``jre synth`` without ``--shard``: it reads every worker's triples, asks for
  nothing already there and writes the dataset manifests the mix stage reads.
- ``eval``: the ``[eval]`` stage as one GPU job (the eval stage has no ``--shard``; spread
  evaluation over many servers with the ``openai`` engine's endpoint pool instead).
- ``train``: multi-node SFT, one ``torchrun`` per node meeting through c10d rendezvous on
  the first node, every rank running ``python -m jre.lib.train.worker`` with the recipe's
  ``[train.deepspeed]`` config.

Scripts are plain bash with scheduler directives as comments, so they also run by hand
(``TASK`` defaults to 0). Each names the environment variables it reads in its header.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jre.errors import UserError

Scheduler = Literal["slurm", "pbs"]
SUFFIX = {"slurm": ".sbatch", "pbs": ".pbs"}
ARRAY_INDEX = {"slurm": "SLURM_ARRAY_TASK_ID", "pbs": "PBS_ARRAY_INDEX"}

COMMON_ENV = """\
# Environment: JRE (the jre command, default: jre), HF_HOME (model cache shared by the
# nodes), HF_HUB_OFFLINE=1 where compute nodes have no internet."""


@dataclass
class JobSettings:
    """What every job script needs: scheduler, where to run, and the scheduler's resources."""

    scheduler: Scheduler
    recipe: Path
    workdir: Path
    run_dir: Path | None = None
    name: str = "jre"
    queue: str | None = None  # SLURM partition / PBS queue
    account: str | None = None
    walltime: str = "24:00:00"
    setup: list[str] = field(default_factory=list)  # shell lines run first (modules, venv)
    directives: list[str] = field(default_factory=list)  # extra scheduler options, as written after #SBATCH/#PBS


@dataclass
class JobScript:
    """One job script: its file name and text."""

    filename: str
    text: str


def _header(s: JobSettings, job: str, *, nodes: int = 1, gpus_per_node: int = 0,
            array: int | None = None, purpose: str, env: str = "") -> str:
    name = f"{s.name}-{job}"
    lines = ["#!/bin/bash"]
    if s.scheduler == "slurm":
        lines += [f"#SBATCH --job-name={name}", f"#SBATCH --nodes={nodes}", "#SBATCH --ntasks-per-node=1",
                  f"#SBATCH --time={s.walltime}", f"#SBATCH --output={name}-%A_%a.log" if array
                  else f"#SBATCH --output={name}-%j.log"]
        if gpus_per_node:
            lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
        if array:
            lines.append(f"#SBATCH --array=0-{array - 1}")
        if s.queue:
            lines.append(f"#SBATCH --partition={s.queue}")
        if s.account:
            lines.append(f"#SBATCH --account={s.account}")
        lines += [f"#SBATCH {d}" for d in s.directives]
    else:
        chunk = f"select={nodes}:mpiprocs=1" + (f":ngpus={gpus_per_node}" if gpus_per_node else "")
        lines += [f"#PBS -N {name}", f"#PBS -l {chunk}", f"#PBS -l walltime={s.walltime}", "#PBS -j oe"]
        if array and array > 1:  # PBS Pro arrays need at least two subjobs
            lines.append(f"#PBS -J 0-{array - 1}")
        if s.queue:
            lines.append(f"#PBS -q {s.queue}")
        if s.account:
            lines.append(f"#PBS -A {s.account}")
        lines += [f"#PBS {d}" for d in s.directives]
    lines += [f"# {purpose}", COMMON_ENV]
    if env:
        lines.append(env)
    lines += ["set -euo pipefail", f"cd {shlex.quote(str(s.workdir))}", *s.setup, 'JRE="${JRE:-jre}"']
    return "\n".join(lines) + "\n"


def _stage_args(s: JobSettings) -> str:
    args = shlex.quote(str(s.recipe))
    if s.run_dir is not None:
        args += " --run-dir " + shlex.quote(str(s.run_dir))
    return args


def synth_jobs(s: JobSettings, *, shards: int, replicas_per_node: int = 1,
               gpus_per_replica: int = 1) -> list[JobScript]:
    """The synth array job (``shards`` workers, ``replicas_per_node`` per array task) and its merge job."""
    if shards < 1 or replicas_per_node < 1 or gpus_per_replica < 0:
        raise UserError("--shards and --replicas-per-node must be at least 1", field="jobs")
    if shards % replicas_per_node:
        raise UserError(f"--shards {shards} is not a multiple of --replicas-per-node {replicas_per_node}",
                        field="jobs")
    tasks = shards // replicas_per_node
    index = ARRAY_INDEX[s.scheduler]
    head = _header(s, "synth", gpus_per_node=gpus_per_replica * replicas_per_node, array=tasks,
                   purpose=f"Synthesis: {shards} shards, {replicas_per_node} replica(s) of "
                           f"{gpus_per_replica} GPU(s) per array task; the merge job follows.",
                   env=f"# Reads {index} (the array task; 0 when run by hand).")
    gpus = gpus_per_replica
    body = f"""TASK="${{{index}:-0}}"
REPLICAS={replicas_per_node}
SHARDS={shards}
pids=()
for ((r = 0; r < REPLICAS; r++)); do
    shard=$((TASK * REPLICAS + r))
"""
    if gpus:
        body += f"""    # replica r sees GPUs r*{gpus} .. r*{gpus}+{gpus - 1} of this node
    export CUDA_VISIBLE_DEVICES=$(seq -s, $((r * {gpus})) $((r * {gpus} + {gpus - 1})))
"""
    body += f"""    "$JRE" synth {_stage_args(s)} --shard "$shard/$SHARDS" &
    pids+=($!)
done
status=0
for pid in "${{pids[@]}}"; do wait "$pid" || status=$?; done
exit $status
"""
    merge = _header(s, "synth-merge", purpose="Merge: gathers every shard's triples into the dataset "
                    "manifests, then builds the mix (after a failed shard, resubmit that array task first).")
    merge += f'"$JRE" synth {_stage_args(s)}\n"$JRE" mix {_stage_args(s)}\n'
    suffix = SUFFIX[s.scheduler]
    return [JobScript("synth" + suffix, head + body), JobScript("synth-merge" + suffix, merge)]


def eval_job(s: JobSettings, *, gpus: int = 1) -> JobScript:
    """One job running the recipe's ``[eval]`` stage on ``gpus`` GPUs of one node."""
    text = _header(s, "eval", gpus_per_node=gpus, purpose=f"Evaluation on one node with {gpus} GPU(s) "
                   "(set the vllm engine's tensor_parallel_size to match).")
    text += f'"$JRE" eval {_stage_args(s)}\n'
    return JobScript("eval" + SUFFIX[s.scheduler], text)


def train_job(s: JobSettings, *, nodes: int, gpus_per_node: int, port: int = 29500) -> JobScript:
    """Multi-node SFT: ``torchrun`` on every node, c10d rendezvous on the first one."""
    if nodes < 1 or gpus_per_node < 1:
        raise UserError("--nodes and --gpus-per-node must be at least 1", field="jobs")
    run_dir = f" --run-dir {shlex.quote(str(s.run_dir))}" if s.run_dir is not None else ""
    entry = f"-m jre.lib.train.worker {shlex.quote(str(s.recipe))}{run_dir}"
    env = (f"# Reads MASTER_PORT (rendezvous port on the first node, default {port}); exports MASTER_ADDR.\n"
           "# DeepSpeed ZeRO comes from the recipe's [train.deepspeed]; the global batch is split over\n"
           f"# {nodes} node(s) x {gpus_per_node} GPU(s).")
    text = _header(s, "train", nodes=nodes, gpus_per_node=gpus_per_node, env=env,
                   purpose=f"Training: {nodes} node(s) x {gpus_per_node} GPU(s), torchrun + DeepSpeed.")
    text += f'"$JRE" mix {_stage_args(s)}  # up to date after the synth merge job: a no-op\n'
    text += f'export MASTER_PORT="${{MASTER_PORT:-{port}}}"\n'
    torchrun = (f'torchrun --nnodes={nodes} --nproc_per_node={gpus_per_node} '
                f'--rdzv_backend=c10d --rdzv_endpoint="$MASTER_ADDR:$MASTER_PORT" --rdzv_id="$JOB_ID" {entry}')
    if s.scheduler == "slurm":
        # srun starts one task per node with the job's environment (MASTER_ADDR included).
        text += ('export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)\n'
                 'export JOB_ID="$SLURM_JOB_ID"\n'
                 f"NODE_CMD={shlex.quote('exec ' + torchrun)}\n"
                 'srun --kill-on-bad-exit=1 --ntasks-per-node=1 bash -c "$NODE_CMD"\n')
    else:
        # pbs_tmrsh starts a command on another node of this job (PBS Pro) without the job's
        # environment, so the node command carries its setup and the rendezvous address.
        node = "; ".join([f"cd {shlex.quote(str(s.workdir))}", *s.setup, "exec " + torchrun])
        text += ('export MASTER_ADDR=$(head -n 1 "$PBS_NODEFILE")\n'
                 'export JOB_ID="${PBS_JOBID%%.*}"\n'
                 f"NODE_CMD={shlex.quote(node)}\n"
                 'pids=()\n'
                 'for host in $(sort -u "$PBS_NODEFILE"); do\n'
                 '    pbs_tmrsh "$host" env MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="$MASTER_PORT" '
                 'JOB_ID="$JOB_ID" bash -c "$NODE_CMD" &\n'
                 '    pids+=($!)\n'
                 'done\n'
                 'status=0\n'
                 'for pid in "${pids[@]}"; do wait "$pid" || status=$?; done\n'
                 'exit $status\n')
    return JobScript("train" + SUFFIX[s.scheduler], text)


def submit_script(scheduler: Scheduler, scripts: list[JobScript]) -> str:
    """Shell lines that submit ``scripts`` in order, each after the previous one succeeded."""
    lines = ["#!/bin/bash", "set -euo pipefail", 'cd "$(dirname "$0")"', "prev="]
    for job in scripts:
        if scheduler == "slurm":
            lines.append(f'prev=$(sbatch --parsable ${{prev:+--dependency=afterok:$prev}} {job.filename})')
        else:
            # An array job's id ends in []; PBS Pro waits on it with afterokarray.
            lines.append(f'prev=$(qsub ${{prev:+-W depend=$([[ $prev == *"[]"* ]] && echo afterokarray || '
                         f'echo afterok):$prev}} {job.filename})')
        lines.append(f'echo "submitted {job.filename}: $prev"')
    return "\n".join(lines) + "\n"


def recipe_jobs(recipe: Any, s: JobSettings, *, shards: int = 1, replicas_per_node: int = 1,
                gpus_per_replica: int = 1, nodes: int = 1, gpus_per_node: int = 8,
                eval_gpus: int = 1) -> list[JobScript]:
    """The job scripts for every stage the recipe declares, in pipeline order."""
    scripts: list[JobScript] = []
    if recipe.synth is not None:
        scripts += synth_jobs(s, shards=shards, replicas_per_node=replicas_per_node,
                              gpus_per_replica=gpus_per_replica)
    if recipe.train is not None:
        scripts.append(train_job(s, nodes=nodes, gpus_per_node=gpus_per_node))
    if recipe.eval is not None:
        scripts.append(eval_job(s, gpus=eval_gpus))
    if not scripts:
        raise UserError("the recipe has no [synth], [train] or [eval] table to make jobs for",
                        where=str(recipe.path))
    return scripts
