"""The one console jre reports progress on: stderr, rich where it is a terminal, plain lines
where it is not (a log file or a pipe keeps each message on one greppable line)."""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def quiet_library_bars() -> None:
    """Silence the progress bars of datasets, transformers and huggingface_hub; jre shows its own.

    The environment switches cover libraries imported later; one already imported read them
    at import time, so it is told directly.
    """
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()


def stage_console() -> Console:
    """A stderr console; off a terminal it never wraps lines, so paths and numbers stay whole
    (rules and tables keep rich's default width there). Markup is off: what stages print
    holds paths, recipe table names (``[eval]``) and plugin text, never rich tags."""
    quiet_library_bars()
    console = Console(stderr=True, markup=False)
    return console if console.is_terminal else Console(stderr=True, soft_wrap=True, markup=False)


class StageProgress:
    """One progress display for every stage: on a terminal a live bar (done/total, the
    stage's own figures, elapsed and remaining time) that keeps moving while work is in
    flight; off a terminal (SLURM logs, CI, pipes) one plain line at most every
    ``log_every`` seconds, plus a last one on close."""

    def __init__(self, console: Console, label: str, total: int, done: int = 0, *,
                 live: bool | None = None, log_every: float = 10.0) -> None:
        self.console, self.label, self.total, self.done = console, label, total, done
        self.log_every = log_every
        self.start = self.last_line = time.monotonic()
        self.status = ""
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                                 transient=False,
                                 disable=not (console.is_terminal if live is None else live))
        self.task = self.progress.add_task(label, total=total, completed=done, status="")
        self.progress.start()

    def update(self, advance: int = 0, status: str | None = None) -> None:
        """Count ``advance`` finished units; ``status`` replaces the figures shown beside the bar
        (rates, tokens of the batch in flight …)."""
        self.done += advance
        if status is not None:
            self.status = status
        self.progress.update(self.task, advance=advance, status=self.status)
        if self.progress.disable and time.monotonic() - self.last_line >= self.log_every:
            self._line()

    def _line(self) -> None:
        self.last_line = time.monotonic()
        elapsed = int(self.last_line - self.start)
        status = f"  {self.status}" if self.status else ""
        self.console.print(f"{self.label}: {self.done:,}/{self.total:,}{status}  "
                           f"({elapsed // 60}:{elapsed % 60:02d} elapsed)")

    def close(self) -> None:
        """Stop the bar; logs get the final count."""
        self.progress.stop()
        if self.progress.disable and self.done and self.last_line != self.start:
            self._line()

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
