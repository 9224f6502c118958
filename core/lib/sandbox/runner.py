"""Running programs in the sandbox and judging them.

Programs reach the run as anonymous files (memfd), never through the disk. Where the
machine allows private tmpfs, a program's working directory is a folder in the run's own
``/tmp`` and nothing of the run is on the host's disk. Otherwise each program gets a
folder ``w<i>`` of its uid's in a fresh directory ``jre-sbx-*`` under TMPDIR, owned by
the evaluator; afterwards :func:`~jre.lib.sandbox.cleanup.remove_tree` removes it, and
what it could not remove is reported in the result (``cleanup``), never raised.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import selectors
import signal
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jre.lib.sandbox import spawn
from jre.lib.sandbox.caps import (
    PATH,
    UNAVAILABLE,
    Caps,
    capabilities,
    exec_caps,
    fresh_uid,
    rlimits,
)
from jre.lib.sandbox.cleanup import remove_tree
from jre.lib.sandbox.limits import SandboxLimits, SandboxResult
from jre.lib.sandbox.usage import poll_delays

_DEFAULT_LIMITS = SandboxLimits()
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")


def program_with_nonce(program: str, nonce: str) -> str:
    """``program`` followed by code that prints ``nonce`` as the last stdout line.

    It flushes Python's stdout first and writes to fd 1 directly, so a program that left
    output without a newline, or rebound ``sys.stdout``, still ends with the nonce line.
    """
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 8-128 characters of [A-Za-z0-9_-]")
    return (
        f"{program}\n"
        "import os as _jre_os, sys as _jre_sys\n"
        "for _jre_f in (_jre_sys.stdout, _jre_sys.__stdout__):\n"
        "    try:\n"
        "        _jre_f.flush()\n"
        "    except Exception:\n"
        "        pass\n"
        f"_jre_os.write(1, b'\\n{nonce}\\n')\n"
    )


def run_program(source: str, *, limits: SandboxLimits = _DEFAULT_LIMITS,
                nonce: str | None = None) -> SandboxResult:
    """Run ``source`` in the sandbox; it passes only on exit 0 with ``nonce`` printed last.

    With ``nonce=None`` a random nonce is generated and its print appended (via
    :func:`program_with_nonce`); otherwise the caller has already appended it.
    """
    if nonce is None:
        nonce = secrets.token_hex(16)
        source = program_with_nonce(source, nonce)
    return _execute([(source, "program")], nonce, limits, capabilities())


def check_program(solution: str, test: str, entry_point: str, *,
                  limits: SandboxLimits = _DEFAULT_LIMITS) -> SandboxResult:
    """HumanEval-style check in one process: ``solution``, ``test``, ``check(entry_point)``.

    The candidate shares the process with its tests, so code that deliberately tampers
    with its interpreter can fake a pass; :func:`check_split` cannot be fooled that way.
    """
    program = f"{solution}\n{test}\ncheck({entry_point})\n"
    return run_program(program, limits=limits)


def checker_program(helpers: str, test: str, entry_point: str,
                    call: str = "check({entry})") -> str:
    """The checker's side of a split check: ``helpers`` (e.g. the prompt's own functions,
    with the stub of ``entry_point``), ``test``, then ``entry_point`` rebound to the
    candidate's function in the other process, then ``call``."""
    return (f"{helpers}\n{test}\n{entry_point} = _jre_remote.function({entry_point!r})\n"
            f"{call.format(entry=entry_point)}\n")


def check_split(solution: str, checker: str, *,
                limits: SandboxLimits = _DEFAULT_LIMITS) -> SandboxResult:
    """Judge ``solution`` with ``checker`` in two sandboxed processes (see
    :mod:`jre.lib.sandbox.channel`): the candidate's process only answers calls; the
    verdict is the checker's exit (0 with its nonce last). Each process has ``limits``."""
    nonce = secrets.token_hex(16)
    return _execute([(program_with_nonce(checker, nonce), "checker"), (solution, "candidate")],
                    nonce, limits, capabilities())


