"""Recipe checks that need the engines: sampling an engine would refuse at run time.

vLLM refuses ``temperature = 0`` with ``n > 1``; finding that when the recipe is read turns a
crash hours into a run into one line from ``jre recipe check``. Each engine says what it
refuses through :meth:`jre.kinds.engine.Engine.check_sampling`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from jre.errors import UserError
from jre.kinds import Benchmark, Engine, Teacher
from jre.plugin_manager import PluginSet


def sampling_problems(recipe: Any, plugins: PluginSet) -> Iterator[tuple[tuple[Any, ...], str]]:
    """``(field location, message)`` for each synth dataset or benchmark whose sampling its
    engine refuses. Plugins that cannot be found are left to the stage to report."""
    if recipe.synth is not None:
        for name, ds in recipe.synth.datasets.items():
            try:
                teacher = plugins.get(Teacher, ds.teacher.name)
                settings = teacher.settings(ds.teacher.config)
                engine_name = ds.engine.name if ds.engine is not None else settings.engine
                if not teacher.uses_engine or not engine_name:
                    continue
                engine = plugins.get(Engine, engine_name)
            except UserError:
                continue
            config = ds.engine.config if ds.engine is not None else None
            problem = engine.check_sampling(config, replace(settings.sampling, n=ds.samples))
            if problem:
                yield ("synth", "datasets", name, "samples"), problem
    if recipe.eval is not None:
        try:
            engine = plugins.get(Engine, recipe.eval.engine.name)
        except UserError:
            return
        for index, ref in enumerate(recipe.eval.benchmarks):
            try:
                benchmark = plugins.get(Benchmark, ref.name)
            except UserError:
                continue
            problem = engine.check_sampling(recipe.eval.engine.config,
                                            benchmark.sampling_for(ref.config, recipe.eval.sampling))
            if problem:
                yield ("eval", "benchmarks", index), problem
