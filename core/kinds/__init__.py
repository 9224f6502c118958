"""The base classes each plugin kind implements, one small module per kind.

:data:`KINDS` is the one list of plugin kinds: the hook specs, the plugin manager, the CLI's
``--kind`` choices and ``jre new plugin`` all derive from it.
"""

from dataclasses import dataclass

from jre.kinds.analysis import Analysis
from jre.kinds.base import Plugin, StrictModel
from jre.kinds.benchmark import Benchmark
from jre.kinds.engine import Engine, EngineClient
from jre.kinds.mixer import Mixer
from jre.kinds.teacher import Teacher


@dataclass(frozen=True)
class Kind:
    """One plugin kind: its base class, the hook that registers it, and its names."""

    name: str  # what recipes, ``jre plugins --kind`` and registries call it
    base: type[Plugin]
    hook: str  # the ``register_*`` hook of jre.hookspecs
    plural: str  # in help texts
    short: str  # in package names made by ``jre new plugin`` (jre-bench-NAME)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("engine", Engine, "register_engines", "engines", "engine"),
    Kind("teacher", Teacher, "register_teachers", "teachers", "teacher"),
    Kind("mixer", Mixer, "register_mixers", "mixers", "mixer"),
    Kind("benchmark", Benchmark, "register_benchmarks", "benchmarks", "bench"),
    Kind("analysis", Analysis, "register_analyses", "analyses", "analysis"),
)}


def kind_of(cls: type[Plugin]) -> Kind:
    """The kind whose base class ``cls`` is (or derives from)."""
    for kind in KINDS.values():
        if issubclass(cls, kind.base):
            return kind
    raise KeyError(f"{cls.__name__} is not a plugin kind; kinds: {', '.join(KINDS)}")


__all__ = ["KINDS", "Analysis", "Benchmark", "Engine", "EngineClient", "Kind", "Mixer", "Plugin",
           "StrictModel", "Teacher", "kind_of"]
