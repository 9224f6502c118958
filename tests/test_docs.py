"""Every hook is documented, with its signature and an example."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from jre import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"


def _hooks() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(hookspecs).items()
            if name.startswith("register_") and callable(fn)}


def test_every_hook_has_a_section_with_signature_and_example() -> None:
    text = DOCS.read_text(encoding="utf-8")
    hooks = _hooks()
    assert len(hooks) == 6
    for name, signature in hooks.items():
        params = ", ".join(signature.parameters)
        heading = f"## {name}({params})"
        assert heading in text, f"docs/hooks.md lacks {heading!r}"
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        assert re.search(rf"```python.*def {name}\(", section, re.S), f"no example for {name}"


def test_no_documented_hook_is_missing_from_the_specs() -> None:
    documented = set(re.findall(r"^## (register_\w+)\(", DOCS.read_text(encoding="utf-8"), re.M))
    assert documented == set(_hooks())
