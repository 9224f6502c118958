"""What all the processes of one run use together: resident memory, CPU time, tasks.

A run has a uid of its own (which no process of it can leave: no capabilities,
no_new_privs), so "the processes of the run" are exactly the live processes of its uids (two in a
split check).
CPU time counts each live process with the children it has reaped (``cutime``), so the
time of processes that already ended is not lost. Standard library only (the fork
server's supervisors import it as a top-level module).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Usage:
    rss_bytes: int = 0
    cpu_seconds: float = 0.0
    tasks: int = 0


def usage_of_uids(uids: list[int]) -> Usage:
    """The summed usage of every live process owned by one of ``uids`` (zombies included)."""
    total = Usage()
    wanted = set(uids)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid not in wanted:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command: state(3) ... utime(14) stime(15) cutime(16) cstime(17)
        # ... num_threads(20) ... rss(24); index = field number - 3.
        total.cpu_seconds += sum(int(x) for x in fields[11:15]) / _TICK
        total.tasks += int(fields[17])
        total.rss_bytes += int(fields[21]) * _PAGE
    return total


def over_limit(usage: Usage, memory_bytes: int, cpu_seconds: float, tasks: int) -> str | None:
    """Which run limit ``usage`` exceeds ("memory", "cpu", "processes"), or None."""
    if usage.rss_bytes > memory_bytes:
        return "memory"
    if usage.cpu_seconds > cpu_seconds:
        return "cpu"
    if usage.tasks > tasks:
        return "processes"
    return None


def poll_delays() -> list[float]:
    """Seconds between polls: none in the first 50 ms (where most runs end; per-process
    rlimits bound them meanwhile: a scan of /proc costs more than such a run), then
    every 50 ms, then every 100 ms."""
    return [0.05] * 8 + [0.1]
