"""The steps that confine one run, taken as root before the run's own processes start.

Standard library only: besides ``jre.lib.sandbox``, the fork server and the exec-path boot
script import this file as a top-level module (they run as ``python -I -S``, without jre).
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 0x2, 0x4, 0x4000, 1 << 18
_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 4, 24, 22, 38
TMP_DIRS = ("/tmp", "/dev/shm", "/var/tmp")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    """unshare(2) (``os.unshare`` exists only from Python 3.12)."""
    _check(_libc.unshare(flags), "unshare")


def _tmpfs(target: str, options: str) -> None:
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                       options.encode()), f"mount tmpfs on {target}")


def private_tmp(size: int, inodes: int) -> None:
    """In the current (fresh) mount namespace: size-limited tmpfs at /tmp, /dev/shm and
    /var/tmp. Nothing written there reaches the host, and all of it goes with the
    namespace."""
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    for path in TMP_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            _tmpfs(path, f"size={size},nr_inodes={inodes},mode=1777")


def make_workdirs(workdirs: list[tuple[str, int]]) -> None:
    """Each ``(workdir, uid)`` as a folder of that uid's alone in the private /tmp."""
    for workdir, uid in workdirs:
        if not workdir.startswith("/tmp/"):
            raise ValueError(f"a private working directory lives in /tmp, not {workdir}")
        os.mkdir(workdir, 0o700)
        if uid >= 0:
            os.chown(workdir, uid, uid)


def set_rlimits(rlimits: list[tuple[int, int, int]]) -> None:
    for res, soft, hard in rlimits:
        resource.setrlimit(res, (soft, hard))


def drop_privileges(uid: int) -> None:
    """Become ``uid``/``uid`` with no groups, no capabilities (bounding set emptied) and
    no_new_privs, staying dumpable so the program can read its own /proc/self files."""
    for cap in range(64):  # PR_CAPBSET_DROP until EINVAL (past the last capability)
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)  # setuid cleared it; cores stay off by rlimit


# seccomp: socket(AF_UNIX, ...) fails with EACCES, so no filesystem socket outside the run
# can be reached (abstract ones are per network namespace); socketpair(2) still works.
# io_uring could open sockets behind the filter's back, so it is refused too.
_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_EACCES, _EPERM, _AF_UNIX = 13, 1, 1


def unix_socket_filter_supported() -> bool:
    return platform.machine() in _ARCH


def deny_unix_sockets() -> None:
    """Install the seccomp filter above (needs no_new_privs first)."""
    arch, nr_socket, nr_io_uring_setup = _ARCH[platform.machine()]
    ld_w_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06

    def op(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    deny = _SECCOMP_RET_ERRNO | _EACCES
    insns = [
        op(ld_w_abs, 0, 0, 4),                      # A = arch
        op(jeq, 1, 0, arch),                        # native arch: go on
        op(ret, 0, 0, _SECCOMP_RET_ERRNO | _EPERM),  # any other ABI: refused
        op(ld_w_abs, 0, 0, 0),                      # A = syscall number
        op(jge, 0, 1, 0x40000000),                  # x32 ABI numbers: refused
        op(ret, 0, 0, deny),
        op(jeq, 0, 1, nr_io_uring_setup),
        op(ret, 0, 0, deny),
        op(jeq, 0, 3, nr_socket),
        op(ld_w_abs, 0, 0, 16),                     # A = low word of the first argument
        op(jeq, 0, 1, _AF_UNIX),
        op(ret, 0, 0, deny),
        op(ret, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    code = b"".join(insns)
    buf = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(insns), ctypes.addressof(buf))
    _check(_libc.prctl(_PR_SET_SECCOMP, 2, ctypes.byref(prog), 0, 0), "seccomp")
