"""Every response shape real servers send gets the right closed/unclosed verdict.

The shapes (tests/fixtures/response_shapes.json) are parsed directly and sent through the
``openai`` engine by the loopback server; docs/failure-rate.md must show each with the
same verdict. Decoding with jre's own tiny tokenizer (which marks the think tags special)
must keep the tags.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jre.reasoning import generation_from_message, split_think
from openai_server import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
SHAPES_FILE = ROOT / "tests" / "fixtures" / "response_shapes.json"
SHAPES = json.loads(SHAPES_FILE.read_text(encoding="utf-8"))["shapes"]
IDS = [s["name"] for s in SHAPES]


def _check(gen, shape) -> None:
    expect = shape["expect"]
    assert gen.think_closed is expect["think_closed"], shape["case"]
    assert gen.reasoning == expect["reasoning"]
    assert gen.content == expect["content"]
    assert gen.split_by == expect["split_by"]
    assert gen.finish_reason == shape["choice"]["finish_reason"]


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_shape_verdict(shape) -> None:
    choice = shape["choice"]
    engine = shape["engine"]
    stop = choice.get("stop_reason", choice.get("matched_stop"))
    gen = generation_from_message(choice["message"], prefilled=bool(engine["prefilled_think"]),
                                  finish_reason=choice["finish_reason"], stop_reason=stop,
                                  reasoning_format=engine["reasoning_format"])
    _check(gen, shape)


@pytest.fixture(scope="module")
def recorded_server():
    with ServerProcess(models="teacher", recorded=str(SHAPES_FILE)) as server:
        yield server


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_shape_through_the_openai_engine(recorded_server, shape) -> None:
    from jre.plugin_manager import get_plugins
    from jre.records import ChatRequest

    engine = get_plugins().get("engine", "openai")
    options = {"model": "teacher", "base_url": recorded_server.base_url, "timeout": 5.0,
               **{k: v for k, v in shape["engine"].items() if v is not None}}
    client = engine.load(engine.parse_config(options))
    request = ChatRequest(id="q", messages=[{"role": "user", "content": f"3+4? @rec:{shape['name']}"}])
    [(_, [gen])] = list(client.generate([request]))
    _check(gen, shape)


def test_docs_table_lists_every_shape_with_its_verdict() -> None:
    text = (ROOT / "docs" / "failure-rate.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|.*\| (closed|\*\*unclosed\*\*) \|$",
                                                         text, re.M)}
    assert set(rows) == set(IDS)
    for shape in SHAPES:
        assert (rows[shape["name"]] == "closed") is shape["expect"]["think_closed"], shape["name"]


@pytest.mark.parametrize("text, expected", [
    ("OK.\n<think>\nadd 3 and 4", ("add 3 and 4", None, False)),
    ("OK.\n<think>add</think>\n7", ("add", "7", True)),
    ("The tag <think> opens a trace", (" opens a trace", None, False)),
    ("r</think>a<think>b", ("r", "a<think>b", True)),
])
def test_text_before_think(text, expected) -> None:
    assert split_think(text) == expected


def test_hf_engine_keeps_special_think_tokens(tiny_model: Path, tmp_path: Path) -> None:
    """The tiny tokenizer marks <think>/</think> special; the hf engine's decoding keeps them.
    A sequence bias makes the real tiny model emit </think> first, then EOS."""
    from transformers import AutoTokenizer, GenerationConfig

    from jre.plugin_manager import get_plugins
    from jre.records import ChatRequest, Sampling

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert "</think>" in tok.all_special_tokens and "<think>" in tok.all_special_tokens
    close_id = tok.convert_tokens_to_ids("</think>")
    assert tok.decode([close_id], skip_special_tokens=True) == ""  # what a default decode does

    import shutil

    model_dir = tmp_path / "biased"
    shutil.copytree(tiny_model, model_dir)
    config = GenerationConfig.from_pretrained(tiny_model)
    config.sequence_bias = [[[close_id], 50.0]]
    config.save_pretrained(model_dir)
    engine = get_plugins().get("engine", "hf")
    client = engine.load(engine.parse_config({"model": str(model_dir), "device": "cpu",
                                              "prefilled_think": True}))
    request = ChatRequest(id="a", messages=[{"role": "user", "content": "3+4?"}],
                          sampling=Sampling(n=1, temperature=0.0, max_tokens=3))
    [(_, [gen])] = list(client.generate([request]))
    assert gen.text.startswith("</think>"), gen.text
    assert gen.think_closed and gen.split_by == "text_prefilled"


def test_synth_counts_a_truncated_trace_from_transformers_serve(recorded_server, tmp_path) -> None:
    """transformers serve: reasoning_content set, content "" and finish_reason "length"."""
    from conftest import run_jre

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"qid": f"s{i}", "text": f"Q{i} @rec:{name}"}) + "\n"
                             for i, name in enumerate(["transformers_serve_unclosed"] * 3
                                                      + ["transformers_serve_closed"])),
                     encoding="utf-8")
    engine = (f'{{ name = "openai", model = "teacher", base_url = "{recorded_server.base_url}", '
              f'timeout = 5.0 }}')
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"""schema_version = 1
name = "shapes"
run_dir = "run"

[synth.datasets.d]
teacher = "r1"
engine = {engine}
seeds = {{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}
""", encoding="utf-8")
    proc = run_jre("synth", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads((tmp_path / "run/synth/d/manifest.json").read_text())["counts"]
    assert counts["unclosed"] == 3 and counts["unclosed_share"] == 0.75
    assert counts["split_by"] == {"reasoning_field": 4}
    assert "unclosed 75.0%" in proc.stdout + proc.stderr
