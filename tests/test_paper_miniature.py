"""Every paper recipe end to end on a miniature of its real data.

The recipes of ``recipes/paper`` are run as written except for what a laptop must change:
counts scaled by 1/50,000 (500k → 10, 1.5M → 30, 100k → 2, 50k → 1), seed datasets replaced
by fixture rows in the real schemas (Nemotron v1 with ``code`` placeholders and their
question sets, LMSYS-Chat-1M, the Swallow release), the gpt-oss servers by the scripted
OpenAI-compatible server, the 8B student by a tiny model trained for one step, and the
benchmarks by their fixture files (JamC-QA, WMT20 both ways, MMLU-ProX-Ja, GPQA-Ja,
HellaSwag, MMLU-Pro, GPQA Diamond; MATH-100-Ja, MATH-500, AIME and JHumanEval start grader
and sandbox processes and have their own tests). synth.toml feeds experiments 1–10; replay.toml feeds experiment 10
once more.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from jre.study import toml_dumps
from openai_server import ServerProcess

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "recipes" / "paper"
SYNTH_FIX = Path(__file__).parent / "fixtures" / "synth"
EVAL_FIX = Path(__file__).parent / "fixtures" / "eval"
SCALE = 50_000
CODE_QUESTIONS = {"taco": "taco", "apps": "apps", "code_contests": "code_contests",
                  "open-r1/codeforces": "codeforces"}


# The recipes' benchmarks run here on their fixture rows (one item, one sample each).
MINIATURE_BENCHMARKS = ("jamcqa", "wmt20_en_ja", "wmt20_ja_en", "mmlu_prox_ja", "gpqa_ja",
                        "hellaswag", "mmlu_pro", "gpqa_diamond")


def scaled(count: int) -> int:
    return max(1, count // SCALE)


def _engine(url: str) -> dict[str, Any]:
    # The scripted server answers in <think> form, not Harmony.
    return {"name": "openai", "model": "teacher", "base_url": url, "timeout": 2.0,
            "backoff_base": 0.02, "reasoning_format": "think"}


def _write(data: dict[str, Any], path: Path) -> Path:
    path.write_text(toml_dumps(data), encoding="utf-8")
    return path


def _run(path: Path) -> None:
    from jre.pipeline import run_recipe

    run_recipe(path)


def mini_synth(tmp: Path, url: str) -> Path:
    data = tomllib.loads((PAPER / "synth.toml").read_text(encoding="utf-8"))
    data["run_dir"] = str(tmp / "paper-synth")
    for ds in data["synth"]["datasets"].values():
        if "engine" in ds:
            ds["engine"] = _engine(url)
        seeds = ds.get("seeds")
        if seeds is None:
            continue
        seeds["count"] = scaled(seeds["count"])
        if seeds["loader"] == "nemotron":
            seeds["path"] = str(SYNTH_FIX / "nemotron_v1")
            seeds["code_questions"] = {k: str(SYNTH_FIX / "code_questions" / v) for k, v in CODE_QUESTIONS.items()}
        else:
            seeds["path"] = str(SYNTH_FIX / "lmsys.jsonl")
    _run(_write(data, tmp / "synth.toml"))
    return tmp / "paper-synth"


def mini_replay(tmp: Path) -> Path:
    data = tomllib.loads((PAPER / "replay.toml").read_text(encoding="utf-8"))
    data["run_dir"] = str(tmp / "paper-replay")
    for name, ds in data["synth"]["datasets"].items():
        seeds = ds["seeds"]
        seeds["count"] = scaled(seeds["count"])
        seeds["path"] = (str(SYNTH_FIX / "swallow") if seeds["loader"] == "swallow"
                         else str(SYNTH_FIX / "swallow" / "chat" / f"{name}.jsonl"))
    _run(_write(data, tmp / "replay.toml"))
    return tmp / "paper-replay"


def mini_experiment(n: int, tmp: Path, source_run: Path, tiny_model: Path, tag: str = "") -> Path:
    data = tomllib.loads((PAPER / f"exp{n:02d}.toml").read_text(encoding="utf-8"))
    run_dir = tmp / f"exp{n:02d}{tag}"
    data["run_dir"] = str(run_dir)
    for comp in data["mix"]["components"]:
        comp["count"] = scaled(comp["count"])
        for key in ("source", "sources"):
            if isinstance(comp.get(key), str):
                comp[key] = comp[key].replace("../../runs/paper-synth", str(source_run))
            elif isinstance(comp.get(key), dict):
                comp[key] = {k: v.replace("../../runs/paper-synth", str(source_run)) for k, v in comp[key].items()}
    train = data["train"]
    train.update(base_model=str(tiny_model), max_steps=1, global_batch_size=2, micro_batch_size=1,
                 max_length=1024, dtype="float32", gradient_checkpointing=False, save_steps=1000)
    train.pop("deepspeed", None)
    train.pop("launch", None)
    # math100_ja, math500, aime and jhumaneval start grader / sandbox processes; their own
    # tests run them.
    native = {name: f"{name}.jsonl" for name in MINIATURE_BENCHMARKS}
    benchmarks = []
    for entry in data["eval"]["benchmarks"]:
        if isinstance(entry, str) and entry in native:
            benchmarks.append({"name": entry, "path": str(EVAL_FIX / native[entry]), "limit": 1, "n": 1})
    data["eval"] = {"engine": {"name": "hf", "device": "cpu", "batch_size": 4},
                    "benchmarks": benchmarks, "answer_policy": data["eval"]["answer_policy"],
                    "sampling": {"max_tokens": 4}}
    _run(_write(data, tmp / f"exp{n:02d}{tag}.toml"))
    return run_dir


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    with ServerProcess(hang=5) as server:
        synth = mini_synth(tmp, server.base_url)
    return tmp, synth, mini_replay(tmp)


def _manifest(folder: Path, *parts: str) -> dict[str, Any]:
    return json.loads((folder.joinpath(*parts) / "manifest.json").read_text(encoding="utf-8"))


def test_synth_recipe_on_real_schemas(sources):
    _, synth, _ = sources
    r1 = _manifest(synth, "synth", "stem_r1_en")
    assert r1["counts"]["triples"] == 30 and r1["extra"]["seeds"]["margin"] == 0.0
    assert r1["extra"]["seeds"]["code_rehydrated"] >= 12
    oss = _manifest(synth, "synth", "stem_oss_en")
    assert oss["counts"]["instructions"] == 11  # 10 + 3 %, rounded up
    ids = {name: {json.loads(line)["meta"]["seed_id"] for p in (synth / "synth" / name / "shards").glob("*.jsonl")
                  for line in p.read_text(encoding="utf-8").splitlines()}
           for name in ("stem_r1_en", "stem_oss_en", "stem_oss_h_en")}
    assert ids["stem_oss_en"] == ids["stem_oss_h_en"] and ids["stem_oss_en"] <= ids["stem_r1_en"]  # nested
    triples = [json.loads(line) for p in (synth / "synth" / "stem_oss_en" / "shards").glob("*.jsonl")
               for line in p.read_text(encoding="utf-8").splitlines()]
    assert not any(t["instruction"].strip() == "-" for t in triples)


@pytest.mark.timeout(900)
def test_every_experiment_runs_end_to_end(sources, tiny_model):
    tmp, synth, _ = sources
    table1 = {1: 10, 2: 10, 3: 30, 4: 10, 5: 12, 6: 12, 7: 12, 8: 2, 9: 10, 10: 12}
    for n in range(1, 11):
        run = mini_experiment(n, tmp, synth, tiny_model)
        mix = _manifest(run, "mix")
        assert mix["counts"]["rows"] == table1[n], n
        train = _manifest(run, "train")
        assert train["counts"]["steps"] == 1 and train["counts"]["overlength_policy"] == "drop"
        results = sorted(p.parent.name for p in (run / "eval").glob("*/results.json"))
        assert results == sorted(MINIATURE_BENCHMARKS), (n, results)
    gpqa = json.loads((tmp / "exp01" / "eval" / "gpqa_diamond" / "results.json").read_text())
    assert gpqa["short_name"] == "GPQ" and gpqa["n_items"] == 1


@pytest.mark.timeout(600)
def test_replay_recipe_feeds_an_experiment(sources, tiny_model):
    tmp, _, replay = sources
    for name in ("stem_r1_en", "stem_oss_en", "stem_oss_ja", "stem_oss_h_en", "chat_oss_en", "chat_oss_ja"):
        manifest = _manifest(replay, "synth", name)
        assert manifest["counts"]["triples"] == (30 if name == "stem_r1_en" else 10 if name.startswith("stem") else 2)
        assert any(v.startswith("local ") for v in manifest["extra"]["seeds"]["revisions"].values())
    rows = [json.loads(line) for p in (replay / "synth" / "stem_oss_ja" / "shards").glob("*.jsonl")
            for line in p.read_text(encoding="utf-8").splitlines()]
    assert all(r["trace"].startswith("We need the sum") and r["teacher"] == "oss" for r in rows)
    run = mini_experiment(10, tmp, replay, tiny_model, tag="-replay")
    assert _manifest(run, "mix")["counts"]["component_languages"] == {
        "stem/en": 5, "stem/ja": 5, "chat/en": 1, "chat/ja": 1}