def run_many(programs: Sequence[str], workers: int | None = None,
             limits: SandboxLimits = _DEFAULT_LIMITS) -> list[SandboxResult]:
    """:func:`run_program` over ``programs`` (each with its own nonce), in input order.

    Threads suffice: every run is its own process and the threads only wait on pipes.
    """
    return _map(lambda p: run_program(p, limits=limits), programs, workers)


def check_many(pairs: Sequence[tuple[str, str]], workers: int | None = None,
               limits: SandboxLimits = _DEFAULT_LIMITS) -> list[SandboxResult]:
    """:func:`check_split` over ``(solution, checker)`` pairs, in input order."""
    return _map(lambda p: check_split(p[0], p[1], limits=limits), pairs, workers)


def _map(fn: Any, items: Sequence[Any], workers: int | None) -> list[SandboxResult]:
    capabilities()  # probe once, before the threads race for it
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jre-sandbox") as pool:
        return list(pool.map(fn, items))


def isolation_level() -> str:
    """The protections this machine gives each run, joined by ``+`` (probed once).

    Tokens: ``rlimits`` (always), ``session`` (own session/process group, killed as a
    group), ``uid`` and ``nnp`` (a fresh unprivileged uid per run, no capabilities,
    no_new_privs), ``userns`` (user namespace, when not root), ``netns``, ``pidns``,
    ``mountns``/``ipcns``/``private-tmp`` (own mount and IPC namespaces, size-limited
    tmpfs at ``/tmp``, ``/dev/shm``, ``/var/tmp`` and the working directory),
    ``no-unix-sockets`` (no AF_UNIX socket can be created: no filesystem socket outside
    is reachable), ``run-limits:memory,cpu,processes`` (those limits hold for all the
    run's processes together). As root on Linux x86-64 all of them but ``userns``.
    ``"unavailable"`` if no configuration could run a program (every run then ends with
    status ``"error"``; as root, programs are never run without dropping to another uid).
    """
    return capabilities().level


def sandbox_interpreter() -> str:
    """The Python the sandbox runs."""
    return capabilities().python


def probe(caps: Caps) -> tuple[bool, str, str]:
    """Run a tiny program with ``caps``: (passed, its sys.version, its sys.base_prefix)."""
    # The run's uid must be able to read the standard library itself (an interpreter under
    # root's 0700 home is not usable), so import a module no launcher has loaded.
    program = ("import sys, json, math, decimal, collections, itertools, re\n"
               "import xml.dom.minidom, email.parser\n"
               "print(sys.version, sys.base_prefix, sep='\\n')\n")
    nonce = secrets.token_hex(16)
    res = _execute([(program_with_nonce(program, nonce), "program")], nonce,
                   SandboxLimits(cpu_seconds=10, wall_seconds=30), caps)
    lines = res.stdout.splitlines()
    if not res.passed or len(lines) < 2:
        return False, "", ""
    return True, lines[0], lines[1]


# --------------------------------------------------------------------------------------

def _execute(programs: list[tuple[str, str]], nonce: str, limits: SandboxLimits,
             caps: Caps) -> SandboxResult:
    """Run ``programs`` ((source, role)) as one run; the first one's verdict is the result."""
    mode = "split" if len(programs) > 1 else "same-process"
    if caps.level == UNAVAILABLE:
        return SandboxResult(False, "error", None, "", "", 0.0, caps.level, mode=mode,
                             detail="no way to run a sandboxed program was found on this machine")
    if caps.zygote and limits.site_packages:
        caps = exec_caps(caps)
    # With private tmpfs nothing of the run touches the host's disk: no folder to make.
    rundir = "" if caps.tmpfs else tempfile.mkdtemp(prefix="jre-sbx-")
    try:
        result = _run(programs, nonce, limits, caps, rundir)
    finally:
        problems = remove_tree(rundir) if rundir else []
    result.mode = mode
    result.cleanup = problems
    return result


