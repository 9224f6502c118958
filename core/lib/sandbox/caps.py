"""What this machine lets the sandbox do, probed once, end to end.

Each candidate configuration is tried by running a small program through it; the first
that works (strongest first) is used. As root (a container) that is the fork server with
new PID, network, mount and IPC namespaces, private tmpfs, a fresh uid per run, no
capabilities, no_new_privs, the AF_UNIX socket filter and per-run limits. Without root,
``unshare --user --map-root-user`` makes the namespaces possible; the program then runs
as the caller's uid (its writable files are not protected: evaluate as root for that).
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, replace

from jre.lib.sandbox.confine import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    unix_socket_filter_supported,
)
from jre.lib.sandbox.limits import SandboxLimits

PATH = "/usr/local/bin:/usr/bin:/bin"
UNAVAILABLE = "unavailable"
# Fresh uids for the sandbox: far above login users, systemd's dynamic range and the
# usual subordinate-uid ranges, and below 2**31 so no tool sees a negative id.
UID_BASE = 2_100_000_000
UID_SPAN = 1 << 24
_uid_rng = random.SystemRandom()


@dataclass(frozen=True)
class Caps:
    """One way of starting runs, and the isolation it gives (``level``)."""

    level: str
    ns_argv: tuple[str, ...]    # exec path: "unshare ... --" (empty: no namespaces)
    pidns: bool
    drop: bool                  # each run gets a fresh uid (evaluator is root)
    python: str
    zygote: bool = False        # fork server
    unshare: int = 0            # namespaces PID 1 of the run enters itself (clone flags)
    tmpfs: bool = False         # private tmpfs at /tmp, /dev/shm, /var/tmp and the workdir
    seccomp: bool = False       # the AF_UNIX socket filter
    exec_level: str = ""        # with zygote: the level of the exec path it replaces
    exec_ns_argv: tuple[str, ...] = ()
    exec_pidns: bool = False


_caps: Caps | None = None
_caps_lock = threading.Lock()


def capabilities() -> Caps:
    """The probed configuration (probed on first use)."""
    global _caps
    if _caps is None:
        with _caps_lock:
            if _caps is None:
                _caps = _detect()
    return _caps


def set_capabilities(caps: Caps | None) -> None:
    """Use ``caps`` from now on (``None``: probe again); tests use weaker ones."""
    global _caps
    _caps = caps


def exec_caps(caps: Caps) -> Caps:
    """``caps`` without the fork server (the exec path it replaces)."""
    if not caps.zygote:
        return caps
    return replace(caps, zygote=False, level=caps.exec_level, ns_argv=caps.exec_ns_argv,
                   pidns=caps.exec_pidns, unshare=caps.unshare & ~CLONE_NEWNET)


def level_of(*, drop: bool, netns: bool, pidns: bool, userns: bool, mountns: bool,
             seccomp: bool) -> str:
    tokens = ["rlimits", "session"]
    if drop:
        tokens += ["uid", "nnp"]
    tokens += [t for t, on in (("userns", userns), ("netns", netns), ("pidns", pidns)) if on]
    if mountns:
        tokens += ["mountns", "ipcns", "private-tmp"]
    if seccomp:
        tokens.append("no-unix-sockets")
    if drop:  # a uid per run: usage sums over exactly the run's processes
        tokens.append("run-limits:memory,cpu,processes")
    return "+".join(tokens)


def fresh_uid() -> int:
    return UID_BASE + _uid_rng.randrange(UID_SPAN)


def rlimits(limits: SandboxLimits, own_uid: bool) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) for each process of the run, clamped to our own hard limit."""
    import math

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


def _quiet_ok(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=15,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _candidates(root: bool, python: str) -> list[Caps]:
    """Configurations to try, strongest first."""
    out: list[Caps] = []
    unshare = shutil.which("unshare", path=PATH + ":/usr/sbin:/sbin")
    seccomp = unix_socket_filter_supported()
    if root:
        inner = CLONE_NEWNS | CLONE_NEWIPC
        exec_variants: list[tuple[tuple[str, ...], bool, bool]] = []  # argv, netns, pidns
        if unshare:
            for flags, net, pid in ((("--net", "--pid", "--fork"), True, True),
                                    (("--pid", "--fork"), False, True), (("--net",), False, False)):
                for v in ((*flags, "--kill-child"), flags) if pid else (flags,):
                    if _quiet_ok([unshare, *v, "true"]):
                        exec_variants.append(((unshare, *v, "--"), net, pid))
                        break
        exec_variants.append(((), False, False))
        for argv, net, pid in exec_variants:
            for mount in (True, False):
                level = level_of(drop=True, netns=net, pidns=pid, userns=False, mountns=mount,
                                 seccomp=seccomp)
                out.append(Caps(level, argv, pid, True, python, unshare=inner if mount else 0,
                                tmpfs=mount, seccomp=seccomp))
        best = out[0]
        if best.pidns and best.tmpfs:
            out.insert(0, replace(
                best, zygote=True, unshare=inner | CLONE_NEWNET, exec_level=best.level,
                exec_ns_argv=best.ns_argv, exec_pidns=best.pidns,
                level=level_of(drop=True, netns=True, pidns=True, userns=False, mountns=True,
                               seccomp=seccomp)))
    elif unshare:
        user = (unshare, "--user", "--map-root-user")
        for user_flags, net, pid in ((("--net", "--pid", "--fork", "--mount-proc"), True, True),
                                     (("--pid", "--fork", "--mount-proc"), False, True),
                                     (("--net",), True, False)):
            if _quiet_ok([*user, *user_flags, "true"]):
                for mount in (True, False):
                    level = level_of(drop=False, netns=net, pidns=pid, userns=True,
                                     mountns=mount, seccomp=False)
                    out.append(Caps(level, (*user, *user_flags, "--"), pid, False, python,
                                    unshare=CLONE_NEWNS | CLONE_NEWIPC if mount else 0,
                                    tmpfs=mount))
                break
    if not root:
        out.append(Caps(level_of(drop=False, netns=False, pidns=False, userns=False,
                                 mountns=False, seccomp=False), (), False, False, python))
    return out


def _interpreters() -> list[str]:
    ver = sys.version_info
    found: list[str] = []
    for p in (sys.executable, os.path.realpath(sys.executable),
              getattr(sys, "_base_executable", ""),
              f"/usr/bin/python{ver[0]}.{ver[1]}", f"/usr/local/bin/python{ver[0]}.{ver[1]}",
              shutil.which(f"python{ver[0]}.{ver[1]}") or ""):
        if p and os.path.isfile(p) and os.access(p, os.X_OK) and p not in found:
            found.append(p)
    return found


def _detect() -> Caps:
    from jre.lib.sandbox.runner import probe  # the runner imports this module

    root = os.geteuid() == 0
    ver = sys.version_info
    for python in _interpreters():
        for caps in _candidates(root, python):
            ok, version, base = probe(caps)
            # An interpreter whose stdlib comes from elsewhere "works" but is not ours.
            faithful = ok and os.path.realpath(python).startswith(base.rstrip("/") + "/")
            if faithful and version.split()[0].rsplit(".", 1)[0] == f"{ver[0]}.{ver[1]}":
                return caps
            if not ok:
                continue
    # Nothing ran (as root: nothing ran unprivileged, and we never run programs as root).
    # Every run reports "error" rather than raising at import time.
    return Caps(UNAVAILABLE, (), False, False, sys.executable)

