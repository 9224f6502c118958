"""Supervised fine-tuning with the transformers ``Trainer``: data, checkpoints, launchers.

One process trains on one device; several processes (GPUs, nodes) are started by a
standard launcher (``torchrun``, ``accelerate launch``, ``deepspeed``) running
``python -m jre.sft_train RECIPE --run-dir DIR`` on every rank, with DeepSpeed ZeRO driven by
the JSON jre writes from ``[train.deepspeed]``. jre has no distributed code of its own.

Outputs under ``<run>/train/``: ``model/`` (weights + tokenizer with its chat template),
``checkpoints/checkpoint-N/`` (resumable), ``log.jsonl`` (loss, lr, tokens/s, padding share,
examples per step), ``deepspeed.json`` when ZeRO is on, and the stage manifest.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jre.errors import UserError

LAUNCH_ENV = ("LOCAL_RANK", "RANK")  # set by torchrun / accelerate / deepspeed in every worker


@dataclass
class TrainPaths:
    """Where the train stage reads and writes."""

    root: Path
    model: Path
    checkpoints: Path
    log: Path
    deepspeed: Path
    cache: Path
    mix: Path

    @classmethod
    def of(cls, store: Any) -> TrainPaths:
        root = store.stage_dir("train")
        return cls(root=root, model=root / "model", checkpoints=root / "checkpoints", log=root / "log.jsonl",
                   deepspeed=root / "deepspeed.json", cache=root / "cache", mix=store.root / "mix" / "dataset")


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
    from datetime import timedelta

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
    import importlib.util

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
    import socket

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


def resolve_base_model(recipe: Any) -> str:
    """The base model as a local folder or a Hugging Face id that is available offline-or-online.

    Raises a :class:`UserError` for a path that does not exist and is not a known model id.
    """
    name = recipe.train.base_model
    local = recipe.resolve_path(name)
    if local.is_dir():
        if not (local / "config.json").exists():
            raise UserError(f"base model folder {local} has no config.json", where=str(recipe.path),
                            field="train.base_model")
        return str(local)
    looks_like_id = not name.startswith((".", "/", "~")) and name.count("/") == 1
    if looks_like_id:
        from transformers import AutoConfig

        try:
            AutoConfig.from_pretrained(name)
            return name
        except (OSError, ValueError):
            pass
    raise UserError(f"unknown base model {name!r}: no such folder ({local}) and not a model id "
                    "transformers can load", where=str(recipe.path), field="train.base_model")


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
    from jre.store import write_json_atomic

    write_json_atomic(path, deepspeed_config(ds))
    return path


def launch_command(recipe_file: Path, run_dir: Path, section: Any) -> list[str]:
    """The command that starts every worker of a multi-process run with the recipe's launcher."""
    launch = section.launch
    entry = ["-m", "jre.sft_train", str(Path(recipe_file).resolve()), "--run-dir", str(Path(run_dir).resolve())]
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


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest ``checkpoint-N`` whose trainer state was written (saved last, so complete)."""
    best: tuple[int, Path] | None = None
    for path in folder.glob("checkpoint-*") if folder.is_dir() else []:
        try:
            step = int(path.name.split("-")[-1])
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if best is None or step > best[0]:
            best = (step, path)
    return best[1] if best else None


def load_tokenizer(base: str) -> Any:
    """The base model's tokenizer, with jre's ChatML ``<think>`` template when it has none."""
    from jre.chat import ensure_chat_template
    from transformers import AutoTokenizer

    tokenizer = ensure_chat_template(AutoTokenizer.from_pretrained(base))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def check_context(tokenizer: Any, section: Any, where: str | None) -> int:
    """Raise when ``max_length`` leaves no room inside the chat template; returns its overhead."""
    from jre.sft_data import template_overhead

    need = template_overhead(tokenizer)
    if section.max_length <= need:
        raise UserError(f"max_length {section.max_length} is smaller than the {need + 1} tokens the chat "
                        "template needs for one turn", where=where, field="train.max_length")
    return need


def tokenized_datasets(tokenizer: Any, files: list[Path], section: Any, cache: Path) -> tuple[Any, Any, dict[str, int]]:
    """Tokenize the mix (assistant-only labels) and apply the over-length policy.

    Returns ``(train, eval or None, counts)``; the datasets hold ``input_ids``, ``labels``,
    ``length`` and are cached under ``cache`` so a resumed run does not tokenize again.
    """
    from collections import Counter

    from datasets import load_dataset
    from jre.sft_data import fit_status, tokenize_chat

    raw = load_dataset("parquet", data_files=[str(f) for f in files], split="train", cache_dir=str(cache))
    max_length, overlength = section.max_length, section.overlength

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {"input_ids": [], "labels": [], "length": [], "fit": []}
        for messages in batch["messages"]:
            ex, status = fit_status(tokenize_chat(messages, tokenizer), max_length, overlength)
            out["input_ids"].append(ex["input_ids"] if ex else [])
            out["labels"].append(ex["labels"] if ex else [])
            out["length"].append(len(ex["input_ids"]) if ex else 0)
            out["fit"].append(status)
        return out

    tokenized = raw.map(encode, batched=True, batch_size=256, remove_columns=raw.column_names,
                        num_proc=section.tokenize_workers if section.tokenize_workers > 1 else None,
                        desc="tokenize")
    status = Counter(tokenized["fit"])
    tokenized = tokenized.filter(lambda fit: fit in ("kept", "truncated"), input_columns="fit")
    counts = {"examples_in": len(raw), "examples": len(tokenized), "dropped": len(raw) - len(tokenized),
              "overlength_policy": overlength,
              "over_length": status["truncated"] + status["dropped_over_length"],
              "truncated": status["truncated"], "dropped_over_length": status["dropped_over_length"],
              "dropped_no_labels": status["dropped_no_labels"]}
    if len(tokenized) == 0:
        return tokenized, None, counts
    tokenized = tokenized.remove_columns(["fit"])
    evaluation = None
    if section.eval_share > 0:
        split = tokenized.train_test_split(test_size=section.eval_share, seed=section.seed)
        tokenized, evaluation = split["train"], split["test"]
    return tokenized, evaluation, counts


def _precision(section: Any) -> str:
    import torch

    if section.dtype != "auto":
        return section.dtype
    return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"


def _attn_implementation(section: Any) -> str:
    import importlib.util

    import torch

    if section.attn_implementation:
        return section.attn_implementation
    if section.packing and torch.cuda.is_available() and importlib.util.find_spec("flash_attn"):
        return "flash_attention_2"  # variable-length kernels: packed rows cost no padding at all
    return "sdpa"


def _checkpointing_kwargs(enabled: bool) -> dict[str, Any]:
    """Activation checkpointing under the argument name this transformers version uses."""
    import inspect

    from transformers import TrainingArguments

    if not enabled:
        return {}
    params = inspect.signature(TrainingArguments.__init__).parameters
    name = "activation_checkpointing" if "activation_checkpointing" in params else "gradient_checkpointing"
    return {name: True}


def _make_trainer_classes():
    """Trainer subclass and callback, defined lazily so importing jre stays light."""
    from jre.sft_data import model_inputs
    from transformers import Trainer, TrainerCallback

    class SFTTrainer(Trainer):
        """Takes the collators' token counts out of each batch (for tokens/s and padding share)."""

        meter: Any = None

        def compute_loss(self, model, inputs, *args, **kwargs):  # type: ignore[override]
            real = inputs.get("real_tokens")
            examples = inputs.get("num_examples")
            if model.training and real is not None and self.meter is not None:
                self.meter.tokens += int(real)
                self.meter.positions += inputs["input_ids"].numel()
                self.meter.examples += int(examples)
            return super().compute_loss(model, model_inputs(inputs), *args, **kwargs)

    class JsonlLog(TrainerCallback):
        """Adds tokens/s, padding share and examples/step to every log and appends it to log.jsonl."""

        def __init__(self, path: Path, meter: Any, world: int) -> None:
            self.path, self.meter, self.world = path, meter, world
            self.last_time = time.perf_counter()
            self.last_step = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.last_time, self.last_step = time.perf_counter(), state.global_step
            self.meter.take()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs is None or "loss" not in logs:
                self._write(state, logs or {})
                return
            now = time.perf_counter()
            tokens, positions, examples = self.meter.take()
            steps = max(1, state.global_step - self.last_step)
            logs["tokens_per_s"] = round(tokens * self.world / max(now - self.last_time, 1e-9), 1)
            logs["padding_share"] = round(1 - tokens / positions, 4) if positions else 0.0
            logs["examples_per_step"] = round(examples * self.world / steps, 2)
            self.last_time, self.last_step = now, state.global_step
            self._write(state, logs)

        def _write(self, state, logs):
            if state.is_world_process_zero and logs:
                record = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, default=float) + "\n")

    class ConsoleLog(TrainerCallback):
        """One rounded, greppable line per logging step on jre's console (in place of the
        Trainer's tqdm bar and raw log dicts)."""

        def __init__(self, console: Any) -> None:
            self.console = console

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            parts = [f"step {state.global_step}/{state.max_steps}", f"loss {logs['loss']:.4g}"]
            for key, label, fmt in (("learning_rate", "lr", "{:.2e}"), ("grad_norm", "grad norm", "{:.3g}"),
                                    ("tokens_per_s", "tokens/s", "{:,.0f}")):
                if isinstance(logs.get(key), (int, float)):
                    parts.append(f"{label} {fmt.format(logs[key])}")
            self.console.print("train: " + ", ".join(parts))

    return SFTTrainer, JsonlLog, ConsoleLog


