"""Hostile model answers through the real eval path, and the parts that contain them.

``tests/fixtures/hostile/*.py`` are JHumanEval answers (each a wrong ``add_all`` plus an
attack: escapes, persistence, exhaustion, fake passes, cleanup traps). The suite sends
them, with lone-surrogate and NUL texts and good/wrong control answers before, between
and after the attacks, through ``jre eval`` (the real CLI, the scripted engine, the fork
server): no attack may score, every control keeps its verdict, TMPDIR keeps its mode,
nothing is left in /tmp, /dev/shm, /var/tmp, and ``jre eval`` exits 0.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("the sandbox is Linux-only", allow_module_level=True)

from jre.lib.sandbox import (
    ChannelError,
    SandboxLimits,
    check_split,
    checker_program,
    decode,
    encode,
    isolation_level,
    remove_tree,
    run_program,
)
from jre.lib.sandbox import caps as sbcaps

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "fixtures" / "hostile"
EVAL = HERE / "fixtures" / "eval"
ATTACKS = sorted(HOSTILE.glob("*.py"))
sys.path.insert(0, str(EVAL))
import evalkit  # noqa: E402

FENCE = "```"
GOOD = "def add_all(numbers):\n    return sum(numbers)\n"
WRONG = "def add_all(numbers):\n    return 0\n"
TEXT_ATTACKS = {"text_lone_surrogate": "def add_all(numbers):\n    return -1  # \ud800\n",
                "text_nul": "def add_all(numbers):\n    return -1\n\x00\n"}
TOKENS = set(isolation_level().split("+"))
SHM_KEY = 0x4A524548
# Names only this suite's runs make (the evaluator's own folders go to the test's TMPDIR,
# checked empty; other users of this machine may be running sandboxes meanwhile).
MARKS = ("jre-hostile", "jre-w")
pytestmark = pytest.mark.timeout(600)


def _attack_class(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# class: ")


def _ours(folder: str) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if any(m in n for m in MARKS)}
    except FileNotFoundError:
        return set()


def _sysv_keys() -> set[int]:
    with open("/proc/sysvipc/shm", encoding="ascii") as f:
        return {int(line.split()[0]) for line in f.read().splitlines()[1:] if line.strip()}


def _procs_named(prefix: bytes) -> list[int]:
    """Live processes whose name (``comm``, set by the attacks) starts with ``prefix``."""
    hits = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit():
                with open(f"/proc/{name}/stat", "rb") as f:
                    head, tail = f.read().rsplit(b")", 1)
                if head.split(b"(", 1)[1].startswith(prefix) and tail[1:2] not in (b"Z", b"X"):
                    hits.append(int(name))
        except OSError:
            pass
    return hits


class _Listeners:
    """A filesystem socket and a TCP port outside the sandbox, recording any contact."""

    def __init__(self, folder: Path) -> None:
        self.contacts: list[str] = []
        self.unix_path = str(folder / "outside.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)  # only the sandbox, not permissions, may stop it
        self.unix.listen(8)
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve, args=(s, n), daemon=True)
                        for s, n in ((self.unix, "unix"), (self.tcp, "tcp"))]
        for t in self.threads:
            t.start()

    def _serve(self, server: socket.socket, name: str) -> None:
        server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = server.accept()
                self.contacts.append(name)
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        self.unix.close()
        self.tcp.close()


def _samples() -> list[tuple[str, str]]:
    """(label, code): controls first, between every ten attacks, and last."""
    attacks = [(p.stem, p.read_text(encoding="utf-8")) for p in ATTACKS]
    attacks += list(TEXT_ATTACKS.items())
    out = [("control-good", GOOD), ("control-wrong", WRONG)]
    for start in range(0, len(attacks), 10):
        out += attacks[start:start + 10]
        out += [("control-good", GOOD), ("control-wrong", WRONG)]
    return out


def test_suite_covers_every_class() -> None:
    classes = {_attack_class(p) for p in ATTACKS}
    assert classes == {"escape", "persistence", "exhaustion", "fake pass", "cleanup"}
    assert len(ATTACKS) + len(TEXT_ATTACKS) >= 45


@pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox needs root (a container)")
def test_hostile_answers_through_jre_eval(tmp_path: Path) -> None:
    outside = Path(tempfile.mkdtemp(prefix="jre-hostile-outside-", dir="/run"))
    outside.chmod(0o755)
    victim = outside / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o644)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    tmpdir.chmod(0o1777)
    modes = {p: os.stat(p).st_mode for p in (str(tmpdir), "/tmp", "/dev/shm", "/var/tmp")}
    before = {d: _ours(d) for d in ("/tmp", "/dev/shm", "/var/tmp")}
    assert SHM_KEY not in _sysv_keys()
    listeners = _Listeners(outside)
    samples = _samples()
    try:
        fill = {"OUTSIDE_SOCKET": listeners.unix_path, "OUTSIDE_PORT": str(listeners.port),
                "VICTIM_FILE": str(victim)}
        texts = []
        for _, code in samples:
            for key, value in fill.items():
                code = code.replace(key, value)
            texts.append(f"{FENCE}python\n{code}{FENCE}")
        script = tmp_path / "script.json"
        script.write_text(json.dumps({"JHumanEval/0": texts}), encoding="utf-8")
        recipe = evalkit.write_recipe(tmp_path, [{
            "name": "jhumaneval", "path": str(EVAL / "jhumaneval.jsonl"), "limit": 1,
            "n": len(samples), "workers": 2, "cpu_seconds": 2, "wall_seconds": 5,
            "memory_mb": 512}], {"name": "scripted", "model": "m", "script": str(script)},
            bootstrap=10)
        env = dict(os.environ, TMPDIR=str(tmpdir))
        proc = subprocess.run([sys.executable, str(EVAL / "run_cli.py"), "eval", str(recipe)],
                              env=env, capture_output=True, text=True, timeout=500)
        time.sleep(2.0)  # a surviving daemon would write its file by now
    finally:
        listeners.close()
    assert proc.returncode == 0, proc.stderr[-3000:]

    out = tmp_path / "run" / "eval" / "jhumaneval"
    rows = sorted((json.loads(line) for line in (out / "details.jsonl").read_text(
        encoding="utf-8").splitlines()), key=lambda r: r["sample"])
    assert len(rows) == len(samples)
    verdicts = {}
    for (label, _), row in zip(samples, rows):
        verdicts.setdefault(label, []).append((row["score"], row.get("status", {})))
    report = "\n".join(f"{label}: {v}" for label, v in verdicts.items())
    for label, results in verdicts.items():
        want = 1.0 if label == "control-good" else 0.0
        assert all(score == want for score, _ in results), report
    assert len(verdicts["control-good"]) == len(verdicts["control-wrong"]) >= 3
    # The limits that stopped them were the run's own (all its processes together).
    assert verdicts["exhaust_memory_processes"][0][1]["sandbox"] == "memory_limit", report
    assert verdicts["exhaust_cpu_processes"][0][1]["sandbox"] == "timeout", report
    assert verdicts["exhaust_sleep"][0][1]["sandbox"] == "timeout", report
    assert all(s["mode"] == "split" for _, s in sum(verdicts.values(), []) if s), report

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["sandbox"]["test_mode"] == "split"
    assert {"private-tmp", "pidns", "netns", "uid",
            "run-limits:memory,cpu,processes"} <= set(results["sandbox"]["isolation"].split("+"))
    assert results["score"] == pytest.approx(
        len(verdicts["control-good"]) / len(samples))

    # The host is as it was.
    assert listeners.contacts == []
    assert victim.read_text() == "precious" and victim.stat().st_mode & 0o777 == 0o644
    assert {p: os.stat(p).st_mode for p in modes} == modes
    assert os.listdir(tmpdir) == []
    assert {d: _ours(d) for d in before} == before
    assert SHM_KEY not in _sysv_keys()
    assert _procs_named(b"jre-hostile") == []
    remove_tree(str(outside))


# --- cleanup on the fallback path (no private tmpfs: the run's folder is on the host) ----

CLEANUP_ATTACKS = [p for p in ATTACKS if _attack_class(p) == "cleanup"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to the run's own uid")
@pytest.mark.parametrize("attack", CLEANUP_ATTACKS, ids=lambda p: p.stem)
def test_cleanup_traps_on_host_folders(attack: Path, tmp_path: Path, monkeypatch) -> None:
    base = sbcaps.capabilities()
    fallback = sbcaps.Caps("rlimits+session+uid+nnp", (), False, True, base.python)
    monkeypatch.setattr(sbcaps, "_caps", fallback)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    tmpdir.chmod(0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    mode = tmpdir.stat().st_mode
    code = attack.read_text(encoding="utf-8") + "\nprint(add_all([1]))\n"
    r = run_program(code, limits=SandboxLimits(wall_seconds=10))
    assert r.status == "passed" and r.cleanup == [], r
    assert tmpdir.stat().st_mode == mode
    assert os.listdir(tmpdir) == []


# --- remove_tree ----------------------------------------------------------------------------

def test_remove_tree_any_depth_fifos_sockets_mode_000(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1200):  # built fd by fd: the path grows past what one call may take
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        os.close(old)
    os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd))
    os.close(fd)
    os.mkfifo(root / "fifo")
    os.mknod(root / "sock", 0o600 | stat.S_IFSOCK)
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file").write_text("kept")
    os.symlink(keep, root / "link-out")
    os.symlink(keep / "file", root / "file-link")
    locked = root / "locked" / "inner"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    locked.chmod(0)
    (root / "locked").chmod(0)
    parent_mode = tmp_path.stat().st_mode
    assert remove_tree(str(root)) == []
    assert not root.exists()
    assert (keep / "file").read_text() == "kept"  # links removed, never followed
    assert tmp_path.stat().st_mode == parent_mode


def test_remove_tree_of_a_symlink_removes_only_the_link(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "f").write_text("x")
    target.chmod(0o755)
    (tmp_path / "run").symlink_to(target)
    parent_mode = tmp_path.stat().st_mode
    assert remove_tree(str(tmp_path / "run")) == []
    assert not (tmp_path / "run").is_symlink()
    assert (target / "f").read_text() == "x" and target.stat().st_mode & 0o777 == 0o755
    assert tmp_path.stat().st_mode == parent_mode
    assert remove_tree(str(tmp_path / "absent")) == []


def test_remove_tree_reports_instead_of_raising(tmp_path: Path) -> None:
    problems = remove_tree(str(tmp_path / "no-parent" / "run"))
    assert problems and "cannot open" in problems[0]


# --- the channel -------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, 0, -7, 2 ** 100, 1.5, -0.0, math.inf, -math.inf, 1 + 2j, "", "日本\n'\"",
    "\ud800", b"\x00\xff", (), (1,), [1, [2, (3,)]], {1, 2}, frozenset({"a"}), set(),
    {"a": [1, 2], (1, 2): {3}}, [[[]]],
])
def test_channel_round_trips_plain_data(value) -> None:
    back = decode(encode(value))
    assert back == value and type(back) is type(value)


def test_channel_nan() -> None:
    assert math.isnan(decode(encode(math.nan)))


@pytest.mark.parametrize("value", [object(), type("I", (int,), {})(3), [lambda: 0],
                                   {"k": object()}, type("S", (str,), {})("x")])
def test_channel_refuses_anything_else(value) -> None:
    with pytest.raises(ChannelError):
        encode(value)


@pytest.mark.parametrize("text", ["__import__('os')", "x", "a.b", "f(1)", "float('1e5')",
                                  "[" * 150 + "]" * 150, "[1, 2", "set([[1]])", "{**x}",
                                  "1 + 2", "lambda: 0"])
def test_channel_decoder_refuses_code(text) -> None:
    with pytest.raises(ChannelError):
        decode(text)


# --- split mode ----------------------------------------------------------------------------

def test_split_check_keeps_prompt_helpers_on_the_checker_side() -> None:
    """HumanEval/32: the tests call the prompt's ``poly``; the candidate never sees them."""
    item = json.loads((HOSTILE / "humaneval_32.jsonl").read_text(encoding="utf-8"))
    checker = checker_program(item["prompt"], item["test"], item["entry_point"])
    good = check_split(item["prompt"] + item["canonical_solution"], checker)
    assert good.passed and good.mode == "split", good
    bad = check_split(item["prompt"] + "    return 0.0\n", checker)
    assert not bad.passed and bad.status == "failed"
    # Poisoning poly on the candidate's side changes nothing on the checker's.
    poisoned = check_split(item["prompt"] + "    return 0.0\nimport builtins\n"
                           "poly = lambda xs, x: 0\nbuiltins.abs = lambda x: 0\n", checker)
    assert not poisoned.passed