def _run(programs: list[tuple[str, str]], nonce: str, limits: SandboxLimits, caps: Caps,
         rundir: str) -> SandboxResult:
    theirs: dict[str, int] = {}
    ours: list[tuple[int, int]] = []
    try:
        req = _request(rundir, programs, limits, caps)
        for i, (source, _) in enumerate(programs):
            out_r, theirs[f"out{i}"] = os.pipe()
            err_r, theirs[f"err{i}"] = os.pipe()
            ours.append((out_r, err_r))
            theirs[f"src{i}"] = _source_fd(source)
        if len(programs) > 1:
            theirs["cand_in"], theirs["chk_out"] = os.pipe()
            theirs["chk_in"], theirs["cand_out"] = os.pipe()
        start = time.monotonic()
        try:
            proc = spawn.start(caps, req, theirs, start + limits.wall_seconds)
        except (OSError, RuntimeError) as exc:
            return SandboxResult(False, "error", None, "", "", round(time.monotonic() - start, 4),
                                 caps.level, detail=f"could not start: {exc}")
    finally:
        for fd in theirs.values():  # the run holds its ends now (or never will)
            os.close(fd)
    try:
        return _supervise(proc, ours, start, nonce, limits, caps)
    finally:
        for pair in ours:
            for fd in pair:
                os.close(fd)


def _source_fd(text: str) -> int:
    """The program in an anonymous file (nothing on disk). Model text is written whatever
    it holds: a lone surrogate as its (invalid) UTF-8 bytes, a NUL as is, so the program
    fails to compile in the sandbox instead of the evaluator failing to write it."""
    fd = os.memfd_create("jre-program", os.MFD_CLOEXEC)
    data = text.encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    return fd


def _request(rundir: str, programs: list[tuple[str, str]], limits: SandboxLimits,
             caps: Caps) -> dict[str, Any]:
    """The request for the run's PID 1 (see ``launch.py``); working directories for it."""
    entries = []
    uids = []
    for i, (_, role) in enumerate(programs):
        uid = fresh_uid() if caps.drop else -1
        uids.append(uid)
        # With private tmpfs the working directory is a folder in the run's own /tmp.
        workdir = f"/tmp/jre-w{i}" if caps.tmpfs else os.path.join(rundir, f"w{i}")
        if not caps.tmpfs:
            os.chmod(rundir, 0o711)  # the run's uids pass through to their own folder
            os.mkdir(workdir, 0o700)
            if uid >= 0:
                os.chown(workdir, uid, uid)
        # Nothing of ours is inherited. (PYTHON* variables would be ignored under -I.)
        env = {"PATH": PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": workdir,
               "TMPDIR": workdir, "JRE_SANDBOX_ID": secrets.token_hex(8)}
        entries.append({"role": role, "uid": uid, "cwd": workdir, "env": env})
    return {"programs": entries, "rlimits": rlimits(limits, caps.drop),
            "unshare": caps.unshare, "tmpfs": int(limits.tmpfs_bytes) if caps.tmpfs else 0,
            "inodes": int(limits.tmpfs_files), "seccomp": caps.seccomp,
            "site_packages": limits.site_packages,
            "run_limits": {"memory": int(limits.memory_bytes), "cpu": float(limits.cpu_seconds),
                           "tasks": int(limits.max_processes) * len(programs)}}


