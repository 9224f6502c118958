"""One execute path: ``jre <stage>`` one by one and ``jre run`` make the same run folder, and
a changed benchmark plugin rescores stored samples instead of saying "up to date"."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from click.testing import CliRunner

from jre.cli import cli
from jre.kinds import Benchmark
from jre.run import execute
from jre.stages import available_stages
from jre.testing import ScriptedEngine, plugin_set, tmp_run

SEEDS = Path(__file__).resolve().parents[1] / "recipes" / "quickstart" / "seeds_en.jsonl.gz"
ANSWER = "<think>add them up</think>The answer is 14."

RECIPE = f"""schema_version = 1
name = "agree"
run_dir = "run"
factors = {{ verbose = 1, trace = 1 }}

[synth.datasets.c_en]
teacher = {{ name = "arith", style = "concise" }}
lang = "en"
domain = "math"

[synth.datasets.c_en.seeds]
loader = "file"
path = "{SEEDS}"
count = 6
fields = {{ id = "id", instruction = "question", response = "problem" }}

[mix]
[[mix.components]]
name = "arith"
count = 5
source = "c_en"

[eval]
engine = {{ name = "scripted", model = "scripted-model", default = "{ANSWER}" }}
bootstrap = 10
benchmarks = [{{ name = "arith_en", count = 4, max_tokens = 32, temperature = 0.0 }}]

[analyze]
analyses = ["scores"]
"""


def _invoke(plugins, *args: str) -> None:
    for stage in available_stages().values():  # what jre.cli.main adds before parsing
        if stage.name not in cli.commands:
            cli.add_command(stage.command())
    result = CliRunner().invoke(cli, list(args), obj=plugins, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _outputs(root: Path) -> dict[str, object]:
    """What a run folder holds, timestamps and the folder's own path left out."""
    found: dict[str, object] = {}
    here = str(root.parent)
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir() or rel.startswith("analyze/scores/inputs/inputs.json"):
            continue
        if path.name == "manifest.json":
            data = json.loads(path.read_text(encoding="utf-8"))
            # timestamps, and input fingerprints (a file's mtime, hashes of files naming the folder)
            for key in ("started", "finished", "inputs"):
                data.pop(key)
            found[rel] = json.dumps(data, sort_keys=True).replace(here, "<folder>")
        elif path.suffix in (".csv", ".toml", ".jsonl", ".md", ".json"):
            found[rel] = path.read_text(encoding="utf-8").replace(here, "<folder>")
        else:
            found[rel] = path.stat().st_size
    return found


def test_stage_by_stage_and_jre_run_make_the_same_run(tmp_path):
    plugins = plugin_set(objects=[ScriptedEngine()])
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "r.toml").write_text(RECIPE, encoding="utf-8")
    for stage in ("synth", "mix", "eval", "analyze"):
        _invoke(plugins, stage, str(one / "r.toml"))
    _invoke(plugins, "run", str(two / "r.toml"))

    first, second = _outputs(one / "run"), _outputs(two / "run")
    assert first.keys() == second.keys()
    assert first == second
    # analyze reads the factors from the recipe copy, which every path writes
    factors = (one / "run" / "analyze" / "scores" / "inputs" / "factors.csv").read_text()
    assert factors.splitlines()[0] == "run,verbose,trace"
    assert (one / "run" / "recipe.toml").read_text() == RECIPE


def test_a_stage_command_checks_its_inputs_first(tmp_path):
    (tmp_path / "r.toml").write_text(RECIPE.replace("[analyze]\nanalyses = [\"scores\"]\n", "")
                                     + '\n[train]\nbase_model = "tiny"\n', encoding="utf-8")
    with_commands = plugin_set(objects=[ScriptedEngine()])
    _invoke(with_commands, "--help")
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "r.toml")], obj=with_commands)
    assert result.exit_code == 2
    assert "run `jre mix` first" in result.output


