"""The synth stage end to end: real `jre synth` subprocesses against the loopback server."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import run_jre
from openai_server import ServerProcess

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
REPO = Path(__file__).resolve().parent.parent


def _recipe(tmp: Path, body: str, name: str = "synthtest") -> Path:
    path = tmp / "recipe.toml"
    path.write_text(f'schema_version = 1\nname = "{name}"\nrun_dir = "run"\n{body}', encoding="utf-8")
    return path


def _engine(url: str, **extra) -> str:
    opts = {"name": "openai", "model": "teacher", "base_url": url, "timeout": 1.0,
            "backoff_base": 0.02, **extra}
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in opts.items()) + " }"


def _seed_file(tmp: Path, n: int) -> Path:
    path = tmp / "seeds.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"qid": f"s{i:04d}", "text": f"Question number {i}: what is {i} + 1?"}) + "\n")
    return path


def _lines(folder: Path) -> list[str]:
    return [line for p in sorted(folder.glob("*.jsonl")) for line in p.read_text(encoding="utf-8").splitlines(True)]


def _ids(folder: Path) -> list[str]:
    lines = _lines(folder)
    assert all(line.endswith("\n") for line in lines)  # nothing torn
    return [json.loads(line)["id"] for line in lines]


def _manifest(run: Path, dataset: str) -> dict:
    return json.loads((run / "synth" / dataset / "manifest.json").read_text())


@pytest.fixture(scope="module")
def server():
    with ServerProcess(hang=5) as s:
        yield s


def test_synth_translate_and_replay(tmp_path, server):
    recipe = _recipe(tmp_path, f"""
[synth.datasets.stem]
teacher = "r1"
samples = 2
engine = {_engine(server.base_url)}
seeds = {{ loader = "nemotron", path = "{FIXTURES / 'nemotron'}", count = 10 }}
margin = 0

[synth.datasets.stem_ja]
teacher = "r1"
translate_from = "stem"
lang = "ja"
engine = {_engine(server.base_url)}

[synth.datasets.replayed]
teacher = {{ name = "replay", label = "r1" }}
seeds = {{ loader = "nemotron", path = "{FIXTURES / 'nemotron'}" }}
""")
    result = run_jre("synth", str(recipe), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    ids = _ids(run / "synth" / "stem" / "shards")
    assert len(ids) == len(set(ids)) == 20
    m = _manifest(run, "stem")
    assert m["status"] == "complete"
    assert m["counts"]["triples"] == 20 and m["counts"]["unclosed_share"] == 0.0
    assert m["counts"]["mean_trace_response_tokens"] > 5
    en = [json.loads(x) for x in _lines(run / "synth" / "stem" / "shards")]
    assert Counter(t["meta"]["sample"] for t in en) == {0: 10, 1: 10}
    assert {t["meta"]["split"] for t in en} == {"code", "math", "stem"}
    ja = [json.loads(x) for x in _lines(run / "synth" / "stem_ja" / "shards")]
    assert len(ja) == 10 and all(t["lang_in"] == "ja" and t["instruction"].startswith("【訳】") for t in ja)
    en_by_seed = {t["meta"]["seed_id"]: t["instruction"] for t in en}
    for t in ja:  # every Japanese instruction keeps its English source id
        assert t["meta"]["source_id"] == t["meta"]["seed_id"]
        assert t["instruction"] == "【訳】" + en_by_seed[t["meta"]["source_id"]].splitlines()[-1]
    replayed = [json.loads(x) for x in _lines(run / "synth" / "replayed" / "shards")]
    assert len(replayed) == 32 and all(t["trace"].startswith("Let me work on item") for t in replayed)
    again = run_jre("synth", str(recipe), cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stderr
    assert len(_ids(run / "synth" / "stem" / "shards")) == 20


def test_500_requests_with_20_percent_faults(tmp_path):
    seeds = _seed_file(tmp_path, 500)
    with ServerProcess(fault_rate=0.2, seed=3, hang=5, retry_after=0.02) as faulty:
        recipe = _recipe(tmp_path, f"""
