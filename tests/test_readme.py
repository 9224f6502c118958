"""The README stays true: its recipe example is a valid recipe."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import run_jre

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_recipe_example_checks(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    recipes = [b for b in blocks if "schema_version" in b]
    assert recipes, "the README shows a recipe"
    for i, text in enumerate(recipes):
        path = tmp_path / f"readme{i}.toml"
        path.write_text(text, encoding="utf-8")
        result = run_jre("recipe", "check", str(path))
        assert result.returncode == 0, result.stderr
