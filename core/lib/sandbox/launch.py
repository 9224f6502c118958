"""PID 1 of one run: confine the run and start its programs.

Runs as root in the process that became PID 1 of the run's new PID namespace (a fork of
the fork server's per-run supervisor, or the exec path's boot interpreter). It reads the
programs from the fds they came in (nothing of them is on disk), enters fresh mount, IPC
and network namespaces (on the fork-server path its supervisor has: it then holds them,
so their teardown happens after the verdict, off the run's path), mounts the run's
private tmpfs (the programs' working directories are folders in its /tmp), and
forks one process per program, each of which moves its own pipes to fds 0-4, closes
everything else, enters its working directory, sets its environment and rlimits, drops to
its own uid and installs the socket filter before the program's first line runs. The
first program (the one whose exit decides: a plain program, or the checker of a split
check) runs in PID 1 itself (fork-server path) or in a child PID 1 reaps (exec path);
when it ends, PID 1 ends, the kernel kills the rest of the namespace (a candidate's
process included), and the mount namespace with its tmpfs goes with the last process.

The request is plain JSON: ``programs`` (each ``role`` — ``program``, ``checker`` or
``candidate`` — ``uid``, ``cwd``, ``env``), ``rlimits``, ``unshare`` (clone flags),
``tmpfs`` (bytes per tmpfs, 0: none), ``inodes``, ``seccomp``. Fds: ``out<i>``,
``err<i>``, ``src<i>`` per program, and for a split check the four channel pipe ends
``chk_in``, ``chk_out``, ``cand_in``, ``cand_out``. Standard library only; imported as a
top-level module by ``forkserver.py`` and ``boot.py``.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
from typing import Any

import channel  # type: ignore[import-not-found]
import confine  # type: ignore[import-not-found]
import program  # type: ignore[import-not-found]

CHANNEL_IN, CHANNEL_OUT = 3, 4
_exit = os._exit


def start(req: dict[str, Any], fds: dict[str, int], life: int = -1) -> None:
    """Confine and run the programs; never returns (exit status: the first program's, or
    128+N for death by signal N; 126 when the setup failed).

    With a supervisor outside the namespace (the fork server's; ``life`` < 0) the first
    program runs in PID 1 itself, one fork fewer per run: the supervisor then enforces
    the CPU limit (the kernel does not deliver its default-action signals to PID 1) and
    ends the run. On the exec path PID 1 stays a small init that forks every program,
    reaps, and ends the run when the evaluator's lifeline pipe closes.
    """
    programs = req["programs"]
    try:
        sources = [_read_all(fds[f"src{i}"]) for i in range(len(programs))]
        if req.get("unshare"):  # (the fork server's supervisor has entered them already)
            confine.unshare(req["unshare"])
        if req.get("tmpfs"):
            confine.private_tmp([(p["cwd"], p["uid"]) for p in programs], req["tmpfs"],
                                req["inodes"])
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        first = 0 if life >= 0 else 1
        children = [_fork_program(i, programs[i], sources[i], req, fds)
                    for i in range(first, len(programs))]
    except BaseException as e:
        _setup_failed(e, fds.get("err0", 2))
    if life < 0:
        _become_program(0, programs[0], sources[0], req, fds)
    for fd in fds.values():
        os.close(fd)
    if programs[0]["uid"] >= 0:  # nothing of the run may signal its PID 1
        confine.drop_privileges(programs[0]["uid"])
    _wait_for(children[0], life)


def _setup_failed(exc: BaseException, err: int) -> None:
    try:
        os.write(err, ("jre-sandbox: setup failed: %r\n" % (exc,)).encode())
    finally:
        _exit(126)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _fork_program(index: int, prog: dict[str, Any], source: bytes, req: dict[str, Any],
                  fds: dict[str, int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    _become_program(index, prog, source, req, fds)
    return 0  # not reached


def _become_program(index: int, prog: dict[str, Any], source: bytes, req: dict[str, Any],
                    fds: dict[str, int]) -> None:
    """Confine this process as program ``index`` and run it; never returns."""
    try:
        wanted = {1: fds[f"out{index}"], 2: fds[f"err{index}"]}
        if prog["role"] == "checker":
            wanted[CHANNEL_IN], wanted[CHANNEL_OUT] = fds["chk_in"], fds["chk_out"]
        elif prog["role"] == "candidate":
            wanted[CHANNEL_IN], wanted[CHANNEL_OUT] = fds["cand_in"], fds["cand_out"]
        _arrange_fds(wanted)
        os.chdir(prog["cwd"])
        os.environ.clear()
        os.environ.update(prog["env"])
        confine.set_rlimits([tuple(r) for r in req["rlimits"]])
        if prog["uid"] >= 0:
            confine.drop_privileges(prog["uid"])
        if req.get("seccomp"):
            confine.deny_unix_sockets()
    except BaseException as e:
        _setup_failed(e, 2)
    _run_role(prog, source)
    _exit(70)  # not reached: run_main exits


def _arrange_fds(wanted: dict[int, int]) -> None:
    # Lift the sources out of the target range first, so no dup2 clobbers another source.
    high = {target: fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, 64) for target, src in wanted.items()}
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for target, src in high.items():
        os.dup2(src, target)
    for fd in range(3, max(wanted)):
        if fd not in wanted:
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(max(wanted) + 1, 1 << 20)  # close_range(2): cheap however large


def _run_role(prog: dict[str, Any], source: bytes) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    path = os.path.join(prog["cwd"], "main.py")  # a name for tracebacks; not on disk
    if prog["role"] == "candidate":
        program.run_main(source, path, after=lambda ns: channel.serve(ns, CHANNEL_IN, CHANNEL_OUT))
    elif prog["role"] == "checker":
        remote = channel.Remote(CHANNEL_IN, CHANNEL_OUT)
        program.run_main(source, path, before=lambda ns: ns.update(_jre_remote=remote),
                         after=lambda ns: remote.close())  # the candidate ends meanwhile
    else:
        program.run_main(source, path)


def _wait_for(child: int, life: int) -> None:
    if life >= 0:  # exec path: also end when the evaluator is gone (its pipe end closes)
        try:
            pidfd = os.pidfd_open(child)
            if pidfd not in select.select([pidfd, life], [], [])[0]:
                _exit(125)
        except OSError:
            pass
    while True:  # reap orphans until the deciding program is gone
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            _exit(125)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            _exit(code if code >= 0 else 128 - code)
