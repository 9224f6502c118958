"""Starting one run: through the fork server (root) or by exec-ing the boot script.

Either way the evaluator gets a :class:`Proc`: the run's stdout/stderr pipes, an fd that
becomes readable when the run is over, and functions to kill it, reap it and close it.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jre.lib.sandbox import usage
from jre.lib.sandbox.caps import PATH, Caps
from jre.lib.sandbox.limits import SandboxLimits

DEFAULT_LIMITS = SandboxLimits()

HERE = os.path.dirname(os.path.abspath(__file__))
FORKSERVER = os.path.join(HERE, "forkserver.py")
BOOT = os.path.join(HERE, "boot.py")


@dataclass
class Reaped:
    returncode: int | None
    cpu_seconds: float
    limit: str | None = None    # the per-run limit the supervisor enforced, if any
    peak_rss: int = 0


@dataclass
class Proc:
    """How the evaluator watches and stops one run, whichever way it was started."""

    exit_fd: int                        # readable once the run's processes are gone
    kill: Callable[[], None]            # SIGKILL everything of the run (idempotent)
    reap: Callable[[], Reaped]          # after exit/kill
    close: Callable[[], None]
    watch: Callable[[], str | None] | None = None  # per-run limit check (exec path)


def start(caps: Caps, req: dict[str, Any], fds: dict[str, int], deadline: float) -> Proc:
    """Start the run ``req`` describes, handing it ``fds`` (names as in ``launch.py``);
    the caller closes its copies of ``fds`` afterwards."""
    if caps.zygote:
        return _start_forked(caps.python, req, fds, deadline)
    return _start_exec(caps, req, fds)


# --- exec path ------------------------------------------------------------------------

def _start_exec(caps: Caps, req: dict[str, Any], fds: dict[str, int]) -> Proc:
    life_r, life_w = os.pipe()
    req = dict(req, life=life_r, fds=sorted(fds.items()))
    argv = [*caps.ns_argv, caps.python, "-I", *([] if req.get("site_packages") else ["-S"]),
            BOOT, json.dumps(req)]
    try:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, cwd="/", env=req["programs"][0]["env"],
                                 start_new_session=True, pass_fds=(life_r, *fds.values()))
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
        raise
    uids = [p["uid"] for p in req["programs"] if p["uid"] >= 0]
    workdirs = [os.path.realpath(p["cwd"]) for p in req["programs"]]
    markers = [p["env"]["JRE_SANDBOX_ID"] for p in req["programs"]]
    limits = req["run_limits"]

    def kill() -> None:
        # Signal the group while its leader is still unreaped, so its id cannot be reused.
        if popen.returncode is None:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not caps.pidns:
            kill_strays(uids, markers, workdirs)

    def reap() -> Reaped:
        _, status, ru = os.wait4(popen.pid, 0)
        popen.returncode = os.waitstatus_to_exitcode(status)
        if not caps.pidns:
            kill_strays(uids, markers, workdirs)  # strays may have forked meanwhile
        return Reaped(popen.returncode, ru.ru_utime + ru.ru_stime)

    def close() -> None:
        os.close(pidfd)
        os.close(life_w)

    def watch() -> str | None:
        now = usage.usage_of_uids(uids)
        return usage.over_limit(now, limits["memory"], limits["cpu"], limits["tasks"])

    return Proc(pidfd, kill, reap, close, watch if uids else None)


def kill_strays(uids: list[int], markers: list[str], workdirs: list[str]) -> None:
    """Without a PID namespace: SIGKILL every live process of the run, until none is left.

    With uids of its own that is exact; otherwise match the run's marker variables or a
    cwd inside its directories (best effort: a process may scrub both).
    """
    me = os.getpid()
    needles = [f"JRE_SANDBOX_ID={m}".encode() for m in markers]
    for _ in range(200):
        hit = False
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            try:
                if uids:
                    if os.stat(f"/proc/{name}").st_uid not in uids:
                        continue
                else:
                    with open(f"/proc/{name}/environ", "rb") as f:
                        env = f.read()
                    ours = any(n in env for n in needles)
                    if not ours:
                        cwd = os.readlink(f"/proc/{name}/cwd")
                        ours = any(cwd == w or cwd.startswith(w + "/") for w in workdirs)
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


# --- fork-server path -----------------------------------------------------------------

class ForkServer:
    """Our end of one fork server process (see ``forkserver.py``)."""

    def __init__(self, python: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.popen = subprocess.Popen(
                [python, "-I", "-S", FORKSERVER, str(theirs.fileno()),
                 str(DEFAULT_LIMITS.tmpfs_bytes), str(DEFAULT_LIMITS.tmpfs_files)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd="/", env={"PATH": PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
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

    def take(self, timeout: float) -> socket.socket:
        """A link to a spare supervisor (see ``forkserver.py``); the server makes the next."""
        with self.lock:
            self.sock.settimeout(timeout)
            _, fds, _, _ = socket.recv_fds(self.sock, 16, 1)
            if not fds:
                raise ConnectionError("the fork server is gone")
            self.sock.send(b"more")
        return socket.socket(fileno=fds[0])


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server(python: str, *, restart: bool = False) -> ForkServer:
    global _server
    with _server_lock:
        if restart or _server is None or not _server.alive() or _server.python != python:
            if _server is not None and _server.owner == os.getpid():
                _server.stop()
            _server = ForkServer(python)
        return _server


def current_fork_server() -> ForkServer | None:
    return _server


def _start_forked(python: str, req: dict[str, Any], fds: dict[str, int],
                  deadline: float) -> Proc:
    names = list(fds)
    message = json.dumps(dict(req, fd_names=names)).encode()
    for attempt in (0, 1):
        try:
            link = fork_server(python, restart=attempt > 0).take(10.0)
        except OSError:
            if attempt:
                raise
            continue
        try:
            socket.send_fds(link, [message], [fds[n] for n in names])
            link.settimeout(max(1.0, deadline - time.monotonic()))
            msg, got, _, _ = socket.recv_fds(link, 4096, 1)
        except BaseException as exc:
            link.close()
            if attempt == 0 and isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                continue  # that spare (or the server) is gone: once more, on a new server
            raise
        if got:
            break
        link.close()
        info = json.loads(msg) if msg else {}
        if "error" in info or attempt:
            raise RuntimeError(info.get("error", "the fork server gave no process"))
    ours = link
    init_fd = got[0]
    ours.setblocking(True)
    result: list[Reaped] = []

    def kill() -> None:
        try:
            signal.pidfd_send_signal(init_fd, signal.SIGKILL)  # PID 1: the namespace dies
        except OSError:
            pass

    def reap() -> Reaped:
        if not result:
            ours.settimeout(10.0)
            try:
                data = ours.recv(4096)
            except OSError:
                data = b""
            st = json.loads(data) if data else {}
            result.append(Reaped(
                os.waitstatus_to_exitcode(st["status"]) if "status" in st else None,
                float(st.get("cpu", 0.0)), st.get("limit"), int(st.get("peak_rss", 0))))
        return result[0]

    def close() -> None:
        os.close(init_fd)
        ours.close()

    # The status socket becomes readable when the supervisor reports (or dies).
    return Proc(ours.fileno(), kill, reap, close)
