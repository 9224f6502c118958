"""The plugin manager: entry points, broken plugins, duplicates, allow/deny lists, hook names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_jre
from plugin_dists import GOOD_BENCHMARK, env_with, make_dist


def _plugins_json(env: dict[str, str]) -> dict:
    result = run_jre("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_builtin_kinds_are_listed_with_distribution_and_version() -> None:
    result = run_jre("plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for row in data["plugins"]:
        assert row["distribution"] == "jre" and row["plugin"].startswith("jre.plugins.")
    table = run_jre("plugins")
    assert table.returncode == 0 and "kind" in table.stdout and "distribution" in table.stdout


def test_entry_point_plugin_is_loaded_and_listed(tmp_path: Path) -> None:
    root = make_dist(tmp_path / "site", "jre-bench-toy", "jre_bench_toy", GOOD_BENCHMARK, "2.5")
    data = _plugins_json(env_with(root))
    toy = [r for r in data["plugins"] if r["name"] == "toy"]
    assert toy == [{"kind": "benchmark", "name": "toy", "aliases": ["toy-alias"],
                    "plugin": "jre_bench_toy", "distribution": "jre-bench-toy", "version": "2.5",
                    "description": "a toy benchmark", "duplicate": False}]
    version = run_jre("--version", env=env_with(root))
    assert version.returncode == 0 and "jre-bench-toy 2.5" in version.stdout


def test_broken_plugin_is_reported_and_the_rest_keeps_working(tmp_path: Path) -> None:
    root = tmp_path / "site"
    make_dist(root, "jre-bench-toy", "jre_bench_toy", GOOD_BENCHMARK)
    make_dist(root, "jre-broken", "jre_broken", "raise RuntimeError('boom at import')\n")
    result = run_jre("plugins", "--json", env=env_with(root))
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["broken"] == [{"plugin": "jre_broken", "distribution": "jre-broken",
                               "error": "RuntimeError: boom at import"}]
    assert any(r["name"] == "toy" for r in data["plugins"])
    assert "jre_broken" in result.stderr and "boom at import" in result.stderr
    assert result.stderr.count("\n") == 1, "one warning line"
    table = run_jre("plugins", env=env_with(root))
    assert table.returncode == 0 and "broken" in table.stdout and "jre_broken" in table.stdout


def test_plugin_whose_register_hook_raises_is_broken_not_fatal(tmp_path: Path) -> None:
    source = GOOD_BENCHMARK + """
@hookimpl
def register_analyses(register):
    raise ValueError("bad registration")
"""
    root = make_dist(tmp_path / "site", "jre-half", "jre_half", source)
    data = _plugins_json(env_with(root))
    assert data["broken"][0]["plugin"] == "jre_half"
    assert "bad registration" in data["broken"][0]["error"]
    assert any(r["name"] == "toy" for r in data["plugins"])


def test_strict_mode_reraises(tmp_path: Path) -> None:
    root = make_dist(tmp_path / "site", "jre-broken", "jre_broken", "raise RuntimeError('boom')\n")
    result = run_jre("plugins", env=env_with(root, JRE_STRICT_PLUGINS="1"))
    assert result.returncode != 0 and "RuntimeError: boom" in result.stderr


def test_misspelled_hook_is_an_error(tmp_path: Path) -> None:
    source = """
from jre import hookimpl

@hookimpl
def register_benchmark(register):  # missing the final s
    pass
