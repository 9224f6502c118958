"""The hooks a jre plugin can implement.

Every ``register_*`` hook receives a ``register`` callback; the plugin calls it once per
object it contributes. The core owns names, duplicates and lookup, so a plugin never
returns lists. Each hook is documented with an example in ``docs/hooks.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

from jre.kinds import KINDS

hookspec = pluggy.HookspecMarker("jre")
hookimpl = pluggy.HookimplMarker("jre")

if TYPE_CHECKING:  # pragma: no cover - typing only
    from jre.kinds.base import Plugin


class Register(Protocol):
    """The callback every ``register_*`` hook receives: call it once per object, with any
    other names (``aliases``) recipes may use for it."""

    def __call__(self, obj: Plugin, *, aliases: Sequence[str] = ()) -> None: ...


def _register_hook(hook: str, base: str, plural: str) -> Callable[[Register], None]:
    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = hook
    spec.__doc__ = f"Register {plural}: ``register(My{base}())`` (a :class:`jre.kinds.{base}`)."
    return hookspec(spec)


# One ``register_<kinds>`` hook per entry of jre.kinds.KINDS (register_engines, ...).
for _kind in KINDS.values():
    globals()[_kind.hook] = _register_hook(_kind.hook, _kind.base.__name__, _kind.plural)


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands or groups to the ``jre`` CLI: ``cli.add_command(...)``."""
