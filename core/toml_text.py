"""Writing TOML: the one place jre turns plain data into recipe text (through tomli-w)."""

from __future__ import annotations

from typing import Any

import tomli_w


def without_none(value: Any) -> Any:
    """``value`` with every None dropped from its tables and arrays (TOML has no null)."""
    if isinstance(value, dict):
        return {str(k): without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [without_none(v) for v in value if v is not None]
    return value


def toml_dumps(data: dict[str, Any]) -> str:
    """TOML text of ``data`` (None values left out)."""
    return tomli_w.dumps(without_none(data))
