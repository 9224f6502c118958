"""The CLI's own commands: version, run selection, dry runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_jre
from jre.errors import UserError
from jre.pipeline import select_stages


def test_version_names_jre() -> None:
    result = run_jre("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("jre ")


def test_select_stages_only_and_until() -> None:
    declared = ["synth", "mix", "train", "eval", "report"]
    assert select_stages(declared) == declared
    assert select_stages(declared, only=("eval", "mix")) == ["mix", "eval"]
    assert select_stages(declared, until="train") == ["synth", "mix", "train"]
    assert select_stages(declared, only=("eval",), until="train") == []
    with pytest.raises(UserError, match="unknown stage 'trian'"):
        select_stages(declared, until="trian")


def test_unknown_stage_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\nname = "r"\n')
    result = run_jre("run", str(recipe), "--only", "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == "unknown stage 'nope'; stages: synth, mix, train, eval, analyze, report"


def test_run_of_an_empty_recipe_runs_nothing_and_copies_the_recipe(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\nname = "r"\n')
    result = run_jre("run", str(recipe), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "recipe.toml").read_text() == recipe.read_text()
    dry = run_jre("run", str(recipe), "--dry-run", "--run-dir", str(tmp_path / "other"))
    assert dry.returncode == 0 and "recipe r" in dry.stdout
    assert not (tmp_path / "other").exists(), "a dry run writes nothing"