"""
    root = make_dist(tmp_path / "site", "jre-typo", "jre_typo", source)
    result = run_jre("plugins", env=env_with(root))
    assert result.returncode == 2
    assert "jre_typo" in result.stderr and "register_benchmark" in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_names_are_listed_and_fail_only_when_used(tmp_path: Path) -> None:
    root = tmp_path / "site"
    make_dist(root, "jre-bench-toy", "jre_bench_toy", GOOD_BENCHMARK)
    make_dist(root, "jre-bench-toy2", "jre_bench_toy2", GOOD_BENCHMARK)
    env = env_with(root)
    # `jre plugins`, the command for diagnosing it, lists both and flags them.
    data = _plugins_json(env)
    toys = [r for r in data["plugins"] if r["name"] == "toy"]
    assert sorted(r["plugin"] for r in toys) == ["jre_bench_toy", "jre_bench_toy2"]
    assert all(r["duplicate"] for r in toys)
    assert not any(r["duplicate"] for r in data["plugins"] if r["name"] != "toy")
    assert {(d["kind"], d["name"], tuple(sorted(d["plugins"]))) for d in data["duplicates"]} == {
        ("benchmark", n, ("jre_bench_toy", "jre_bench_toy2")) for n in ("toy", "toy-alias")}
    table = run_jre("plugins", env=env)
    assert table.returncode == 0 and "duplicate" in table.stdout and "jre_bench_toy2" in table.stdout
    # Other names keep working; using the duplicated one (or its alias) is one line, exit 2.
    recipe = tmp_path / "r.toml"
    for name in ("arith_en", "toy", "toy-alias"):
        recipe.write_text(f'schema_version = 1\nname = "d"\nrun_dir = "{tmp_path / "run"}"\n'
                          f'[eval]\nengine = "openai"\nbenchmarks = ["{name}"]\n')
        result = run_jre("recipe", "check", str(recipe), env=env)
        if name == "arith_en":
            assert "registered twice" not in result.stderr, result.stderr
            continue
        assert result.returncode == 2, result.stderr
        assert "registered twice" in result.stderr and "Traceback" not in result.stderr
        assert "jre_bench_toy" in result.stderr and "jre_bench_toy2" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_allow_and_deny_lists(tmp_path: Path) -> None:
    root = tmp_path / "site"
    make_dist(root, "jre-bench-toy", "jre_bench_toy", GOOD_BENCHMARK)
    make_dist(root, "jre-broken", "jre_broken", "raise RuntimeError('boom')\n")

    def names(**env: str) -> tuple[set[str], list]:
        data = _plugins_json(env_with(root, **env))
        return {r["name"] for r in data["plugins"]}, data["broken"]

    everything, broken = names()
    assert "toy" in everything and broken
    only_builtins, broken = names(JRE_LOAD_PLUGINS="")
    assert "toy" not in only_builtins and not broken
    allowed, broken = names(JRE_LOAD_PLUGINS="jre-bench-toy")
    assert "toy" in allowed and not broken
    denied, broken = names(JRE_DISABLE_PLUGINS="jre-broken")
    assert "toy" in denied and not broken


def test_builtins_can_be_disabled_by_module_name(tmp_path: Path) -> None:
    data = _plugins_json({})
    if not data["plugins"]:
        pytest.skip("no built-in plugin registered yet")
    first = data["plugins"][0]
    short = first["plugin"].removeprefix("jre.plugins.")
    after = _plugins_json({"JRE_DISABLE_PLUGINS": short})
    assert first["plugin"] not in {r["plugin"] for r in after["plugins"]}


def test_in_process_lookup_and_aliases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from jre.errors import PluginError
    from jre.plugin_manager import build_plugin_set

    make_dist(tmp_path / "site", "jre-bench-toy", "jre_bench_toy", GOOD_BENCHMARK)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    plugins = build_plugin_set()
    assert plugins.get("benchmark", "toy") is plugins.get("benchmark", "toy-alias")
    with pytest.raises(PluginError, match="unknown benchmark 'nope'; available: .*toy"):
        plugins.get("benchmark", "nope")
    sys.modules.pop("jre_bench_toy", None)


def test_register_commands_adds_a_cli_command(tmp_path: Path) -> None:
    source = """
import click
from jre import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("who")
    def hello(who):
        "Say hello."
        click.echo(f"hello {who}")
"""
    root = make_dist(tmp_path / "site", "jre-hello", "jre_hello", source)
    result = run_jre("hello", "world", env=env_with(root))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello world"


def test_register_commands_that_raises_leaves_every_other_command_working(tmp_path: Path) -> None:
    source = """
from jre import hookimpl

@hookimpl
def register_commands(cli):
    raise RuntimeError("no commands today")
"""
    root = make_dist(tmp_path / "site", "jre-cmdfail", "jre_cmdfail", source)
    env = env_with(root)
    for args in (("plugins",), ("--help",), ("recipe", "--help")):
        result = run_jre(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        warning = result.stderr.strip().splitlines()
        assert len(warning) == 1 and "jre_cmdfail" in warning[0] and "no commands today" in warning[0]
    data = json.loads(run_jre("plugins", "--json", env=env).stdout)
    assert [b["plugin"] for b in data["broken"]] == ["jre_cmdfail"]


def test_descriptions_are_not_rich_markup(tmp_path: Path) -> None:
    source = GOOD_BENCHMARK.replace('"a toy benchmark"', '"a toy [bold]benchmark[/bold] (install jre[vllm])"')
    root = make_dist(tmp_path / "site", "jre-bench-toy", "jre_bench_toy", source)
    result = run_jre("plugins", "--kind", "benchmark", env={**env_with(root), "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert "a toy [bold]benchmark[/bold] (install jre[vllm])" in result.stdout