def test_split_check_candidate_errors_reach_the_checker() -> None:
    test = ("def check(candidate):\n    try:\n        candidate(0)\n    except Exception as e:\n"
            "        assert 'ZeroDivisionError' in str(e)\n    else:\n        assert False\n"
            "    assert candidate(2) == 0.5\n")
    checker = checker_program("def f(x):\n    pass\n", test, "f")
    assert check_split("def f(x):\n    return 1 / x\n", checker).passed
    r = check_split("def f(x):\n    return 1 / x\nimport os\nos._exit(0)\n", checker)
    assert not r.passed and "CandidateError" in r.stderr


@pytest.mark.skipif("pidns" not in TOKENS, reason="needs a PID namespace")
def test_split_check_candidate_sleeping_forever_is_a_timeout() -> None:
    checker = checker_program("def f():\n    pass\n", "def check(c):\n    assert c() == 1\n", "f")
    r = check_split("import time\ntime.sleep(100)\ndef f():\n    return 1\n", checker,
                    limits=SandboxLimits(wall_seconds=2))
    assert r.status == "timeout" and not r.passed


def test_model_text_with_surrogates_and_nul_fails_cleanly() -> None:
    for text in ("print('\ud800')", "x = 1\x00\n", "\udcff"):
        r = run_program(text)
        assert r.status == "failed" and not r.passed, r


NAME_SELF = ("import ctypes\nctypes.CDLL(None).prctl(15, b'jre-hostile-k', 0, 0, 0)\n")


def test_sandbox_processes_gone_after_kill() -> None:
    # SIGKILL the whole evaluator mid-run: its runs must not survive it.
    program = NAME_SELF + "import time\ntime.sleep(60)\n"
    code = (f"import sys; sys.path[:0] = {sys.path!r}\nfrom jre.lib.sandbox import run_program\n"
            f"run_program({program!r})\n")
    evaluator = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while not _procs_named(b"jre-hostile-k") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _procs_named(b"jre-hostile-k")
    evaluator.send_signal(signal.SIGKILL)
    evaluator.wait()
    deadline = time.monotonic() + 5
    while _procs_named(b"jre-hostile") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _procs_named(b"jre-hostile") == []


def test_docs_example_runs() -> None:
    """The Python example of docs/sandbox.md runs as written."""
    text = (HERE.parent / "docs" / "sandbox.md").read_text(encoding="utf-8")
    blocks = [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith("python\n")]
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/sandbox.md", "exec"), {})
