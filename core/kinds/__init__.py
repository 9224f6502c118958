"""The base classes each plugin kind implements, one small module per kind."""

from jre.kinds.analysis import Analysis
from jre.kinds.base import Plugin, StrictModel
from jre.kinds.benchmark import Benchmark
from jre.kinds.engine import Engine, EngineClient
from jre.kinds.mixer import Mixer
from jre.kinds.teacher import Teacher

KINDS: dict[str, type[Plugin]] = {
    "engine": Engine,
    "teacher": Teacher,
    "mixer": Mixer,
    "benchmark": Benchmark,
    "analysis": Analysis,
}

__all__ = ["KINDS", "Analysis", "Benchmark", "Engine", "EngineClient", "Mixer", "Plugin",
           "StrictModel", "Teacher"]
