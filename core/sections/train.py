"""``[train]``: supervised fine-tuning settings (paper defaults from Appendix C).

Appendix C: learning rate 1.5e-5, 1 epoch, batch size 64, context 32,768, padded. Every
other knob is here too; unset ones take transformers' defaults.

Global batch: ``global_batch_size = micro_batch_size × gradient accumulation × world size``;
jre derives the gradient accumulation from the other three at launch time. With
``packing = true`` the unit is a packed row of up to ``max_length`` tokens (several
examples), so one optimizer step sees more examples than ``global_batch_size``; the log
reports examples per step so runs can be compared.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from jre.kinds.base import StrictModel


class LoraSection(StrictModel):
    """``[train.lora]``: train low-rank adapters (peft) instead of every weight."""

    r: int = Field(default=16, ge=1)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    merge: bool = True  # save merged weights so any engine loads train/model as a plain model


class DeepSpeedSection(StrictModel):
    """``[train.deepspeed]``: ZeRO settings; jre writes ``<run>/train/deepspeed.json`` from them."""

    stage: Literal[0, 1, 2, 3] = 3
    offload_optimizer: Literal["none", "cpu", "nvme"] = "none"
    offload_param: Literal["none", "cpu", "nvme"] = "none"
    nvme_path: str | None = None
    overlap_comm: bool = True
    extra: dict[str, Any] = Field(default_factory=dict)  # merged over the generated config


class LaunchSection(StrictModel):
    """``[train.launch]``: how ``jre train`` starts workers (``none``: this process, one device)."""

    launcher: Literal["none", "torchrun", "accelerate", "deepspeed"] = "none"
    nproc_per_node: int = Field(default=1, ge=1)
    nnodes: int = Field(default=1, ge=1)
    node_rank: int = Field(default=0, ge=0)
    master_addr: str = "127.0.0.1"
    master_port: int = Field(default=29500, ge=1, le=65535)


class TrainSection(StrictModel):
    base_model: str
    learning_rate: float = Field(default=1.5e-5, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1)  # overrides epochs when set
    global_batch_size: int = Field(default=64, ge=1)
    micro_batch_size: int = Field(default=1, ge=1)  # per device
    max_length: int = Field(default=32768, ge=16)
    packing: bool = False
    # Examples longer than max_length: "drop" (default; truncating would cut </think> and the
    # response off) or "truncate". The train manifest counts both.
    overlength: Literal["drop", "truncate"] = "drop"
    lr_scheduler: str = "linear"
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, ge=0)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None  # sdpa / eager / flash_attention_2; None: transformers' choice
    logging_steps: int = Field(default=10, ge=1)
    save_steps: int = Field(default=500, ge=1)
    # Also checkpoint after this many minutes of training since the last save, so a killed
    # run loses at most that much however slow its steps are (None: by save_steps only).
    save_minutes: float | None = Field(default=30.0, gt=0)
    save_total_limit: int | None = Field(default=2, ge=1)
    eval_share: float = Field(default=0.0, ge=0, lt=1)
    eval_steps: int | None = Field(default=None, ge=1)
    resume: bool = True  # continue from the latest complete checkpoint in train/checkpoints
    report_to: list[str] = Field(default_factory=lambda: ["none"])
    dataloader_workers: int = Field(default=0, ge=0)
    tokenize_workers: int = Field(default=1, ge=1)
    seed: int = 0
    lora: LoraSection | None = None
    deepspeed: DeepSpeedSection | None = None
    launch: LaunchSection = Field(default_factory=LaunchSection)