CHECKPOINT_STAMP = "jre-identity.txt"


def checkpoints_match(folder: Path, identity: str | None) -> bool:
    """Whether the checkpoints in ``folder`` were written for this train config and data.

    Checkpoints without a stamp, or stamped by another config, must not be resumed.
    """
    stamp = folder / CHECKPOINT_STAMP
    return identity is not None and stamp.is_file() and stamp.read_text(encoding="utf-8") == identity


def train(recipe: Any, store: Any, *, force: bool = False, console: Any = None,
          identity: str | None = None) -> dict[str, Any]:
    """Run SFT for ``recipe`` in this process; see :func:`train_in_process`.

    A DeepSpeed run without a launcher trains as a world of one process.
    """
    if recipe.train.deepspeed is not None:
        require_deepspeed(str(recipe.path) if recipe.path else None)
    alone = recipe.train.deepspeed is not None and not inside_launcher()
    with single_process_group() if alone else nullcontext():
        return train_in_process(recipe, store, force=force, console=console, identity=identity)


def train_in_process(recipe: Any, store: Any, *, force: bool = False, console: Any = None,
                     identity: str | None = None) -> dict[str, Any]:
    """Run SFT for ``recipe`` in this process (one rank of a launched run, or a single device).

    Resumes from the newest complete checkpoint unless ``force`` or ``train.resume = false``,
    and only when the checkpoints were written under the same ``identity`` (a hash of the
    train config and the mix dataset); stale checkpoints are removed. Returns the counts
    recorded in the manifest.
    """
    import torch
    from jre.sft_data import (
        PackedCollator,
        PackedRows,
        PaddingCollator,
        TokenMeter,
        pack_groups,
        packed_efficiency,
    )
    from transformers import AutoModelForCausalLM, TrainingArguments, set_seed

    section = recipe.train
    where = str(recipe.path) if recipe.path else None
    paths = TrainPaths.of(store)
    files = sorted(paths.mix.glob("*.parquet"))
    if not files:
        raise UserError(f"no mix dataset in {paths.mix}; run `jre mix` first", where=where, field="mix")
    base = resolve_base_model(recipe)
    tokenizer = load_tokenizer(base)
    check_context(tokenizer, section, where)
    world = world_size(section)
    accumulation = grad_accumulation(section, world)
    stale = not checkpoints_match(paths.checkpoints, identity)
    if (force or stale) and os.environ.get("RANK", "0") == "0":
        shutil.rmtree(paths.checkpoints, ignore_errors=True)
        paths.log.unlink(missing_ok=True)
        if identity is not None:
            paths.checkpoints.mkdir(parents=True, exist_ok=True)
            (paths.checkpoints / CHECKPOINT_STAMP).write_text(identity, encoding="utf-8")
    resume_from = (latest_checkpoint(paths.checkpoints)
                   if section.resume and not force and not stale else None)
    set_seed(section.seed)

    train_ds, eval_ds, data_counts = tokenized_datasets(tokenizer, files, section, paths.cache)
    if len(train_ds) == 0:
        raise UserError("no training example is left after the over-length policy", where=where,
                        field="train.overlength")
    meter = TokenMeter()
    extra: dict[str, Any] = {}
    if section.packing:
        lengths = train_ds["length"]
        groups = pack_groups(lengths, section.max_length)
        train_data: Any = PackedRows(train_ds, groups)
        # Flash-attention detects packed sequences only in a single flattened row.
        collator: Any = PackedCollator(tokenizer.pad_token_id,
                                       flatten=_attn_implementation(section).startswith("flash"))
        extra = {"packed_rows": len(groups), "pack_efficiency": round(packed_efficiency(lengths, groups, section.max_length), 4),
                 "examples_per_row": round(len(train_ds) / len(groups), 3)}
    else:
        train_data = train_ds
        collator = PaddingCollator(tokenizer.pad_token_id)

    precision = _precision(section)
    ds_path = None
    if section.deepspeed is not None:
        ds_path = str(write_deepspeed_config(section.deepspeed, paths.deepspeed))
    state_kwargs: dict[str, Any] = {}
    if ds_path is not None and not torch.cuda.is_available():
        state_kwargs["accelerator_config"] = configure_cpu_deepspeed()
    eval_kwargs: dict[str, Any] = {}
    if eval_ds is not None:
        eval_kwargs = {"eval_strategy": "steps", "eval_steps": section.eval_steps or section.save_steps,
                       "per_device_eval_batch_size": section.micro_batch_size}
    # TrainingArguments come before the model: under ZeRO-3 they make from_pretrained load
    # the weights already partitioned across ranks.
    args = TrainingArguments(
        output_dir=str(paths.checkpoints), per_device_train_batch_size=section.micro_batch_size,
        gradient_accumulation_steps=accumulation, learning_rate=section.learning_rate,
        num_train_epochs=section.epochs, max_steps=section.max_steps or -1,
        lr_scheduler_type=section.lr_scheduler, warmup_steps=section.warmup_ratio,
        weight_decay=section.weight_decay, max_grad_norm=section.max_grad_norm,
        bf16=precision == "bfloat16", fp16=precision == "float16",
        logging_steps=section.logging_steps, save_strategy="steps", save_steps=section.save_steps,
        save_total_limit=section.save_total_limit, report_to=section.report_to, seed=section.seed,
        data_seed=section.seed, remove_unused_columns=False, dataloader_num_workers=section.dataloader_workers,
        deepspeed=ds_path, use_cache=False, dataloader_pin_memory=torch.cuda.is_available(),
        **_checkpointing_kwargs(section.gradient_checkpointing), **eval_kwargs, **state_kwargs,
    )
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation=_attn_implementation(section))
    model.config.use_cache = False  # no KV cache: packed rows get block-diagonal masks
    if section.lora is not None:
        from peft import LoraConfig, get_peft_model

        lora = section.lora
        model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                 target_modules=lora.target_modules, task_type="CAUSAL_LM"))

    trainer_cls, log_cls, console_cls = _make_trainer_classes()
    trainer = trainer_cls(model=model, args=args, train_dataset=train_data, eval_dataset=eval_ds,
                          data_collator=collator, processing_class=tokenizer)
    trainer.meter = meter
    trainer.callback_handler.callbacks.insert(0, log_cls(paths.log, meter, world))
    if console is not None:  # jre's own lines replace the Trainer's bar and its raw log dicts
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        trainer.add_callback(console_cls(console))
    if console is not None and trainer.is_world_process_zero():
        console.print(f"train: {len(train_ds):,} examples"
                      + (f" in {extra['packed_rows']:,} packed rows" if extra else "")
                      + f", global batch {section.global_batch_size} = {section.micro_batch_size} × "
                        f"{accumulation} accumulation × {world} process(es)"
                      + (f"; resuming from {resume_from.name}" if resume_from else ""))
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    final = trainer.model
    if section.lora is not None and section.lora.merge and not (section.deepspeed and section.deepspeed.stage == 3):
        final = final.merge_and_unload()
    final.config.use_cache = True
    if trainer.is_world_process_zero():
        shutil.rmtree(paths.model, ignore_errors=True)
    if final is trainer.model:
        trainer.save_model(str(paths.model))
    elif trainer.is_world_process_zero():
        final.save_pretrained(str(paths.model))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(paths.model))
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    counts = {**data_counts, **extra, "steps": trainer.state.global_step, "world_size": world,
              "gradient_accumulation": accumulation, "train_loss": result.training_loss,
              "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
              "precision": precision, "resumed_from": resume_from.name if resume_from else None}
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> None:
    """``python -m jre.sft_train RECIPE [--run-dir DIR] [--force]``: what a launcher runs per rank."""
    import argparse

    from jre.run import (  # jre.run imports the stages, which import this module
        Run,
        execute,
    )

    parser = argparse.ArgumentParser(prog="python -m jre.sft_train", description=main.__doc__)
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


def format_command(cmd: list[str]) -> str:
    """A launch command as one shell-quoted line."""
    return shlex.join(cmd)


if __name__ == "__main__":
    main()
