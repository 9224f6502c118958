"""Run a program as ``__main__`` and end the process as the interpreter would.

Used inside a run's own process (fork server and exec-path boot script), after the
process is confined. Standard library only (imported as a top-level module there).
"""

from __future__ import annotations

import atexit
import builtins
import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

_exit = os._exit  # bound early: a program that patches os cannot keep its process alive


def run_main(source: bytes, path: str, *, before: Callable[[dict[str, Any]], None] | None = None,
             after: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Execute ``source`` in a fresh ``__main__`` module, then ``after(namespace)``; exit
    with the status a fresh interpreter would give (1 on an uncaught exception, the
    ``SystemExit`` code, 120 when flushing fails). Never returns."""
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins  # type: ignore[attr-defined]  # not declared on ModuleType; exec reads it
    sys.modules["__main__"] = main
    sys.argv[:] = [path]
    rc = 0
    try:
        if before is not None:
            before(main.__dict__)
        exec(compile(source, path, "exec"), main.__dict__)
        if after is not None:
            after(main.__dict__)
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
            if step is not None:
                step()
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            rc = rc or 120
    _exit(rc)
