"""Confining one run and starting its programs (root, inside the run's new PID namespace).

On the fork-server path the per-run supervisor calls :func:`prepare` (read the programs
from the fds they came in — nothing of them is on disk —, enter fresh mount, IPC and
network namespaces, mount the run's private tmpfs, make the programs' working folders in
its /tmp) and :func:`fork_pid1`: the first program's process becomes PID 1 of the run,
after forking the others (a split check's candidate). On the exec path the boot
interpreter is PID 1 and runs :func:`start`, which does the same and then reaps. Each
program's process moves its pipes to fds 0-4, closes everything else, enters its working
folder, sets its environment and rlimits, drops to its own uid and installs the socket
filter before the program's first line runs. When the first program (a plain program,
or the checker of a split check) ends, PID 1 is gone and the kernel kills the rest of
the namespace (the candidate included).

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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same modules, as the type checker finds them in the package
    from jre.lib.sandbox import channel, confine, program
else:  # imported by boot.py and forkserver.py as a top-level module: so are its siblings
    import channel
    import confine
    import program

CHANNEL_IN, CHANNEL_OUT = 3, 4
_exit = os._exit


def start(req: dict[str, Any], fds: dict[str, int], life: int) -> None:
    """Exec path: as PID 1, confine the run, fork its programs, reap until the first
    ends (or the evaluator's ``life`` pipe closes); never returns. Exit status: the first
    program's, 128+N for death by signal N, 126 when the setup failed."""
    try:
        sources = prepare(req, fds)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        children = fork_programs(req, fds, sources)
    except BaseException as e:
        _setup_failed(e, fds.get("err0", 2))
    for fd in fds.values():
        os.close(fd)
    if req["programs"][0]["uid"] >= 0:  # nothing of the run may signal its PID 1
        confine.drop_privileges(req["programs"][0]["uid"])
    _wait_for(children[0], life)


def prepare(req: dict[str, Any], fds: dict[str, int],
            mounted: tuple[int, int] | None = None) -> list[bytes]:
    """Read the programs, enter the run's namespaces (``unshare``), mount its private
    tmpfs (unless tmpfs of that size, ``mounted``, already are) and make the programs'
    working folders there; the programs' sources."""
    sources = [_read_all(fds.pop(f"src{i}")) for i in range(len(req["programs"]))]
    if req.get("unshare"):
        confine.unshare(req["unshare"])
    if req.get("tmpfs"):
        if mounted != (req["tmpfs"], req["inodes"]):
            confine.private_tmp(req["tmpfs"], req["inodes"])
        confine.make_workdirs([(p["cwd"], p["uid"]) for p in req["programs"]])
    return sources


def fork_programs(req: dict[str, Any], fds: dict[str, int], sources: list[bytes]) -> list[int]:
    """One confined process per program, side by side (exec path); their pids."""
    return [_fork_program(i, p, src, req, fds)
            for i, (p, src) in enumerate(zip(req["programs"], sources))]


def fork_pid1(req: dict[str, Any], fds: dict[str, int], sources: list[bytes]) -> int:
    """Fork-server path: fork the run's PID 1, which starts the other programs (a split
    check's candidate) as its own children, so that the kernel reaps them when PID 1 ends,
    and then becomes the first program itself; PID 1's pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        for i in range(1, len(req["programs"])):
            _fork_program(i, req["programs"][i], sources[i], req, fds)
    except BaseException as e:
        _setup_failed(e, fds["err0"])
    _become_program(0, req["programs"][0], sources[0], req, fds)
    return 0  # not reached


def _setup_failed(exc: BaseException, err: int) -> None:
    try:
        os.write(err, f"jre-sandbox: setup failed: {exc!r}\n".encode())
    finally:
        _exit(126)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
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
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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
    try:  # also end when the evaluator is gone (its pipe end closes)
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
