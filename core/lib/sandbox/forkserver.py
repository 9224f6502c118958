"""The fork server: a pristine ``python -I -S`` process that starts each run by a fork.

Started once per evaluator (``python -I -S forkserver.py CONTROL_FD TMPFS_BYTES
TMPFS_FILES``), it imports the
modules HumanEval-style code uses and never runs untrusted code itself (the pattern of
Chrome's and Android's zygotes). It keeps a few *spares* ready: supervisors it forked
ahead of time, already in fresh namespaces with the usual private tmpfs mounted, each
with its own SOCK_SEQPACKET link to the
evaluator (sent over the control socket; for each one taken the evaluator asks for the
next). The evaluator sends a spare one run's request (JSON, plus each program's source
and stdout/stderr pipes and, for a split check, the channel pipes); the spare confines
the run and forks its programs, the first as the run's PID 1 (:mod:`launch`), and sends
back PID 1's pidfd (the evaluator's kill switch). Then it watches the run: every 50 ms
it sums the memory, CPU time and tasks of all the run's processes (:mod:`usage`) and
kills the namespace when a sum passes the run's limit; when PID 1 is gone it reports its
wait status, CPU time and the limit hit, if any. The server exits when the evaluator's
end of the control socket closes; a supervisor kills its run when its link closes.
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
TYPE_CHECKING = False  # true to the type checker only (the boot path imports no typing)

if TYPE_CHECKING:  # the same modules, as the type checker finds them in the package
    from jre.lib.sandbox import channel, confine, launch, program, usage
else:  # a script with its folder on sys.path: the siblings load as top-level modules
    import channel  # noqa: F401  (loaded before any fork)
    import confine
    import launch
    import program  # noqa: F401
    import usage

_exit = os._exit
SPARES = 3
TMPFS = (0, 0)  # (bytes, files) of each private tmpfs a spare mounts ahead: argv[2:4]
SPARE_NAMESPACES = (confine.CLONE_NEWPID | confine.CLONE_NEWNS | confine.CLONE_NEWNET
                    | confine.CLONE_NEWIPC)
PRELOAD = ("typing", "collections", "collections.abc", "re", "math", "itertools", "functools",
           "heapq", "bisect", "string", "copy", "operator", "random", "hashlib", "json",
           "dataclasses", "enum", "datetime", "array", "fractions", "statistics", "ast")


def supervise(req: dict, fds: dict[str, int], entered: int, status: socket.socket,
              mounted: tuple[int, int] | None) -> None:
    """One run's supervisor (root, outside the run's PID namespace); never returns."""
    try:
        # The run's namespaces: entered here (most of them ahead of the request, see
        # :func:`spare`), not in PID 1. Being in them (outside its PID namespace) we are the
        # last to leave, so their teardown (unmounting the tmpfs) comes after the verdict
        # is sent, off the run's path.
        missing = (confine.CLONE_NEWPID | req.pop("unshare", 0)) & ~entered
        if missing:
            confine.unshare(missing)
        sources = launch.prepare(req, fds, mounted)
        init = launch.fork_pid1(req, fds, sources)  # when it ends, the kernel ends the rest
    except OSError as exc:
        status.send(json.dumps({"error": str(exc)}).encode())
        _exit(1)
    for fd in fds.values():
        os.close(fd)
    pidfd = os.pidfd_open(init)
    socket.send_fds(status, [json.dumps({"pid": init}).encode()], [pidfd])
    limits = req["run_limits"]
    uids = [p["uid"] for p in req["programs"] if p["uid"] >= 0]
    hit, peak = None, 0
    delays = usage.poll_delays()
    while True:
        ready = select.select([pidfd, status.fileno()], [], [], delays[0])[0]
        if len(delays) > 1:
            delays.pop(0)
        if pidfd in ready:
            break
        if status.fileno() in ready and not status.recv(16):  # the evaluator is gone
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


def spare(link: socket.socket) -> None:
    """A supervisor made ahead of its run: it enters fresh PID, mount, network and IPC
    namespaces (which no request changes) and waits on its own link to the evaluator for
    its one request, so a run starts with neither a fork nor a namespace to make, nor a
    hop through the server, on its path. Never returns."""
    os.setsid()
    entered, mounted = 0, None
    try:
        confine.unshare(SPARE_NAMESPACES)
        entered = SPARE_NAMESPACES
        confine.private_tmp(*TMPFS)  # the usual size; a request for another mounts again
        mounted = TMPFS
    except OSError:
        pass  # supervise() tries again and reports the error with the run
    try:
        msg, fds, _, _ = socket.recv_fds(link, 1 << 16, 16)
        req = json.loads(msg)
        named = dict(zip(req["fd_names"], fds, strict=True))
    except (OSError, ValueError, KeyError, TypeError):
        _exit(0)  # the evaluator is gone, or sent nothing we can run
    supervise(req, named, entered, link, mounted)


def main() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:
            pass
    gc.freeze()  # keep the collector from touching (and copying) inherited objects per run
    control = socket.socket(fileno=int(sys.argv[1]))
    global TMPFS
    TMPFS = (int(sys.argv[2]), int(sys.argv[3]))

    def make_spare() -> None:
        """Fork a spare and hand the evaluator our end of its link."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if os.fork() == 0:
            try:
                control.close()
                ours.close()
                spare(theirs)
            finally:
                _exit(70)
        theirs.close()
        try:
            socket.send_fds(control, [b"spare"], [ours.fileno()])
        finally:
            ours.close()

    for _ in range(SPARES):
        make_spare()
    while True:  # one new spare for each one the evaluator takes
        try:
            msg = control.recv(16)
        except InterruptedError:
            continue
        if not msg:
            break
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        make_spare()


if __name__ == "__main__":
    main()