def _supervise(proc: spawn.Proc, outputs: list[tuple[int, int]], start: float, nonce: str,
               limits: SandboxLimits, caps: Caps) -> SandboxResult:
    """Collect the run's output until it is over; the verdict of its first program (the
    other's output is kept in ``result.candidate``)."""
    cap = int(limits.output_bytes)
    bufs = {fd: bytearray() for pair in outputs for fd in pair}
    sel = selectors.DefaultSelector()
    for fd in (*bufs, proc.exit_fd):
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + float(limits.wall_seconds)
    open_fds = set(bufs)
    exited = timed_out = overflow = False
    grace_end = math.inf
    watched: str | None = None
    delays = poll_delays()
    next_watch = time.monotonic() + delays[0] if proc.watch else math.inf

    def read(fd: int) -> None:
        nonlocal overflow
        chunk = os.read(fd, 65536)
        if not chunk:
            sel.unregister(fd)
            open_fds.discard(fd)
            return
        buf = bufs[fd]
        room = cap - len(buf)
        buf += chunk[:room]
        # Only the deciding program's flood ends the run; the candidate's is cut off.
        overflow = overflow or (len(chunk) > room and fd in outputs[0])

    reaped = spawn.Reaped(None, 0.0)
    try:
        while open_fds or not exited:
            now = time.monotonic()
            if now >= grace_end:
                break  # something unkillable still holds the pipes; stop waiting for it
            if now >= deadline:
                timed_out = True
                break
            if now >= next_watch and not exited:
                watched = proc.watch() if proc.watch else None
                if watched:
                    break
                if len(delays) > 1:
                    delays.pop(0)
                next_watch = now + delays[0]
            for key, _ in sel.select(max(0.0, min(deadline, grace_end, next_watch) - now)):
                if key.fd == proc.exit_fd:
                    sel.unregister(key.fd)
                    exited = True
                    proc.kill()  # leftovers must not keep the pipes (or anything) alive
                    grace_end = time.monotonic() + 2.0
                else:
                    read(key.fd)
            if overflow:
                break
        proc.kill()
        reaped = proc.reap()
        # Everything is dead; collect what is still buffered in the pipes.
        drain_end = time.monotonic() + 0.5
        while open_fds and not overflow and time.monotonic() < drain_end:
            for key, _ in sel.select(max(0.0, drain_end - time.monotonic())):
                if key.fd != proc.exit_fd:
                    read(key.fd)
    finally:
        sel.close()
        proc.close()
    wall = time.monotonic() - start

    rc, limit = reaped.returncode, watched or reaped.limit
    cpu_limit = max(1, math.ceil(limits.cpu_seconds))
    sig = 0
    if rc is not None:
        sig = -rc if rc < 0 else (rc - 128 if caps.pidns and 128 < rc < 160 else 0)
    stdout, stderr = (bufs[fd].decode("utf-8", "replace") for fd in outputs[0])
    last = stdout.rstrip("\n").rsplit("\n", 1)[-1]
    if timed_out:
        status, detail = "timeout", f"wall-clock limit of {limits.wall_seconds:g}s"
    elif limit == "cpu":
        status, detail = "timeout", f"run CPU limit of {limits.cpu_seconds:g}s (all processes)"
    elif limit == "memory":
        status, detail = "memory_limit", f"run memory limit of {limits.memory_bytes} bytes"
    elif limit == "processes":
        status, detail = "process_limit", f"run limit of {limits.max_processes} tasks"
    elif sig in (signal.SIGXCPU, signal.SIGKILL) and reaped.cpu_seconds >= cpu_limit - 0.1:
        status, detail = "timeout", f"CPU limit of {cpu_limit}s"
    elif overflow:
        status, detail = "output_limit", f"more than {cap} bytes of output"
    elif rc is None:
        status, detail = "error", "the sandbox lost track of the run"
    elif rc == 0 and nonce is not None and last == nonce:
        status, detail = "passed", ""
    else:
        status = "failed"
        detail = (f"killed by signal {sig}" if sig else
                  f"exit status {rc}" if rc else "exit 0 without the pass nonce")
    result = SandboxResult(status == "passed", status, rc, stdout, stderr, round(wall, 4),
                           caps.level, detail, overflow)
    if len(outputs) > 1:
        out, err = (bufs[fd].decode("utf-8", "replace") for fd in outputs[1])
        result.candidate = SandboxResult(False, "ended", None, out, err, round(wall, 4),
                                         caps.level, "the candidate's process (answers calls)")
    return result
