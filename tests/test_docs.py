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


def test_examples_register_working_plugins() -> None:
    """Each complete example in docs/hooks.md registers through the real plugin manager."""
    import types

    from jre.plugin_manager import build_plugin_set
    from jre.records import ChatRequest

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    expected = {"echo": "engine", "my-teacher": "teacher", "quiz": "benchmark",
                "mean_failure": "analysis"}
    modules = []
    for i, block in enumerate(blocks):
        if "# your code" in block or "register_commands" in block:
            continue  # a fragment, not a runnable example
        module = types.ModuleType(f"hooks_doc_example_{i}")
        exec(compile(block, f"docs/hooks.md block {i}", "exec"), module.__dict__)
        modules.append(module)
    plugins = build_plugin_set(extra_modules=tuple(modules))
    for name, kind in expected.items():
        assert plugins.get(kind, name).name == name
    assert plugins.get("teacher", "mine").name == "my-teacher"
    engine = plugins.get("engine", "echo")
    client = engine.load(None)
    [(_, [gen])] = list(client.generate([ChatRequest(id="x", messages=[{"role": "user", "content": "hi"}])]))
    assert gen.reasoning == "echo" and gen.content == "hi" and gen.think_closed
