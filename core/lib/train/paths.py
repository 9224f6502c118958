"""Where the train stage reads and writes, and which checkpoints may be resumed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


CHECKPOINT_STAMP = "jre-identity.txt"


def checkpoints_match(folder: Path, identity: str | None) -> bool:
    """Whether the checkpoints in ``folder`` were written for this train config and data.

    Checkpoints without a stamp, or stamped by another config, must not be resumed.
    """
    stamp = folder / CHECKPOINT_STAMP
    return identity is not None and stamp.is_file() and stamp.read_text(encoding="utf-8") == identity
