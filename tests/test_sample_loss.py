"""No silent sample loss: a server that ignores `n`, and requests that fail for good.

Real `jre synth` / `jre eval` runs against the loopback server (tests/openai_server.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_jre
from openai_server import ServerProcess


def _engine(url: str, **extra) -> str:
    opts = {"name": "openai", "model": "teacher", "base_url": url, "timeout": 2.0,
            "backoff_base": 0.02, "max_retries": 2, **extra}
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in opts.items()) + " }"


def _seeds(tmp: Path, questions: list[str]) -> Path:
    path = tmp / "seeds.jsonl"
    path.write_text("".join(json.dumps({"qid": f"s{i}", "text": q}) + "\n"
                            for i, q in enumerate(questions)), encoding="utf-8")
    return path


def _synth_recipe(tmp: Path, url: str, seeds: Path, samples: int) -> Path:
    path = tmp / "recipe.toml"
    path.write_text(f"""schema_version = 1
name = "losstest"
run_dir = "run"

[synth.datasets.d]
teacher = "r1"
samples = {samples}
engine = {_engine(url)}
seeds = {{ loader = "file", path = "{seeds}", fields = {{ id = "qid", instruction = "text" }} }}
""", encoding="utf-8")
    return path


def _triples(tmp: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((tmp / "run/synth/d/shards").glob("*.jsonl"))
            for line in p.read_text(encoding="utf-8").splitlines()]


def _manifest(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def ignoring_server():
    with ServerProcess(ignore_n=1) as server:
        yield server


def test_synth_asks_for_each_choice_a_server_left_out(tmp_path, ignoring_server):
    recipe = _synth_recipe(tmp_path, ignoring_server.base_url,
                           _seeds(tmp_path, ["What is 1 + 1?", "What is 2 + 2?"]), samples=4)
    before = ignoring_server.stats()
    proc = run_jre("synth", str(recipe), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    triples = _triples(tmp_path)
    assert len(triples) == 8 and len({t["id"] for t in triples}) == 8
    assert sorted(t["meta"]["sample"] for t in triples) == [0, 0, 1, 1, 2, 2, 3, 3]
    manifest = _manifest(tmp_path / "run/synth/d/manifest.json")
    assert manifest["status"] == "complete"
    counts = manifest["counts"]
    assert counts["triples"] == 8 and counts["missing_triples"] == 0 and counts["failed_requests"] == 0
    # Each request asked for 4 choices. One that got a single choice was followed by 3
    # separate requests; once the server is known to ignore n, requests still to be sent go
    # out as 4 separate ones. (Both go out at once here, so usually both come back short.)
    short = counts["errors"]["fewer_choices"]
    assert short in (1, 2) and set(counts["errors"]) == {"fewer_choices"}
    assert counts["split_requests"] == 8 - short
    after = ignoring_server.stats()
    assert after["requests"] - before["requests"] == 8 and after["choices"] - before["choices"] == 8


def test_synth_stays_incomplete_until_every_triple_exists(tmp_path, ignoring_server):
    # The server rejects the first request for s1 (HTTP 400, no retry helps).
    recipe = _synth_recipe(tmp_path, ignoring_server.base_url,
                           _seeds(tmp_path, ["What is 3 + 3?", "Too long @fault:400"]), samples=2)
    first = run_jre("synth", str(recipe), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    manifest = _manifest(tmp_path / "run/synth/d/manifest.json")
    assert manifest["status"] == "incomplete"
    assert manifest["counts"]["missing_triples"] == 2 and manifest["counts"]["failed_requests"] == 1
    said = " ".join((first.stdout + first.stderr).split())  # the console wraps long lines
    assert "maximum context length is 16 tokens" in said and "HTTP 400" in said
    assert ignoring_server.base_url in said
    assert len(_triples(tmp_path)) == 2

    second = run_jre("synth", str(recipe), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "up to date" not in second.stdout + second.stderr
    assert "2 done, 2 to do" in second.stdout + second.stderr
    manifest = _manifest(tmp_path / "run/synth/d/manifest.json")
    assert manifest["status"] == "complete" and manifest["counts"]["triples"] == 4
    third = run_jre("synth", str(recipe), cwd=tmp_path)
    assert "up to date" in third.stdout + third.stderr


def _eval_recipe(tmp: Path, url: str, data: Path, n: int) -> Path:
    path = tmp / "recipe.toml"
    path.write_text(f"""schema_version = 1
name = "evalloss"
run_dir = "run"

[eval]
engine = {_engine(url)}
benchmarks = [{{ name = "arith_en", path = "{data}", n = {n} }}]
bootstrap = 100
""", encoding="utf-8")
    return path


def _questions(tmp: Path, questions: list[str]) -> Path:
    path = tmp / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answer": 7}) + "\n"
                            for i, q in enumerate(questions)), encoding="utf-8")
    return path


def test_eval_with_a_server_that_ignores_n(tmp_path, ignoring_server):
    data = _questions(tmp_path, ["What is 3 + 4?", "What is 5 + 2?"])
    proc = run_jre("eval", str(_eval_recipe(tmp_path, ignoring_server.base_url, data, n=3)),
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "run/eval/arith_en/results.json").read_text())
    assert results["n_samples"] == 6 and results["score"] == 1.0
    details = [json.loads(x) for x in (tmp_path / "run/eval/arith_en/details.jsonl").read_text().splitlines()]
    assert sorted(d["id"] for d in details) == sorted(f"q{i}#{k}" for i in range(2) for k in range(3))


def test_eval_request_rejected_by_the_server(tmp_path):
    data = _questions(tmp_path, ["What is 3 + 4?", "What is 1 + 6? @fault:400", "What is 2 + 5?"])
    with ServerProcess() as server:
        recipe = _eval_recipe(tmp_path, server.base_url, data, n=2)
        first = run_jre("eval", str(recipe), cwd=tmp_path)
        assert first.returncode == 2, first.stderr
        # Besides the progress bar, one line.
        lines = [line for line in first.stderr.splitlines() if line.strip() and "━" not in line]
        assert len(lines) == 1, first.stderr
        assert "Traceback" not in first.stderr
        assert server.base_url in lines[0] and "HTTP 400" in lines[0]
        assert "maximum context length is 16 tokens" in lines[0]
        assert "2 of 6 samples missing" in lines[0]
        out = tmp_path / "run/eval/arith_en"
        manifest = _manifest(out / "manifest.json")
        assert manifest["status"] == "incomplete" and manifest["counts"]["missing_samples"] == 2
        assert not (out / "results.json").exists()
        assert len((out / "details.jsonl").read_text().splitlines()) == 4

        before = server.stats()["requests"]
        second = run_jre("eval", str(recipe), cwd=tmp_path)
        assert second.returncode == 0, second.stderr
        assert server.stats()["requests"] - before == 1  # only the missing item
        assert _manifest(out / "manifest.json")["status"] == "complete"
        results = json.loads((out / "results.json").read_text())
        assert results["n_samples"] == 6
