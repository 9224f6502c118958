"""Supervised fine-tuning with the transformers ``Trainer``: tokenised data, the model, the
log and console callbacks, resuming, and the saved model."""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import os
import shutil
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from jre.chat import ensure_chat_template
from jre.errors import UserError
from jre.lib.train.data import (
    PackedCollator,
    PackedRows,
    PaddingCollator,
    TokenMeter,
    fit_status,
    model_inputs,
    pack_groups,
    packed_efficiency,
    template_overhead,
    tokenize_chat,
)
from jre.lib.train.launch import (
    configure_cpu_deepspeed,
    grad_accumulation,
    inside_launcher,
    require_deepspeed,
    single_process_group,
    world_size,
    write_deepspeed_config,
)
from jre.lib.train.paths import (
    CHECKPOINT_STAMP,
    TrainPaths,
    checkpoints_match,
    latest_checkpoint,
)


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


def load_tokenizer(base: str) -> Any:
    """The base model's tokenizer, with jre's ChatML ``<think>`` template when it has none."""
    from transformers import AutoTokenizer

    tokenizer = ensure_chat_template(AutoTokenizer.from_pretrained(base))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def check_context(tokenizer: Any, section: Any, where: str | None) -> int:
    """Raise when ``max_length`` leaves no room inside the chat template; returns its overhead."""
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
    from datasets import load_dataset

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
    import torch

    if section.attn_implementation:
        return section.attn_implementation
    if section.packing and torch.cuda.is_available() and importlib.util.find_spec("flash_attn"):
        return "flash_attention_2"  # variable-length kernels: packed rows cost no padding at all
    return "sdpa"


def _checkpointing_kwargs(enabled: bool) -> dict[str, Any]:
    """Activation checkpointing under the argument name this transformers version uses."""
    from transformers import TrainingArguments

    if not enabled:
        return {}
    params = inspect.signature(TrainingArguments.__init__).parameters
    name = "activation_checkpointing" if "activation_checkpointing" in params else "gradient_checkpointing"
    return {name: True}


def last_logged_step(log: Path) -> int:
    """The last step a previous attempt logged (0 when there was none)."""
    step = 0
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                step = max(step, int(json.loads(line).get("step") or 0))
            except (ValueError, AttributeError):
                continue  # a line cut by a kill
    return step


def start_line(resume_from: Path | None, reached: int, *, force: bool, stale: bool,
               section: Any) -> str:
    """Where training starts and why, so a restart from step 0 never goes unexplained."""
    if resume_from is not None:
        return f"resuming from {resume_from.name} (step {resume_from.name.rsplit('-', 1)[-1]})"
    if not reached:
        return "starting at step 0"
    if force:
        return f"starting at step 0 (--force; a previous attempt reached step {reached})"
    if stale:
        return (f"starting at step 0: the checkpoints of the previous attempt (step {reached}) "
                "were written for other train settings or data")
    if not section.resume:
        return f"starting at step 0 (train.resume = false; a previous attempt reached step {reached})"
    every = f"every {section.save_steps} steps" + (
        f" or {section.save_minutes:g} minutes" if section.save_minutes is not None else "")
    return (f"starting at step 0: the previous attempt reached step {reached} but stopped before "
            f"its first checkpoint (one is written {every})")


def _make_trainer_classes():
    """Trainer subclass and callback, defined lazily so importing jre stays light."""
    import torch
    import torch.distributed as dist
    from transformers import Trainer, TrainerCallback

    class SFTTrainer(Trainer):
        """Takes the collators' token counts out of each batch (for tokens/s and padding share)."""

        meter: Any = None

        def compute_loss(self, model, inputs, *args, **kwargs):
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

    class TimedSave(TrainerCallback):
        """Asks for a checkpoint once ``minutes`` have passed since the last one. Rank 0's
        clock decides and the others follow, since saving is collective under DeepSpeed."""

        def __init__(self, minutes: float) -> None:
            self.seconds = minutes * 60
            self.last = time.monotonic()
            self.device = "cuda" if torch.cuda.is_available() else "cpu"

        def on_step_end(self, args, state, control, **kwargs):
            due = time.monotonic() - self.last >= self.seconds
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                flag = torch.tensor([int(due)], device=self.device)
                dist.broadcast(flag, src=0)
                due = bool(flag.item())
            if due:
                control.should_save = True
            return control

        def on_save(self, args, state, control, **kwargs):
            self.last = time.monotonic()

    return SFTTrainer, JsonlLog, ConsoleLog, TimedSave


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
    reached = last_logged_step(paths.log)
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
        extra = {"packed_rows": len(groups),
                 "pack_efficiency": round(packed_efficiency(lengths, groups, section.max_length), 4),
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
        # transformers >= 5 reads a float warmup_steps below 1 as a share of the total steps
        # (warmup_ratio is deprecated there), so the recipe's ratio passes through unchanged.
        lr_scheduler_type=section.lr_scheduler, warmup_steps=section.warmup_ratio,
        weight_decay=section.weight_decay, max_grad_norm=section.max_grad_norm,
        bf16=precision == "bfloat16", fp16=precision == "float16",
        logging_steps=section.logging_steps, save_strategy="steps", save_steps=section.save_steps,
        save_total_limit=section.save_total_limit, report_to=section.report_to, seed=section.seed,
        data_seed=section.seed, remove_unused_columns=False, dataloader_num_workers=section.dataloader_workers,
        deepspeed=ds_path, use_cache=False, dataloader_pin_memory=torch.cuda.is_available(),
        **_checkpointing_kwargs(section.gradient_checkpointing), **eval_kwargs, **state_kwargs,
    )
    model: Any = AutoModelForCausalLM.from_pretrained(
        base, dtype=torch.float32, attn_implementation=_attn_implementation(section))
    model.config.use_cache = False  # no KV cache: packed rows get block-diagonal masks
    if section.lora is not None:
        from peft import LoraConfig, get_peft_model

        lora = section.lora
        model = get_peft_model(model, LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                 target_modules=lora.target_modules, task_type="CAUSAL_LM"))

    trainer_cls, log_cls, console_cls, timed_cls = _make_trainer_classes()
    trainer = trainer_cls(model=model, args=args, train_dataset=train_data, eval_dataset=eval_ds,
                          data_collator=collator, processing_class=tokenizer)
    trainer.meter = meter
    trainer.callback_handler.callbacks.insert(0, log_cls(paths.log, meter, world))
    if section.save_minutes is not None:
        trainer.add_callback(timed_cls(section.save_minutes))
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
                      + f"; {start_line(resume_from, reached, force=force, stale=stale, section=section)}")
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
