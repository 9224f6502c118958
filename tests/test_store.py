"""The run store: manifests, freshness, and append-only shards that survive SIGKILL."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jre.store import (
    Manifest,
    RunStore,
    ShardWriter,
    iter_records,
    repair_shard,
    shard_keys,
)

WRITER = r"""
import hashlib, sys
from jre.store import ShardWriter
path, total, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = ShardWriter(path, batch_size=batch)
print(f"committed {w.committed}", flush=True)
for i in range(total):
    payload = ("x%d-" % i) * (200 + (i * 7919) % 3000)  # 1-30 KB: big writes tear lines
    before = w.committed
    w.write({"id": f"r{i}", "payload": payload, "sha": hashlib.sha256(payload.encode()).hexdigest()})
    if w.committed != before:
        print(f"committed {w.committed}", flush=True)
w.close()
print(f"committed {w.committed}", flush=True)
print("done", flush=True)
"""


def _run_writer(path: Path, total: int, batch: int,
                kill: tuple[int, float] | None) -> tuple[int, bool]:
    """Run the writer in a subprocess; with ``kill=(count, delay)``, SIGKILL it ``delay`` s
    after it reports ``count`` committed records. Returns (last reported, finished)."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(total), str(batch)],
                            stdout=subprocess.PIPE, text=True)
    reported = [0]
    finished = [False]
    reached = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("committed "):
                reported[0] = int(line.split()[1])
                if kill and reported[0] >= kill[0]:
                    reached.set()
            elif line.strip() == "done":
                finished[0] = True
        reached.set()

    thread = threading.Thread(target=reader)
    thread.start()
    if kill is not None:
        reached.wait(timeout=60)
        time.sleep(kill[1])
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=120)
    thread.join(timeout=10)
    return reported[0], finished[0]


def _check_shard(path: Path) -> list[str]:
    """Every line whole and valid, payload intact, no duplicate id; returns ids in file order."""
    import hashlib

    ids = []
    for record in iter_records([path]):
        assert hashlib.sha256(record["payload"].encode()).hexdigest() == record["sha"]
        ids.append(record["id"])
    assert len(ids) == len(set(ids)), "duplicate records after resume"
    return ids


def test_sigkill_at_random_points_loses_nothing_committed_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shards" / "worker-0.jsonl"
    total, batch = 1500, 16
    rng = random.Random(1234)
    kills = torn = 0
    for point in sorted(rng.sample(range(50, total - 100), 5)):
        reported, finished = _run_writer(path, total, batch, kill=(point, rng.uniform(0, 0.05)))
        if finished:
            break
        kills += 1
        torn += repair_shard(path) > 0
        ids = _check_shard(path)
        # Everything reported committed is there, in order.
        assert ids[:reported] == [f"r{i}" for i in range(reported)]
    assert kills == 5, "the writer finished before it was killed"
    print(f"{torn} of {kills} kills left a torn last line")
    reported, finished = _run_writer(path, total, batch, kill=None)
    assert finished and reported == total
    ids = _check_shard(path)
    assert sorted(ids, key=lambda s: int(s[1:])) == [f"r{i}" for i in range(total)]


def test_torn_last_line_is_dropped_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with ShardWriter(path) as w:
        w.write({"id": "a", "v": 1})
        w.write({"id": "b", "v": 2})
    with open(path, "a") as fh:
        fh.write('{"id": "c", "v": 3')  # a writer killed mid-line
    assert [r["id"] for r in iter_records([path])] == ["a", "b"]
    w = ShardWriter(path)
    assert w.dropped_torn == len('{"id": "c", "v": 3')
    assert "a" in w and "b" in w and "c" not in w
    assert w.write({"id": "c", "v": 3}) is True
    assert w.write({"id": "a", "v": 9}) is False  # already written: skipped, not duplicated
    w.close()
    assert [r["id"] for r in iter_records([path])] == ["a", "b", "c"]
    assert shard_keys(tmp_path) == {"a", "b", "c"}


def test_key_field_is_written_first_and_read_back_with_escapes(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    odd = 'q"uote\\back\nline 日本'
    with ShardWriter(path, key="uid") as w:
        w.write({"text": "t", "uid": odd})
    assert json.loads(path.read_text().splitlines()[0])["uid"] == odd
    assert path.read_text().startswith('{"uid": ')
    assert odd in ShardWriter(path, key="uid")


def test_manifest_freshness_and_force(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    assert not store.is_fresh("mix", config_hash="h1", inputs={"a": "1"})
    manifest = store.begin("mix", config_hash="h1", inputs={"a": "1"})
    assert not store.is_fresh("mix", config_hash="h1", inputs={"a": "1"}), "running is not fresh"
    store.finish(manifest, counts={"rows": 10})
    assert store.is_fresh("mix", config_hash="h1", inputs={"a": "1"})
    assert not store.is_fresh("mix", config_hash="h2", inputs={"a": "1"})
    assert not store.is_fresh("mix", config_hash="h1", inputs={"a": "2"})
    data = json.loads(store.manifest_path("mix").read_text())
    assert data["status"] == "complete" and data["counts"] == {"rows": 10}
    assert data["jre_version"] and data["finished"]
    assert isinstance(store.read_manifest("mix"), Manifest)


def test_unreadable_manifest_is_a_user_error(tmp_path: Path) -> None:
    from jre.errors import UserError

    store = RunStore(tmp_path)
    store.stage_dir("eval")
    store.manifest_path("eval").write_text("{not json")
    with pytest.raises(UserError, match="manifest"):
        store.read_manifest("eval")


def test_step_skips_finishes_records_incomplete_and_failure(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    out = tmp_path / "run" / "mix" / "dataset"
    step = store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.0"}, outputs=[out])
    assert not step.fresh and step.previous is None
    with step:
        assert store.read_manifest("mix").status == "running"
        out.mkdir(parents=True)
        step.incomplete(counts={"rows": 3})
    assert store.read_manifest("mix").status == "incomplete"
    assert not store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.0"}).fresh
    with store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.0"}) as step:
        step.finish(counts={"rows": 4})
    assert store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.0"}, outputs=[out]).fresh
    assert not store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.0"},
                          force=True).fresh
    # another version of the plugin that made the outputs: not up to date
    assert not store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.1"}).fresh
    with pytest.raises(RuntimeError):
        with store.step("mix", config_hash="h", inputs={"a": "1"}, plugins={"mixer m": "1.1"}):
            raise RuntimeError("disk full")
    failed = store.read_manifest("mix")
    assert failed.status == "failed" and failed.extra["error"] == "RuntimeError: disk full"
    assert failed.plugins == {"mixer m": "1.1"}
