"""The third-party route: pip-installed plugin distributions and ``jre new plugin``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_jre
from plugin_dists import env_with

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["teacher", "benchmark", "mixer", "analysis", "engine"]


def pip_install_target(package: Path, target: Path) -> None:
    """A real ``pip install`` of ``package`` into ``target`` (offline: no deps, no isolation)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(package)],
                   check=True, capture_output=True, text=True, timeout=300)


def test_jamcqa_example_installs_and_registers(tmp_path: Path) -> None:
    site = tmp_path / "site"
    pip_install_target(ROOT / "examples" / "jre-bench-jamcqa", site)
    result = run_jre("plugins", "--json", "--kind", "benchmark", env=env_with(site))
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)["plugins"]}
    assert rows["jamcqa_categories"]["distribution"] == "jre-bench-jamcqa"
    assert rows["jamcqa_categories"]["plugin"] == "jre_bench_jamcqa"
    assert rows["jamcqa"]["plugin"] != "jre_bench_jamcqa"  # the built-in one stays
    assert all(r["kind"] == "benchmark" for r in rows.values())


@pytest.mark.parametrize("kind", KINDS)
def test_new_plugin_package_installs_and_its_test_passes(tmp_path: Path, kind: str) -> None:
    made = run_jre("new", "plugin", "--kind", kind, "my_thing", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    folder = next(tmp_path.glob("jre-*-my-thing"))
    assert (folder / "pyproject.toml").exists() and (folder / "tests").is_dir()
    site = tmp_path / "site"
    pip_install_target(folder, site)
    listed = run_jre("plugins", "--json", "--kind", kind, env=env_with(site))
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)["plugins"] if r["name"] == "my_thing"]
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(folder / "tests")], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, **env_with(site)}, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "passed" in tests.stdout and "failed" not in tests.stdout


def test_new_plugin_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    assert run_jre("new", "plugin", "--kind", "teacher", "t1", "--dir", str(tmp_path)).returncode == 0
    again = run_jre("new", "plugin", "--kind", "teacher", "t1", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = run_jre("new", "plugin", "--kind", "teacher", "Bad-Name", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "must be lowercase" in bad.stderr
