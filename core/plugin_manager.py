"""The plugin manager: built-ins, entry points (group ``jre``), allow/deny lists, registries."""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar, overload

import pluggy

from jre import __version__, hookspecs
from jre.errors import PluginError
from jre.kinds import KINDS, Plugin, kind_of

P = TypeVar("P", bound=Plugin)

# Built-in plugins live one module per plugin in these packages; each module has one or
# more @hookimpl functions and is registered in-tree under its dotted module name.
BUILTIN_PACKAGES = ("jre.plugins.engines", "jre.plugins.teachers", "jre.plugins.mixers",
                    "jre.plugins.benchmarks", "jre.plugins.analyses")


def builtin_modules() -> list[str]:
    """Dotted names of the built-in plugin modules (``_private`` modules are helpers)."""
    names = []
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                names.append(f"{package_name}.{info.name}")
    return sorted(names)

HOOK_OF_KIND = {kind.name: kind.hook for kind in KINDS.values()}


@dataclass
class Registered:
    """One registered object with where it came from."""

    obj: Plugin
    plugin: str
    distribution: str
    version: str
    aliases: tuple[str, ...] = ()


@dataclass
class Broken:
    """A plugin that failed to load or to register."""

    plugin: str
    distribution: str
    error: str


@dataclass
class PluginSet:
    """Everything jre knows about: the pluggy manager and one registry per kind."""

    pm: pluggy.PluginManager
    registries: dict[str, dict[str, Registered]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    broken: list[Broken] = field(default_factory=list)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # plugin name -> (dist, version)
    # kind -> name -> every registration after the first of that name (or alias)
    duplicates: dict[str, dict[str, list[Registered]]] = field(default_factory=dict)

    @overload
    def get(self, kind: type[P], name: str) -> P: ...

    @overload
    def get(self, kind: str, name: str) -> Plugin: ...

    def get(self, kind: type[Plugin] | str, name: str) -> Plugin:
        """Look up a plugin object by kind and name: ``plugins.get(Benchmark, "gpqa_ja")`` is
        typed as a :class:`~jre.kinds.Benchmark` (a kind's name, ``"benchmark"``, works too).
        An unknown name is an error listing the available ones, a name two plugins registered
        is an error naming both."""
        kind = kind if isinstance(kind, str) else kind_of(kind).name
        registry = self.registries[kind]
        clash = self.duplicates.get(kind, {}).get(name)
        name = self.aliases[kind].get(name, name)
        clash = clash or self.duplicates.get(kind, {}).get(name)
        if clash:
            raise PluginError(duplicate_message(kind, name, [registry[name], *clash]))
        if name not in registry:
            available = ", ".join(sorted(registry)) or "none"
            raise PluginError(f"unknown {kind} {name!r}; available: {available}")
        return registry[name].obj

    def names(self, kind: type[Plugin] | str) -> list[str]:
        """The registered names of one kind, sorted."""
        return sorted(self.registries[kind if isinstance(kind, str) else kind_of(kind).name])

    def version_of(self, obj: Plugin) -> str:
        """What identifies the code of a registered object: its distribution's version for a
        third-party plugin, a hash of the plugin module's source for a built-in or in-process
        one (built-ins change with every edit, not only with each jre release)."""
        for registry in self.registries.values():
            for reg in registry.values():
                if reg.obj is obj:
                    if reg.distribution != "jre":
                        return f"{reg.distribution} {reg.version}"
                    modules = {self.pm.get_plugin(reg.plugin), sys.modules.get(type(obj).__module__)}
                    return "source " + "+".join(sorted(module_source_hash(m) for m in modules if m))
        return "unregistered"


    def versions(self, *objs: Plugin) -> dict[str, str]:
        """``{"<kind> <name>": version}`` of ``objs``, for a manifest (:meth:`version_of`)."""
        return {f"{obj.kind or kind_of(type(obj)).name} {obj.name}": self.version_of(obj) for obj in objs}


def module_source_hash(module: Any) -> str:
    """sha256 (16 hex digits) of a plugin module's source file ("?" when it has none)."""
    path = getattr(module, "__file__", None)
    if not path or not os.path.exists(path):
        return "?"
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def duplicate_message(kind: str, name: str, owners: list[Registered]) -> str:
    """One line naming every plugin that registered ``name``, and how to keep one."""
    by = " and by ".join(f"plugin {r.plugin!r} ({r.distribution})" for r in owners)
    return (f"{kind} {name!r} is registered twice: by {by}; uninstall one or leave it out "
            "with JRE_DISABLE_PLUGINS")


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _strict() -> bool:
    return os.environ.get("JRE_STRICT_PLUGINS", "") not in ("", "0", "false")


def _warn(message: str) -> None:
    print(f"jre: warning: {message}", file=sys.stderr)


def build_plugin_set(extra_modules: tuple[Any, ...] = (), *, builtins: bool = True,
                     installed: bool = True) -> PluginSet:
    """Load built-ins (unless ``builtins`` is False), ``extra_modules``, and the entry points
    of installed distributions (unless ``installed`` is False), and run every ``register_*``
    hook.

    Each entry point loads in its own try/except, and each hook implementation is called
    on its own, so one broken plugin is reported and the rest keep working
    (``JRE_STRICT_PLUGINS=1`` re-raises instead).
    """
    pm = pluggy.PluginManager("jre")
    pm.add_hookspecs(hookspecs)
    plugins = PluginSet(pm=pm)
    allow, deny = _env_list("JRE_LOAD_PLUGINS"), _env_list("JRE_DISABLE_PLUGINS") or set()

    for module_name in builtin_modules() if builtins else []:
        # Built-ins can be disabled by full module name or "kind_package.module" (engines.vllm).
        if module_name in deny or module_name.removeprefix("jre.plugins.") in deny:
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
        plugins.sources[module_name] = ("jre", __version__)
    for module in extra_modules:
        plugins.sources[pm.register(module) or pm.get_name(module) or repr(module)] = ("jre", __version__)

    for ep in entry_points(group="jre") if installed else []:
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        if (allow is not None and dist not in allow and ep.name not in allow) or \
                dist in deny or ep.name in deny:
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not break jre
            if _strict():
                raise
            plugins.broken.append(Broken(ep.name, dist, f"{type(exc).__name__}: {exc}"))
            _warn(f"plugin {ep.name!r} ({dist} {version}) failed to load: {type(exc).__name__}: {exc}")
            continue
        plugins.sources[ep.name] = (dist, version)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc

    for kind, hook_name in HOOK_OF_KIND.items():
        plugins.registries[kind] = {}
        plugins.aliases[kind] = {}
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            _call_register(plugins, kind, impl)
    return plugins


def _call_register(plugins: PluginSet, kind: str, impl: pluggy.HookImpl) -> None:
    plugin_name = impl.plugin_name
    dist, version = plugins.sources.get(plugin_name, ("?", "?"))
    base = KINDS[kind].base

    def register(obj: Plugin, *, aliases: tuple[str, ...] | list[str] = ()) -> None:
        if not isinstance(obj, base):
            raise PluginError(f"plugin {plugin_name!r} registered {obj!r} as a {kind}, "
                              f"but it is not a jre.kinds.{base.__name__}")
        if not obj.name:
            raise PluginError(f"plugin {plugin_name!r} registered a {kind} without a name")
        registry, alias_map = plugins.registries[kind], plugins.aliases[kind]
        entry = Registered(obj, plugin_name, dist, version, tuple(aliases))
        taken = [name for name in (obj.name, *aliases) if alias_map.get(name, name) in registry]
        if taken:
            # Kept aside, not fatal: `jre plugins` lists both, and only using the name fails.
            for name in taken:
                plugins.duplicates.setdefault(kind, {}).setdefault(name, []).append(entry)
            return
        registry[obj.name] = entry
        for alias in aliases:
            alias_map[alias] = obj.name

    try:
        impl.function(register=register)
    except PluginError:
        raise
    except Exception as exc:
        if _strict():
            raise
        plugins.broken.append(Broken(plugin_name, dist, f"{type(exc).__name__}: {exc}"))
        _warn(f"plugin {plugin_name!r} ({dist}) failed in {impl.function.__name__}: "
              f"{type(exc).__name__}: {exc}")


def add_plugin_commands(plugins: PluginSet, cli: Any) -> None:
    """Run every plugin's ``register_commands`` hook on its own: one that raises is reported
    as broken in one warning line and its commands are left out; the rest of jre works."""
    for impl in plugins.pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            if _strict():
                raise
            dist, _ = plugins.sources.get(impl.plugin_name, ("?", "?"))
            plugins.broken.append(Broken(impl.plugin_name, dist, f"{type(exc).__name__}: {exc}"))
            _warn(f"plugin {impl.plugin_name!r} ({dist}) failed in register_commands: "
                  f"{type(exc).__name__}: {exc}; its commands are left out")


_CACHED: PluginSet | None = None


def get_plugins() -> PluginSet:
    """The default plugin set (built-ins and installed distributions), built once per process.

    Only entry points (the CLI, :meth:`jre.run.Run.load` without a set) use it; everything
    below them receives the set it works with. Tests build their own with
    :func:`jre.testing.plugin_set`.
    """
    global _CACHED
    if _CACHED is None:
        _CACHED = build_plugin_set()
    return _CACHED


def reset_plugins() -> None:
    """Forget the cached plugin set (tests; after installing a plugin in-process)."""
    global _CACHED
    _CACHED = None
