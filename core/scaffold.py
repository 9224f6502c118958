"""``jre new plugin``: write a ready-to-install plugin package, the way third parties start."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from jre.errors import UserError
from jre.kinds import KINDS

TEMPLATES = Path(__file__).parent / "templates"
HOOK_OF_KIND = {kind.name: kind.hook for kind in KINDS.values()}
SHORT_KIND = {kind.name: kind.short for kind in KINDS.values()}


def _render(name: str, values: dict[str, str]) -> str:
    return Template((TEMPLATES / name).read_text(encoding="utf-8")).substitute(values)


def write_plugin_package(kind: str, name: str, directory: Path) -> Path:
    """Create ``jre-<kind>-<name>/`` under ``directory``; returns its path.

    The package has a pyproject with the ``jre`` entry point, the plugin module, a README
    and a passing test. Refuses to overwrite an existing folder.
    """
    if kind not in HOOK_OF_KIND:
        raise UserError(f"unknown plugin kind {kind!r}; kinds: {', '.join(HOOK_OF_KIND)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UserError(f"plugin name {name!r} must be lowercase letters, digits and _, "
                        "starting with a letter")
    dist = f"jre-{SHORT_KIND[kind]}-{name.replace('_', '-')}"
    module = dist.replace("-", "_")
    folder = directory / dist
    if folder.exists():
        raise UserError("already exists; choose another name or folder", where=str(folder))
    class_name = "".join(part.capitalize() for part in name.split("_"))
    values = {"kind": kind, "name": name, "dist": dist, "module": module,
              "class_name": class_name, "hook": HOOK_OF_KIND[kind],
              "base": KINDS[kind].base.__name__}
    (folder / module).mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pyproject.toml").write_text(_render("pyproject.toml.tmpl", values), encoding="utf-8")
    (folder / "README.md").write_text(_render("README.md.tmpl", values), encoding="utf-8")
    (folder / module / "__init__.py").write_text(_render(f"plugin_{kind}.py.tmpl", values),
                                                 encoding="utf-8")
    (folder / "tests" / f"test_{name}.py").write_text(_render(f"test_{kind}.py.tmpl", values),
                                                      encoding="utf-8")
    return folder
