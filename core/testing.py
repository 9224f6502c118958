"""Helpers for testing jre plugins (and jre itself), in the spirit of pytest's ``pytester``.

- :func:`plugin_set` builds a :class:`~jre.plugin_manager.PluginSet` from given plugin modules
  and objects, with or without jre's built-ins (never reading installed distributions);
- :class:`ScriptedEngine` is an engine that answers from given outputs and records the prompts;
- :func:`tmp_run` writes recipe text into a folder and returns its :class:`~jre.run.Run`.

Nothing here is private API: a plugin package's own tests use it exactly as jre's tests do.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from jre.hookspecs import Register, hookimpl
from jre.kinds import KINDS, Kind, Plugin
from jre.kinds.engine import Engine, EngineConfig, new_stats, split_generation
from jre.plugin_manager import PluginSet, build_plugin_set
from jre.records import ChatRequest, Generation
from jre.run import Run

__all__ = ["ScriptedConfig", "ScriptedEngine", "plugin_set", "tmp_run"]


def _register_objects(kind: Kind, objects: Sequence[Plugin]) -> Callable[[Register], None]:
    def register_all(register: Register) -> None:
        for obj in objects:
            if isinstance(obj, kind.base):
                register(obj)

    return hookimpl(register_all)


def plugin_set(*modules: Any, objects: Sequence[Plugin] = (), builtins: bool = True) -> PluginSet:
    """A plugin set of ``modules`` (each with ``@hookimpl`` functions, as a plugin package's
    module has) and plugin ``objects`` (registered as they are), plus jre's built-in plugins
    unless ``builtins`` is False. Installed distributions are not loaded, so a test sees only
    what it names."""
    extra: list[Any] = list(modules)
    if objects:
        holder = types.SimpleNamespace(**{kind.hook: _register_objects(kind, objects)
                                          for kind in KINDS.values()})
        extra.append(holder)
    return build_plugin_set(extra_modules=tuple(extra), builtins=builtins, installed=False)


class ScriptedConfig(EngineConfig):
    """``[... engine] name = "scripted"``: ``outputs`` maps a request id (a benchmark item's
    id, a seed's id) to raw outputs, cycled when more samples are asked for; ``default`` is
    the output of any other request."""

    outputs: dict[str, list[str]] = Field(default_factory=dict)
    default: str | None = None


class ScriptedEngine(Engine):
    """An engine that answers from :class:`ScriptedConfig` (or from ``outputs`` given here)
    and records every request it serves in :attr:`requests`."""

    name = "scripted"
    description = "Answers from given outputs and records the prompts (jre.testing)."
    config_model = ScriptedConfig

    def __init__(self, outputs: dict[str, list[str]] | None = None, default: str | None = None) -> None:
        self.outputs = dict(outputs or {})
        self.default = default
        self.requests: list[ChatRequest] = []

    def load(self, config: BaseModel | None) -> _ScriptedClient:
        cfg = config if isinstance(config, ScriptedConfig) else ScriptedConfig()
        return _ScriptedClient(self, cfg)

    @property
    def prompts(self) -> list[list[dict[str, str]]]:
        """The messages of every request served, in order."""
        return [request.messages for request in self.requests]


class _ScriptedClient:
    def __init__(self, engine: ScriptedEngine, config: ScriptedConfig) -> None:
        self.engine, self.config = engine, config
        self.outputs = {**engine.outputs, **config.outputs}
        self.default = config.default if config.default is not None else engine.default
        self.stats: dict[str, Any] = new_stats()

    def _texts(self, request: ChatRequest) -> list[str]:
        if request.id in self.outputs:
            return self.outputs[request.id]
        if self.default is not None:
            return [self.default]
        raise KeyError(f"scripted engine: no output for request {request.id!r}")

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        for request in requests:
            texts = self._texts(request)
            gens = [split_generation(texts[k % len(texts)], reasoning_format=self.config.reasoning_format,
                                     prefilled=bool(self.config.prefilled_think), prompt_tokens=10,
                                     completion_tokens=len(texts[k % len(texts)]), finish_reason="stop")
                    for k in range(request.sampling.n)]
            self.engine.requests.append(request)
            self.stats["requests"] += 1
            self.stats["generations"] += len(gens)
            yield request, gens

    def close(self) -> None:
        pass


def tmp_run(folder: str | Path, recipe_text: str, *, plugins: PluginSet | None = None,
            name: str = "recipe.toml", **switches: Any) -> Run:
    """Write ``recipe_text`` to ``folder/name`` and return its :class:`~jre.run.Run` (run it
    with :func:`jre.run.execute`); ``switches`` are :class:`~jre.run.Run` fields (``force``)."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(recipe_text, encoding="utf-8")
    return Run.load(path, plugins=plugins if plugins is not None else plugin_set(), **switches)
