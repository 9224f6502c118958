"""What a sandboxed run may use, and what it did."""

from __future__ import annotations

from dataclasses import dataclass, field

_GIB = 1 << 30
_MIB = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one sandboxed run.

    ``memory_bytes`` (resident memory), ``cpu_seconds`` and ``max_processes`` (processes
    *and* threads, PID 1 of the run included) hold for all the processes of the run
    together where the run has a uid of its own (the isolation string then carries
    ``run-limits``); each single process is also held to them by rlimits (address space,
    CPU, ``RLIMIT_NPROC``), each clamped to the evaluator's own hard limit. ``tmpfs_bytes``
    and ``tmpfs_files`` size each private tmpfs (``/tmp``, ``/dev/shm``, ``/var/tmp``, the
    working directory). ``output_bytes`` caps stdout and stderr each (status
    ``"output_limit"``). ``site_packages`` adds the interpreter's site-packages (no
    ``-S``, and no fork server); off by default: HumanEval-style code needs only the
    standard library, and no ``.pth`` file runs before the program.
    """

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_bytes: int = 2 * _GIB
    file_size_bytes: int = 16 * _MIB
    open_files: int = 64
    max_processes: int = 64
    output_bytes: int = 1 * _MIB
    tmpfs_bytes: int = 64 * _MIB
    tmpfs_files: int = 4096
    site_packages: bool = False


@dataclass
class SandboxResult:
    """What one sandboxed run did.

    ``status`` is one of ``"passed"`` (exit 0 and the nonce was the last stdout line),
    ``"failed"`` (ran to completion otherwise: exception, assertion, early exit, signal),
    ``"timeout"`` (CPU or wall-clock limit, of a process or of the whole run),
    ``"memory_limit"`` / ``"process_limit"`` (the run's processes together passed the
    limit), ``"output_limit"`` (stdout/stderr cap hit) or ``"error"`` (the sandbox itself
    could not run the program). ``returncode`` is the exit status (negative: killed by
    that signal; inside a PID namespace a death by signal N is reported as ``128 + N``);
    ``None`` if unknown. ``level`` is the isolation achieved (see
    :func:`~jre.lib.sandbox.isolation_level`); ``mode`` is ``"same-process"`` (tests and
    candidate in one program) or ``"split"`` (a checker process calling the candidate's
    process). ``cleanup`` lists what could not be removed after the run (empty: nothing
    was left).
    """

    passed: bool
    status: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    level: str
    detail: str = ""
    output_truncated: bool = field(default=False, repr=False)
    mode: str = "same-process"
    cleanup: list[str] = field(default_factory=list)
    candidate: SandboxResult | None = field(default=None, repr=False)
