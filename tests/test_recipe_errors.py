"""Every user error in a recipe is one line ``FILE[:LINE]: dotted.field: message``, exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import run_jre
from plugin_dists import GOOD_BENCHMARK, env_with, make_dist

TOY_ENGINE = GOOD_BENCHMARK + """
from jre.kinds import Engine

class ToyEngineConfig(StrictModel):
    model: str | None = None
    batch_size: int = 1

class ToyEngine(Engine):
    name = "toy-engine"
    config_model = ToyEngineConfig

@hookimpl
def register_engines(register):
    register(ToyEngine())
"""

HEAD = 'schema_version = 1\nname = "t"\n'
EVAL = HEAD + '[eval]\nengine = "toy-engine"\n'

# (case id, recipe text, expected field, expected message fragment, expected line or None)
CASES = [
    ("toml-syntax", HEAD + 'description = "unterminated\n', None, "TOML syntax error", 3),
    ("toml-duplicate-key", HEAD + 'name = "again"\n', None, "TOML syntax error", 3),
    ("missing-schema-version", 'name = "t"\n', "schema_version", "required key is missing", None),
    ("wrong-schema-version", 'schema_version = 2\nname = "t"\n', "schema_version", "Input should be 1", 1),
    ("unknown-top-level-key", HEAD + 'nmae = "x"\n', "nmae", "unknown key", 3),
    ("bad-name-pattern", 'schema_version = 1\nname = "a/b"\n', "name", "should match pattern", 2),
    ("missing-name", "schema_version = 1\n", "name", "required key is missing", None),
    ("run-dir-type", HEAD + "run_dir = 3\n", "run_dir", "valid string", 3),
    ("seed-type", HEAD + 'seed = "zero"\n', "seed", "valid integer", 3),
    ("factor-table-value", HEAD + "[factors]\nchat = { a = 1 }\n", "factors.chat", "", 4),
    ("train-wrong-type", HEAD + '[train]\nbase_model = "m"\nlearning_rate = "fast"\n',
     "train.learning_rate", "valid number", 5),
    ("train-unknown-key", HEAD + '[train]\nbase_model = "m"\nlr = 0.1\n', "train.lr", "unknown key", 5),
    ("report-title-type", HEAD + "[report]\ntitle = 5\n", "report.title", "valid string", 4),
    ("unknown-engine", HEAD + '[eval]\nengine = "nope"\nbenchmarks = ["toy"]\n', "eval.engine.name",
     "unknown engine 'nope'; available: ", 4),
    ("unknown-benchmark", EVAL + 'benchmarks = ["toy", "nope"]\n', "eval.benchmarks[1].name",
     "unknown benchmark 'nope'; available: ", 5),
    ("benchmark-option-type", EVAL + 'benchmarks = [{ name = "toy", limit = "ten" }]\n',
     "eval.benchmarks[0].limit", "valid integer", 5),
    ("benchmark-option-range", EVAL + 'benchmarks = [{ name = "toy", limit = 0 }]\n',
     "eval.benchmarks[0].limit", "greater than 0", 5),
    ("benchmark-unknown-option", EVAL + 'benchmarks = [{ name = "toy", limt = 3 }]\n',
     "eval.benchmarks[0].limt", "unknown key", 5),
    ("engine-option-type", HEAD + '[eval]\nbenchmarks = ["toy"]\n[eval.engine]\nname = "toy-engine"\n'
     'batch_size = "big"\n', "eval.engine.batch_size", "valid integer", 7),
    ("stage-not-a-table", HEAD + 'train = "yes"\n', "train", "", 3),
    ("judge-unknown-engine", EVAL + 'benchmarks = [{ name = "mt_bench_en", judge = { name = "nope" } }]\n',
     "eval.benchmarks[0].judge", "unknown engine 'nope'; available: ", 5),
    ("judge-engine-option", EVAL + 'benchmarks = [{ name = "mt_bench_en", judge = { name = "openai", '
     'modle = "gpt-4o" } }]\n', "eval.benchmarks[0].judge", "judge engine 'openai': modle: Extra inputs", 5),
]


@pytest.fixture(scope="module")
def toy_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = make_dist(tmp_path_factory.mktemp("site"), "jre-toy", "jre_toy", TOY_ENGINE)
    return env_with(root)


def _assert_one_line_error(result, path: Path, field: str | None, fragment: str,
                           line: int | None) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    message = lines[0]
    head = f"{path}:{line}: " if line else f"{path}"
    assert message.startswith(head), (message, head)
    if field:
        assert re.match(rf"^{re.escape(str(path))}(:\d+)?: {re.escape(field)}: ", message), message
    assert fragment in message
    return message


@pytest.mark.parametrize("case,text,field,fragment,line", CASES, ids=[c[0] for c in CASES])
def test_malformed_recipe(tmp_path: Path, toy_env: dict[str, str], case: str, text: str,
                          field: str | None, fragment: str, line: int | None) -> None:
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    result = run_jre("recipe", "check", str(path), env=toy_env)
    _assert_one_line_error(result, path, field, fragment, line)


def test_missing_recipe_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    result = run_jre("recipe", "check", str(path))
    _assert_one_line_error(result, path, None, "no such recipe file", None)


def test_recipe_is_a_directory(tmp_path: Path) -> None:
    result = run_jre("recipe", "check", str(tmp_path))
    _assert_one_line_error(result, tmp_path, None, "cannot read recipe", None)


def test_recipe_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(HEAD.encode() + b'description = "caf\xe9"\n')
    result = run_jre("recipe", "check", str(path))
    _assert_one_line_error(result, path, None, "cannot read recipe", None)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(HEAD + 'nmae = "x"\n')
    result = run_jre("--debug", "recipe", "check", str(path))
    assert result.returncode != 0 and "Traceback" in result.stderr and "UserError" in result.stderr


def test_every_problem_is_its_own_line(tmp_path: Path, toy_env: dict[str, str]) -> None:
    path = tmp_path / "many.toml"
    path.write_text(EVAL + 'benchmarks = [\n  "toy",\n  { name = "toy", limt = 3 },\n  "nope",\n]\n',
                    encoding="utf-8")
    result = run_jre("recipe", "check", str(path), env=toy_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"{path}:7: eval.benchmarks[1].limt: unknown key",
        f"{path}:8: eval.benchmarks[2].name: " + result.stderr.split("eval.benchmarks[2].name: ")[1].strip(),
    ]
    assert "unknown benchmark 'nope'" in result.stderr

    path.write_text(HEAD + 'nmae = 1\nseed = "x"\n', encoding="utf-8")
    result = run_jre("recipe", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}:3: nmae: unknown key",
        f"{path}:4: seed: Input should be a valid integer, unable to parse string as an integer",
    ]


# Lines inside arrays, inline tables and arrays of tables (each key sits on its own line, so the
# reported line must be exactly that line, not the table's or a later one that shares the key).
LINE_CASES = [
    ("array-element", EVAL + 'benchmarks = [\n  "toy",\n  "toy",\n  { name = "toy", limit = "x" },\n]\n',
     "eval.benchmarks[2].limit", 8),
    ("inline-engine", HEAD + '[eval]\nbenchmarks = ["toy"]\nengine = { name = "toy-engine", batch_size = "b" }\n'
     '[train]\nbase_model = "m"\nmicro_batch_size = 1\n', "eval.engine.batch_size", 5),
    ("same-key-later", HEAD + '[train]\nbase_model = "m"\n[eval]\nengine = "toy-engine"\n'
     'benchmarks = ["toy"]\n[report]\ntitle = 5\n', "report.title", 9),
]


@pytest.mark.parametrize("case,text,field,line", LINE_CASES, ids=[c[0] for c in LINE_CASES])
def test_reported_line_is_the_key_line(tmp_path: Path, toy_env: dict[str, str], case: str, text: str,
                                       field: str, line: int) -> None:
    path = tmp_path / f"{case}.toml"
    path.write_text(text, encoding="utf-8")
    result = run_jre("recipe", "check", str(path), env=toy_env)
    _assert_one_line_error(result, path, field, "", line)


def test_key_lines_of_every_toml_construct() -> None:
    from jre.toml_lines import key_lines

    text = ('a = 1 # c\n[t]\ns = """x\n]y"""\nl = [\n  1,\n  { k = "}" },\n  [\'q\', "]"],\n]\n'
            '[[arr]]\nname = "one"\n[[arr]]\nx."y z" = 2\n')
    lines = key_lines(text)
    assert lines[("a",)] == 1 and lines[("t",)] == 2 and lines[("t", "s")] == 3
    assert lines[("t", "l", 0)] == 6 and lines[("t", "l", 1, "k")] == 7 and lines[("t", "l", 2, 1)] == 8
    assert lines[("arr", 0, "name")] == 11 and lines[("arr", 1)] == 12 and lines[("arr", 1, "x", "y z")] == 13


def test_valid_recipe_checks_and_shows_resolved_defaults(tmp_path: Path, toy_env: dict[str, str]) -> None:
    import json

    path = tmp_path / "ok.toml"
    path.write_text(EVAL + 'benchmarks = [{ name = "toy", limit = 5 }]\n[train]\nbase_model = "m"\n'
                    '[[mix.components]]\nname = "all"\ncount = 4\nsource = "triples.jsonl"\n')
    check = run_jre("recipe", "check", str(path), env=toy_env)
    assert check.returncode == 0, check.stderr
    assert "ok" in check.stdout and "mix, train, eval" in check.stdout
    show = run_jre("recipe", "show", str(path), "--json", env=toy_env)
    assert show.returncode == 0, show.stderr
    resolved = json.loads(show.stdout)
    as_toml = run_jre("recipe", "show", str(path), env=toy_env)
    assert as_toml.returncode == 0, as_toml.stderr
    shown = tmp_path / "shown.toml"  # TOML output is a recipe again: the same, fully resolved
    shown.write_text(as_toml.stdout, encoding="utf-8")
    again = run_jre("recipe", "show", str(shown), "--json", env=toy_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == resolved
    assert "null" not in as_toml.stdout and "None" not in as_toml.stdout
    assert resolved["eval"]["benchmarks"][0] == {"name": "toy", "limit": 5, "split": "test"}
    assert resolved["eval"]["engine"]["batch_size"] == 1
    assert resolved["train"]["learning_rate"] == 1.5e-5


def test_show_leaves_out_what_does_not_apply(tmp_path: Path, toy_env: dict[str, str]) -> None:
    import json

    (tmp_path / "seeds.jsonl").write_text('{"id": "1", "q": "What is 12 + 30 in total?"}\n')
    path = tmp_path / "synth.toml"
    path.write_text('schema_version = 1\nname = "s"\n[synth.datasets.en]\nteacher = { name = "arith" }\n'
                    'seeds = { loader = "file", path = "seeds.jsonl", fields = { instruction = "q" } }\n'
                    '[synth.datasets.ja]\nteacher = { name = "arith" }\ntranslate_from = "en"\n'
                    'translator = { name = "arith" }\nlang = "ja"\n')
    show = run_jre("recipe", "show", str(path), "--json", env=toy_env)
    assert show.returncode == 0, show.stderr
    datasets = json.loads(show.stdout)["synth"]["datasets"]
    seeds = datasets["en"]["seeds"]
    assert seeds["path"] == "seeds.jsonl" and seeds["fields"] == {"instruction": "q"}
    for ignored in ("streaming", "shuffle_buffer", "languages", "mix", "split", "reasoning",
                    "code_questions"):
        assert ignored not in seeds, ignored
    assert "translate_prompt" not in datasets["en"] and "min_japanese_share" not in datasets["en"]
    assert datasets["ja"]["translate_retries"] == 2 and "{text}" in datasets["ja"]["translate_prompt"]
    assert "disjoint_from" not in datasets["ja"]
    as_toml = run_jre("recipe", "show", str(path), env=toy_env).stdout
    assert "streaming" not in as_toml and "languages" not in as_toml
