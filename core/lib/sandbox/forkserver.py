"""The fork server: a pristine ``python -I -S`` process that starts each run by a fork.

Started once per evaluator (``python -I -S forkserver.py CONTROL_FD``), it imports the
modules HumanEval-style code uses and never runs untrusted code itself (the pattern of
Chrome's and Android's zygotes). It reads requests (JSON, plus the run's stdout/stderr
pipes and program of each of its programs, a status socket and, for a split check, the
channel pipes) from a
SOCK_SEQPACKET socket and forks, per run, a root *supervisor* that enters a new PID
namespace and forks the run's PID 1 (:mod:`launch`). The supervisor sends the evaluator
PID 1's pidfd (its kill switch), then watches the run: every few milliseconds it sums
the memory, CPU time and tasks of all the run's processes (:mod:`usage`) and kills the
namespace when a sum passes the run's limit; when PID 1 is gone it reports its wait
status, CPU time and the limit hit, if any. The server exits when the evaluator's end of
its socket closes; a supervisor kills its run when the evaluator's status socket closes.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out

import channel  # noqa: E402,F401  # type: ignore[import-not-found]  (loaded before any fork)
import confine  # noqa: E402  # type: ignore[import-not-found]
import launch  # noqa: E402  # type: ignore[import-not-found]
import program  # noqa: E402,F401  # type: ignore[import-not-found]
import usage  # noqa: E402  # type: ignore[import-not-found]

_exit = os._exit
PRELOAD = ("typing", "collections", "collections.abc", "re", "math", "itertools", "functools",
           "heapq", "bisect", "string", "copy", "operator", "random", "hashlib", "json",
           "dataclasses", "enum", "datetime", "array", "fractions", "statistics", "ast")


def supervise(req: dict, fds: dict[str, int], control: socket.socket) -> None:
    """One run's supervisor (root, outside the run's namespaces); never returns."""
    control.close()
    os.setsid()
    status = socket.socket(fileno=fds.pop("status"))
    try:
        # Enter the run's namespaces here, not in PID 1: being in them, we are the last to
        # leave, so their teardown (unmounting the tmpfs) comes after the verdict is sent.
        confine.unshare(confine.CLONE_NEWPID | req.pop("unshare", 0))
    except OSError as exc:
        status.send(json.dumps({"error": str(exc)}).encode())
        _exit(1)
    init = os.fork()
    if init == 0:
        status.close()
        launch.start(req, fds)
    for fd in fds.values():
        os.close(fd)
    pidfd = os.pidfd_open(init)
    socket.send_fds(status, [json.dumps({"pid": init}).encode()], [pidfd])
    limits = req["run_limits"]
    uids = [p["uid"] for p in req["programs"] if p["uid"] >= 0]
    hit, peak = None, 0
    delays = usage.poll_delays()
    while True:
        ready = select.select([pidfd, status], [], [], delays[0])[0]
        if len(delays) > 1:
            delays.pop(0)
        if pidfd in ready:
            break
        if status in ready and not status.recv(16):  # the evaluator is gone
            os.kill(init, signal.SIGKILL)
            break
        if uids:
            now = usage.usage_of_uids(uids)
            peak = max(peak, now.rss_bytes)
            hit = usage.over_limit(now, limits["memory"], limits["cpu"], limits["tasks"])
            if hit:
                os.kill(init, signal.SIGKILL)  # PID 1: the whole namespace dies
                break
    _, wait_status, rusage = os.wait4(init, 0)
    try:
        status.send(json.dumps({"status": wait_status, "cpu": rusage.ru_utime + rusage.ru_stime,
                                "limit": hit, "peak_rss": peak}).encode())
    except OSError:
        pass
    _exit(0)


def main() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    gc.freeze()  # keep the collector from touching (and copying) inherited objects per run
    control = socket.socket(fileno=int(sys.argv[1]))
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1 << 16, 16)
        except InterruptedError:
            continue
        if not msg:
            break
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        try:
            req = json.loads(msg)
            named = dict(zip(req["fd_names"], fds, strict=True))
        except (ValueError, KeyError, TypeError):
            named = None
        if named is not None and os.fork() == 0:
            try:
                supervise(req, named, control)
            finally:
                _exit(70)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    main()
