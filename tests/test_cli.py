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


QUICKSTART = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.toml"


def test_a_copied_recipe_without_its_files_fails_the_check(tmp_path: Path) -> None:
    # The quickstart copied alone: its corpus file stays behind. Check and dry run both say so.
    copy = tmp_path / "qs.toml"
    copy.write_text(QUICKSTART.read_text(encoding="utf-8"), encoding="utf-8")
    corpus = tmp_path / "quickstart" / "corpus.txt"
    mt_bench = tmp_path / "quickstart" / "mt_bench"
    for args in (("recipe", "check", str(copy)), ("run", str(copy), "--dry-run")):
        result = run_jre(*args)
        assert result.returncode == 2, result.stdout
        # One line per missing file, however many experiments read it.
        assert result.stderr.strip().splitlines() == [
            f"{corpus}: study.tiny_base_model.corpus: no such corpus file",
            f"{copy}: eval.benchmarks[2].path: all 7 experiments: no such file or folder: "
            f"{mt_bench / 'question.jsonl'}",
            f"{copy}: eval.benchmarks[2].reference_path: all 7 experiments: no such file or folder: "
            f"{mt_bench / 'reference.jsonl'}"]


def test_stage_inputs_are_checked_before_any_work(tmp_path: Path) -> None:
    # --only eval before anything was trained: every experiment says why, and nothing is built.
    result = run_jre("run", str(QUICKSTART), "--only", "eval", "--run-dir", str(tmp_path / "qs"),
                     env={"JRE_QUICKSTART": "ci"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4 and all("no model to evaluate" in line for line in lines), result.stderr
    assert [line.split("eval.engine.model: ")[1].split(":")[0] for line in lines] == [
        f"experiment {name}" for name in ("concise", "verbose", "notrace", "english")]
    assert not (tmp_path / "qs" / "base_model").exists()

    # A recipe that trains but has no [mix] and no mix dataset: a dead end named up front.
    recipe = tmp_path / "train.toml"
    recipe.write_text('schema_version = 1\nname = "t"\n[train]\nbase_model = "m"\n', encoding="utf-8")
    result = run_jre("recipe", "check", str(recipe))
    assert result.returncode == 2
    assert "train: training reads the mix stage's dataset, but the recipe has no [mix] table" in result.stderr
