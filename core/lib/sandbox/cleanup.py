"""Remove a run's directory tree whatever the run left in it, touching nothing outside.

Iterative and fd-based: one open directory at a time (any depth fits in a few fds), every
open with ``O_NOFOLLOW`` relative to its parent's fd, so a symlink is removed as a link
and never followed; fifos, sockets and devices are unlinked like files; a directory the
run made unreadable (mode 000) gets its own mode changed, never a parent's. Problems are
returned as text for the sample's status, never raised.
"""

from __future__ import annotations

import errno
import os
import stat

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(name: str, parent: int) -> int:
    try:
        return os.open(name, _DIR, dir_fd=parent)
    except PermissionError:
        # Unreadable directory (not root): make that directory, and only it, ours to read.
        ref = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            if not stat.S_ISDIR(os.fstat(ref).st_mode):
                raise
            os.chmod(f"/proc/self/fd/{ref}", 0o700)
        finally:
            os.close(ref)
        return os.open(name, _DIR, dir_fd=parent)


def remove_tree(path: str) -> list[str]:
    """Remove ``path`` and everything under it; the problems met (empty: all gone)."""
    problems: list[str] = []
    parent_path, base = os.path.split(os.path.abspath(path))
    try:
        parent = os.open(parent_path, _DIR)
    except OSError as exc:
        return [f"cannot open {parent_path}: {exc.strerror}"]
    try:
        try:
            fd = os.open(base, _DIR, dir_fd=parent)
        except FileNotFoundError:
            return problems
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                return [f"cannot open {path}: {exc.strerror}"]
            os.unlink(base, dir_fd=parent)  # replaced by a symlink or file: remove that
            return problems
        _empty_tree(fd, path, problems)  # closes fd
        try:
            os.rmdir(base, dir_fd=parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"cannot remove {path}: {exc.strerror}")
    except OSError as exc:
        problems.append(f"cleanup of {path}: {exc.strerror}")
    finally:
        os.close(parent)
    return problems


def _empty_tree(fd: int, path: str, problems: list[str]) -> None:
    """Empty the directory open as ``fd`` (closed on return), depth-first, iteratively."""
    stack: list[tuple[str, int, int]] = []  # (name in parent, parent's st_dev, st_ino)
    stuck: set[tuple[int, int]] = set()      # entries that could not be removed
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                        if (st.st_dev, st.st_ino) in stuck:
                            continue
                        if stat.S_ISDIR(st.st_mode):
                            child = entry.name
                            break
                        os.unlink(entry.name, dir_fd=fd)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        stuck.add((st.st_dev, st.st_ino))
                        problems.append(f"cannot remove {entry.name!r} in {path}: {exc.strerror}")
            if child is not None:
                try:
                    child_fd = _open_dir(child, fd)
                except OSError as exc:
                    stuck.add((st.st_dev, st.st_ino))
                    problems.append(f"cannot open {child!r} in {path}: {exc.strerror}")
                    continue
                here = os.fstat(fd)
                stack.append((child, here.st_dev, here.st_ino))
                os.close(fd)
                fd = child_fd
                continue
            if not stack:
                return
            name, dev, ino = stack.pop()
            up = os.open("..", _DIR, dir_fd=fd)
            st_up = os.fstat(up)
            os.close(fd)
            fd = up
            if (st_up.st_dev, st_up.st_ino) != (dev, ino):
                problems.append(f"the tree under {path} moved during cleanup")
                return
            try:
                os.rmdir(name, dir_fd=fd)
            except OSError as exc:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                stuck.add((st.st_dev, st.st_ino))
                problems.append(f"cannot remove directory {name!r} in {path}: {exc.strerror}")
    finally:
        os.close(fd)
