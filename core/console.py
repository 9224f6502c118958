"""The one console jre reports progress on: stderr, rich where it is a terminal, plain lines
where it is not (a log file or a pipe keeps each message on one greppable line)."""

from __future__ import annotations

import os

from rich.console import Console


def quiet_library_bars() -> None:
    """Silence the progress bars of datasets, transformers and huggingface_hub; jre shows its own."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def stage_console() -> Console:
    """A stderr console; off a terminal it never wraps lines, so paths and numbers stay whole
    (rules and tables keep rich's default width there)."""
    quiet_library_bars()
    console = Console(stderr=True)
    return console if console.is_terminal else Console(stderr=True, soft_wrap=True)
