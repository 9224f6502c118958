"""``[train]``: supervised fine-tuning settings (paper defaults from Appendix C)."""

from __future__ import annotations

from pydantic import Field

from jre.kinds.base import StrictModel


class TrainSection(StrictModel):
    base_model: str
    learning_rate: float = Field(default=1.5e-5, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    global_batch_size: int = Field(default=64, ge=1)
    max_length: int = Field(default=32768, ge=16)
    packing: bool = False
    seed: int = 0
