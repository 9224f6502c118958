"""Run untrusted, model-written Python in a throw-away sandbox and judge it.

Every run is a new process tree made by one fork of a warm, pristine interpreter (the
fork server, ``forkserver.py``) or, where that is not possible, by a fresh ``python -I
-S`` (``boot.py``). Its PID 1 (``launch.py``) confines it before any of its code runs:

* new PID, network, mount and IPC namespaces: the kernel kills everything the run
  started when PID 1 ends; no network, not even loopback;
* size-limited private tmpfs at ``/tmp``, ``/dev/shm``, ``/var/tmp`` and the working
  directory: nothing written there reaches the host or outlives the run;
* a fresh, otherwise unused uid per run, no capabilities, ``no_new_privs``;
* a seccomp filter refusing ``socket(AF_UNIX, ...)``: no filesystem socket outside is
  reachable (abstract ones are per network namespace);
* rlimits per process, and per-run limits on memory, CPU time and tasks: the run's
  supervisor sums the usage of all the run's processes and kills the namespace
  (``usage.py``); no cgroup is created or changed;
* a scrubbed environment, a wall-clock backstop, byte-capped stdout/stderr.

What the machine allows is probed once (:func:`isolation_level` names it). Verdicts:
a program passes only if it exits 0 *and* the last line on its stdout is a random nonce
appended after the tests. In the *split* mode (:func:`check_split`) the tests run in a
checker process holding no model code, which calls the candidate in its own sandboxed
process over a channel of plain data (``channel.py``): nothing the candidate does in its
process can reach the verdict. The *same-process* mode (:func:`check_program`) remains
for tests that cannot be split. See ``docs/sandbox.md``.

The standard library only; Linux only.
"""

from jre.lib.sandbox.caps import capabilities
from jre.lib.sandbox.channel import CandidateError, ChannelError, decode, encode
from jre.lib.sandbox.cleanup import remove_tree
from jre.lib.sandbox.limits import SandboxLimits, SandboxResult
from jre.lib.sandbox.runner import (
                                    check_many,
                                    check_program,
                                    check_split,
                                    checker_program,
                                    isolation_level,
                                    program_with_nonce,
                                    run_many,
                                    run_program,
                                    sandbox_interpreter,
)

__all__ = [
    "CandidateError",
    "ChannelError",
    "SandboxLimits",
    "SandboxResult",
    "capabilities",
    "check_many",
    "check_program",
    "check_split",
    "checker_program",
    "decode",
    "encode",
    "isolation_level",
    "program_with_nonce",
    "remove_tree",
    "run_many",
    "run_program",
    "sandbox_interpreter",
]