BENCH = '''
from jre import hookimpl
from jre.kinds.benchmark import Item
from jre.plugins.benchmarks.arith import ArithEn


class Shifted(ArithEn):
    """Scores every answer right once FIXED (a stand-in for a fixed extract)."""

    name = "shifted"

    def extract(self, text, item, config):
        return self.reference(item) if FIXED else None


@hookimpl
def register_benchmarks(register):
    register(Shifted())
'''


def _bench_module(folder: Path, fixed: bool):
    (folder / "shifted_bench.py").write_text(f"FIXED = {fixed}\n" + BENCH, encoding="utf-8")
    sys.modules.pop("shifted_bench", None)
    importlib.invalidate_caches()
    return importlib.import_module("shifted_bench")


def test_a_changed_benchmark_rescores_stored_samples_without_generating(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    recipe = RECIPE.split("[synth")[0] + """
[eval]
engine = { name = "scripted", model = "m", default = "<think>t</think>The answer is 14." }
bootstrap = 10
benchmarks = [{ name = "shifted", count = 4, max_tokens = 32, temperature = 0.0 }]
"""
    engine = ScriptedEngine()
    run = tmp_run(tmp_path, recipe, plugins=plugin_set(_bench_module(tmp_path, False), objects=[engine]))
    execute(run, ["eval"])
    results = tmp_path / "run" / "eval" / "shifted" / "results.json"
    assert json.loads(results.read_text())["score"] == 0.0  # the broken extract finds no answer
    served = len(engine.requests)
    assert served == 4

    run = tmp_run(tmp_path, recipe, plugins=plugin_set(_bench_module(tmp_path, False), objects=[engine]))
    execute(run, ["eval"])
    assert len(engine.requests) == served  # unchanged code: up to date

    fixed = plugin_set(_bench_module(tmp_path, True), objects=[engine])
    assert fixed.versions(fixed.get(Benchmark, "shifted")) != run.plugins.versions(
        run.plugins.get(Benchmark, "shifted"))
    execute(tmp_run(tmp_path, recipe, plugins=fixed), ["eval"])
    assert len(engine.requests) == served  # nothing generated again
    scores = [json.loads(line)["score"] for line in
              (tmp_path / "run" / "eval" / "shifted" / "details.jsonl").read_text().splitlines()]
    assert scores == [1.0] * 4
    assert json.loads(results.read_text())["score"] == 1.0
    manifest = json.loads((tmp_path / "run" / "eval" / "shifted" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["plugins"] == fixed.versions(fixed.get(Benchmark, "shifted"))


def test_every_stage_is_known_to_the_run():
    assert list(available_stages()) == ["synth", "mix", "train", "eval", "analyze", "report"]


class _Exploding(ScriptedEngine):
    """Answers, then fails mid-benchmark the way a crashing server client would."""

    name = "exploding"

    def load(self, config):  # type: ignore[no-untyped-def]
        client = super().load(config)
        generate = client.generate

        def broken(requests):  # type: ignore[no-untyped-def]
            for i, pair in enumerate(generate(requests)):
                if i == 2:
                    raise RuntimeError("connection reset by peer")
                yield pair

        client.generate = broken
        return client


def test_a_stage_that_raises_leaves_a_failed_manifest_not_a_running_one(tmp_path: Path) -> None:
    import pytest

    plugins = plugin_set(objects=[_Exploding()])
    text = RECIPE.replace('name = "scripted"', 'name = "exploding"')
    (tmp_path / "run" / "mix").mkdir(parents=True)  # eval alone: the model is the scripted one
    run = tmp_run(tmp_path, text, plugins=plugins)
    with pytest.raises(RuntimeError, match="connection reset"):
        execute(run, ["eval"], check=False)
    manifest = json.loads((tmp_path / "run" / "eval" / "arith_en" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert manifest["extra"]["error"] == "RuntimeError: connection reset by peer"
    assert manifest["finished"]