[synth.datasets.faulty]
teacher = "r1"
engine = {_engine(faulty.base_url, timeout=0.5, max_retries=12)}
seeds = {{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}
""")
        result = run_jre("synth", str(recipe), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        injected = faulty.stats()
    ids = _ids(tmp_path / "run" / "synth" / "faulty" / "shards")
    assert len(ids) == len(set(ids)) == 500
    counts = _manifest(tmp_path / "run", "faulty")["counts"]
    faults = sum(injected[k] for k in ("429", "500", "timeout", "malformed", "drop"))
    assert faults >= 50 and counts["retries"] == faults and counts["triples"] == 500
    assert counts["errors"] == {"429": injected["429"], "500": injected["500"], "timeout": injected["timeout"],
                                "malformed": injected["malformed"], "connection": injected["drop"]}


def test_sigkill_at_five_random_points_then_resume(tmp_path, server):
    seeds = _seed_file(tmp_path, 300)
    rng = random.Random(int(time.time()))

    def body(url: str) -> str:
        return f"""
[synth]
commit_every = 3
[synth.datasets.kill]
teacher = "r1"
samples = 2
engine = {_engine(url, concurrency=8)}
seeds = {{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}
"""

    # The ids depend on teacher, seeds and samples only: a fast uninterrupted run gives the set.
    reference = tmp_path / "reference"
    reference.mkdir()
    assert run_jre("synth", str(_recipe(reference, body(server.base_url))), cwd=reference).returncode == 0
    expected = set(_ids(reference / "run" / "synth" / "kill" / "shards"))
    assert len(expected) == 600

    work = tmp_path / "killed"
    work.mkdir()
    shards = work / "run" / "synth" / "kill" / "shards"
    with ServerProcess(latency=0.2) as slow:  # 8 in flight: ~40 requests/s, ~7 s of work
        recipe = _recipe(work, body(slow.base_url))
        counts = []
        for _ in range(5):
            proc = subprocess.Popen([sys.executable, "-c", "from jre.cli import main; main()", "synth",
                                     str(recipe)], cwd=work, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=os.environ.copy())
            # Kill at a random moment after this attempt has written something (start-up
            # time varies with the machine's load, so a fixed delay may land before any work).
            before, deadline = (counts[-1] if counts else 0), time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline and (
                    len(_lines(shards)) if shards.exists() else 0) <= before:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            counts.append(len(_lines(shards)) if shards.exists() else 0)
        final = run_jre("synth", str(recipe), cwd=work)
        assert final.returncode == 0, final.stderr
    ids = _ids(shards)
    assert len(ids) == len(set(ids)), "duplicates after resume"
    assert set(ids) == expected
    assert counts == sorted(counts) and 0 < counts[-1] < 600, counts  # every kill hit mid-run


def test_shards_split_the_work(tmp_path, server):
    seeds = _seed_file(tmp_path, 30)
    recipe = _recipe(tmp_path, f"""
[synth.datasets.split]
teacher = "oss-h"
engine = {_engine(server.base_url)}
seeds = {{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}
""")
    for part in ("0/2", "1/2"):
        assert run_jre("synth", str(recipe), "--shard", part, cwd=tmp_path).returncode == 0
    shards = tmp_path / "run" / "synth" / "split" / "shards"
    per_file = {p.name: len(p.read_text().splitlines()) for p in shards.glob("*.jsonl")}
    assert per_file == {"worker-000-of-002.jsonl": 15, "worker-001-of-002.jsonl": 15}
    assert (tmp_path / "run" / "synth" / "split" / "part-001-of-002" / "manifest.json").exists()
    whole = run_jre("synth", str(recipe), cwd=tmp_path)  # nothing left to do for the whole job
    assert whole.returncode == 0 and "30 done, 0 to do" in whole.stderr
    assert _manifest(tmp_path / "run", "split")["counts"]["triples"] == 30
    bad = run_jre("synth", str(recipe), "--shard", "2/2", cwd=tmp_path)
    assert bad.returncode == 2


def test_hf_engine_synth_on_a_tiny_model(tmp_path, tiny_model):
    recipe = _recipe(tmp_path, f"""
[synth.datasets.tiny]
teacher = {{ name = "r1", max_tokens = 8, seed = 1 }}
engine = {{ name = "hf", model = "{tiny_model}", batch_size = 4 }}

[synth.datasets.tiny.seeds]
loader = "file"
path = "{FIXTURES / 'custom.jsonl'}"
fields = {{ id = "qid", instruction = "body.text" }}
""")
    result = run_jre("synth", str(recipe), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    triples = [json.loads(x) for x in _lines(tmp_path / "run" / "synth" / "tiny" / "shards")]
    assert len(triples) == 6
    assert all(t["completion_tokens"] <= 8 and t["teacher"] == "r1" for t in triples)


def _one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_bad_inputs_are_one_clear_line(tmp_path, server):
    seeds = _seed_file(tmp_path, 3)
    seed_spec = f'{{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}'

    def synth(engine: str, spec: str = seed_spec, env=None):
        recipe = _recipe(tmp_path, f'[synth.datasets.d]\nteacher = "r1"\nengine = {engine}\nseeds = {spec}\n')
        return run_jre("synth", str(recipe), cwd=tmp_path, env=env)

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    line = _one_error_line(synth(_engine(dead)))
    assert dead in line and "reach" in line
    line = _one_error_line(synth(_engine(server.base_url, model="no-such-model")))
    assert "no-such-model" in line and server.base_url in line
    env = {k: v for k, v in os.environ.items() if k != "JRE_MISSING_KEY"}
    line = _one_error_line(synth(_engine(server.base_url, api_key_env="JRE_MISSING_KEY"), env=env))
    assert "JRE_MISSING_KEY" in line
    spec = f'{{ loader = "file", path = "{seeds}", fields = {{ instruction = "question" }} }}'
    line = _one_error_line(synth(_engine(server.base_url), spec))
    assert "'question'" in line and "seeds.jsonl" in line


@pytest.mark.parametrize("name", ["synth.toml", "replay.toml"])
def test_paper_recipe_checks(name):
    result = run_jre("recipe", "check", str(REPO / "recipes" / "paper" / name))
    assert result.returncode == 0, result.stderr + result.stdout
