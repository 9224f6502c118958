"""Every hook is documented, with its signature and an example."""

from __future__ import annotations

import inspect
import re
import sys
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


def _example_plugins():
    import types

    from jre.plugin_manager import build_plugin_set

    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    modules = []
    for i, block in enumerate(blocks):
        if "register_commands" in block:
            continue  # adds a command to the CLI, tested with the CLI
        module = types.ModuleType(f"hooks_doc_example_{i}")
        sys.modules[module.__name__] = module  # as for any imported plugin (dataclasses look there)
        exec(compile(block, f"docs/hooks.md block {i}", "exec", dont_inherit=True), module.__dict__)
        modules.append(module)
    return build_plugin_set(extra_modules=tuple(modules))


def test_offline_teacher_example_replays_with_its_own_options() -> None:
    shout = _example_plugins().get("teacher", "shout")
    settings = shout.settings(shout.parse_config({"exclaim": 2}))
    gen = shout.replay(settings, "yes")
    assert gen.content == "YES!!" and gen.think_closed and "'yes'" in gen.reasoning
    assert shout.replay(settings, None) is None
    assert settings.identity() != shout.settings(None).identity()  # other options, other triple ids
    triple = shout.triple(settings, triple_id="t1", instruction="ok?", generation=gen, lang_in="en",
                          domain="chat", source="docs")
    assert triple.teacher == "shout" and triple.response == "YES!!" and triple.lang_trace == "en"


def test_mixer_example_writes_the_dataset_contract(tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    from jre.kinds.mixer import MIX_COLUMNS, MixContext

    source = tmp_path / "triples.jsonl"
    source.write_text("".join(json.dumps({"id": f"t{i}", "instruction": f"q{i}", "trace": "think",
                                          "response": f"a{i}", "lang_in": "en", "teacher": "r1"}) + "\n"
                              for i in range(3)), encoding="utf-8")
    mixer = _example_plugins().get("mixer", "everything")
    result = mixer.mix(mixer.parse_config({"path": str(source)}),
                       MixContext(recipe=None, store=None, out_dir=tmp_path / "out"))
    table = pq.read_table(tmp_path / "out" / "part-00000.parquet")
    assert result.counts == {"rows": 3} and tuple(table.column_names) == MIX_COLUMNS
    row = table.to_pylist()[1]
    assert row["messages"][1]["content"] == "<think>\nthink\n</think>\n\na1" and row["component"] == "everything"


def test_analysis_example_makes_its_table_and_figure() -> None:
    import pandas as pd

    from jre.kinds.analysis import AnalysisInputs, results_frame

    results = results_frame([{"run": r, "benchmark": b, "failure_rate": f}
                             for r, b, f in [("1", "x", 0.1), ("1", "y", 0.3), ("2", "x", 0.5), ("2", "y", 0.7)]])
    factors = pd.DataFrame({"run": ["1", "2"], "verbose": [False, True]})
    analysis = _example_plugins().get("analysis", "mean_failure")
    output = analysis.run(None, AnalysisInputs(results=results, factors=factors))
    assert output.tables["means"].set_index("benchmark")["failure_rate"].round(3).to_dict() == {"x": 0.3, "y": 0.5}
    assert output.figures["failure_vs_factors"].startswith(b"\x89PNG")
    (section,) = output.sections
    assert (section.table, section.figure, section.order) == ("means", "failure_vs_factors", 32)
    assert output.factor_columns["mean failure"] == {"1": 0.2, "2": 0.6}


def test_examples_register_working_plugins() -> None:
    """Each complete example in docs/hooks.md registers through the real plugin manager."""
    from jre.records import ChatRequest

    expected = {"echo": "engine", "my-teacher": "teacher", "shout": "teacher", "everything": "mixer",
                "quiz": "benchmark", "mean_failure": "analysis"}
    plugins = _example_plugins()
    for name, kind in expected.items():
        assert plugins.get(kind, name).name == name
    assert plugins.get("teacher", "mine").name == "my-teacher"
    engine = plugins.get("engine", "echo")
    client = engine.load(None)
    [(_, [gen])] = list(client.generate([ChatRequest(id="x", messages=[{"role": "user", "content": "hi"}])]))
    assert gen.reasoning == "echo" and gen.content == "hi" and gen.think_closed


def test_judged_two_turn_example_runs_through_the_eval_stage(tmp_path: Path) -> None:
    """The conversation + judge example, end to end: the docs' echo engine answers, the
    offline rubric_judge grades with FastChat's single-v1 prompt (no reference: 5 of 10)."""
    import json
    import shutil

    import jre.plugin_manager as pm
    from jre.run import execute
    from jre.testing import tmp_run

    prompts = tmp_path / "judge_prompts.jsonl"
    shutil.copy(Path(pm.__file__).parents[1] / "plugins" / "benchmarks" / "data"
                / "mt_bench_judge_prompts.jsonl", prompts)
    rows = [{"id": "a", "category": "writing", "turns": ["Say hi.", "Say it again."]}]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_run(tmp_path, 'schema_version = 1\nname = "docs"\nrun_dir = "run"\n[eval]\n'
                  'engine = { name = "echo", model = "echo" }\n'
                  'benchmarks = [{ name = "followup", path = "chat.jsonl", prompts = "'
                  + str(prompts) + '", n = 2, judge = { name = "rubric_judge" } }]\n',
                  plugins=_example_plugins())
    execute(run, ["eval"])
    out = tmp_path / "run" / "eval" / "followup"
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 0.5 and results["scores_by_category"] == {"writing": 0.5}
    assert results["judge"]["judgments"] == 4 and results["judge"]["failures"] == 0
    second = [json.loads(line) for line in (out / "details.jsonl").read_text().splitlines()
              if json.loads(line)["id"] == "a#1"][0]["turns"][1]["messages"]
    assert second == [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Say hi."},
                      {"role": "user", "content": "Say it again."}]


def test_testing_example_runs(tmp_path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    block = next(b for b in blocks if "jre.testing" in b)
    namespace: dict[str, object] = {"__name__": "hooks_doc_testing_example"}
    exec(compile(block, "docs/hooks.md testing block", "exec", dont_inherit=True), namespace)
    namespace["test_benchmark_on_a_scripted_engine"](tmp_path)  # type: ignore[operator]
