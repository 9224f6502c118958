"""The hooks a jre plugin can implement.

Every ``register_*`` hook receives a ``register`` callback; the plugin calls it once per
object it contributes. The core owns names, duplicates and lookup, so a plugin never
returns lists. Each hook is documented with an example in ``docs/hooks.md``.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("jre")
hookimpl = pluggy.HookimplMarker("jre")

Register = Callable[..., None]


@hookspec
def register_engines(register: Register) -> None:
    """Register generation engines: ``register(MyEngine())`` (a :class:`jre.kinds.Engine`)."""


@hookspec
def register_teachers(register: Register) -> None:
    """Register teachers: ``register(MyTeacher())`` (a :class:`jre.kinds.Teacher`)."""


@hookspec
def register_mixers(register: Register) -> None:
    """Register SFT-set mixers: ``register(MyMixer())`` (a :class:`jre.kinds.Mixer`)."""


@hookspec
def register_benchmarks(register: Register) -> None:
    """Register benchmarks: ``register(MyBenchmark())`` (a :class:`jre.kinds.Benchmark`)."""


@hookspec
def register_analyses(register: Register) -> None:
    """Register analyses: ``register(MyAnalysis())`` (a :class:`jre.kinds.Analysis`)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``jre`` CLI: ``cli.add_command(...)``."""
