"""Hostile programs against jre.lib.sandbox: each must be contained, the evaluator unharmed.

Every test runs once through the fork server and once through the exec path (where the
machine has both); process-containment tests also run under weaker configurations
(no namespaces; no uid drop) by swapping the module's probed capabilities, so the
fallbacks are tested on a machine that does not need them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

if not sys.platform.startswith("linux"):
    pytest.skip("the sandbox is Linux-only", allow_module_level=True)

from jre.lib import sandbox
from jre.lib.sandbox import (
    SandboxLimits,
    check_program,
    isolation_level,
    program_with_nonce,
    run_many,
    run_program,
    spawn,
)
from jre.lib.sandbox import caps as sbcaps

LEVEL = isolation_level()
TOKENS = set(LEVEL.split("+"))
FAST = SandboxLimits(cpu_seconds=1, wall_seconds=3)
pytestmark = pytest.mark.timeout(60)

MARK_PRINT = ("import os as _o; print('MARK', _o.getuid(), _o.environ['JRE_SANDBOX_ID'], "
              "flush=True)\n")


def _src(code: str) -> str:
    return textwrap.dedent(code).strip("\n") + "\n"


def _procs_matching(needle: bytes, what: str = "cmdline") -> list[int]:
    """Live processes (any namespace) whose /proc/<pid>/<what> contains ``needle``."""
    hits = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/{what}", "rb") as f:
                if needle in f.read():
                    hits.append(int(name))
        except OSError:
            pass
    return hits


def _procs_of_uid(uid: int) -> list[int]:
    hits = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid:
                with open(f"/proc/{name}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1][1:2] not in (b"Z", b"X"):
                        hits.append(int(name))
        except OSError:
            pass
    return hits


def _assert_gone(find) -> None:
    deadline = time.monotonic() + 2.0  # SIGKILLed processes may need a moment to vanish
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], f"processes survived the run: {left}"


def _assert_run_left_nothing(stdout: str) -> None:
    """No live process of the run that printed MARK_PRINT: by its uid when it had its own,
    else by its marker variable (the bare fallback)."""
    _, uid, marker = next(ln for ln in stdout.splitlines() if ln.startswith("MARK ")).split()
    if int(uid) != os.getuid():
        _assert_gone(lambda: _procs_of_uid(int(uid)))
    else:
        _assert_gone(lambda: _procs_matching(f"JRE_SANDBOX_ID={marker}".encode(), "environ"))


def _assert_no_leftovers(needle: bytes) -> None:
    _assert_gone(lambda: _procs_matching(needle))


# Every test runs once per way of starting a run; some also under weaker configurations
# this machine may not need (to test the fallbacks).
def _caps_for(mode: str) -> sbcaps.Caps:
    base = sbcaps.capabilities()
    exec_caps = sbcaps.exec_caps(base)
    if mode == "forkserver":
        if not base.zygote:
            pytest.skip(f"no fork server here (needs root and namespaces; level {LEVEL})")
        return base
    if mode == "exec":
        return exec_caps
    if mode == "uid-no-namespaces":
        if not base.drop:
            pytest.skip(f"no uid drop available (level {LEVEL})")
        return sbcaps.Caps("rlimits+session+uid+nnp+run-limits:memory,cpu,processes", (), False,
                           True, base.python)
    if mode == "bare":
        return sbcaps.Caps("rlimits+session", (), False, False, base.python)
    raise AssertionError(mode)


@pytest.fixture(autouse=True, params=["forkserver", "exec"])
def mode(request, monkeypatch):
    caps = _caps_for(request.param)
    monkeypatch.setattr(sbcaps, "_caps", caps)
    return request.param


ALL_MODES = pytest.mark.parametrize("mode", ["forkserver", "exec", "uid-no-namespaces", "bare"],
                                    indirect=True)
SAFE_MODES = pytest.mark.parametrize("mode", ["forkserver", "exec", "uid-no-namespaces"],
                                     indirect=True)


# --- verdicts -----------------------------------------------------------------------------

SOLUTION = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n"


def test_level_reported(mode):
    assert LEVEL.startswith("rlimits+session")
    assert os.path.isfile(sandbox.sandbox_interpreter())
    r = run_program("print('hi')")
    assert r.level == sbcaps.capabilities().level and r.passed and r.status == "passed"
    assert r.returncode == 0
    assert r.stdout.startswith("hi\n")


def test_passing_solution_passes():
    r = check_program(SOLUTION, TEST, "add")
    assert (r.passed, r.status, r.returncode) == (True, "passed", 0)


def test_wrong_solution_fails():
    r = check_program(WRONG, TEST, "add")
    assert not r.passed and r.status == "failed" and r.returncode == 1
    assert "AssertionError" in r.stderr


def test_syntax_error_fails():
    r = check_program("def add(a, b) return a + b\n", TEST, "add")
    assert not r.passed and r.status == "failed" and "SyntaxError" in r.stderr


def test_caller_supplied_nonce():
    nonce = secrets.token_hex(16)
    assert run_program(program_with_nonce("x = 1", nonce), nonce=nonce).passed
    assert not run_program("print('no nonce here')", nonce=nonce).passed
    with pytest.raises(ValueError):
        program_with_nonce("x = 1", "bad nonce'); import os; os._exit(0) #")


def test_nonce_survives_output_without_newline_and_rebound_stdout():
    r = run_program("import io, sys\nprint('partial', end='')\nsys.stdout = io.StringIO()\n")
    assert r.passed, r


@pytest.mark.parametrize("early_exit", ["sys.exit(0)", "os._exit(0)", "raise SystemExit"])
def test_early_exit_is_not_a_pass(early_exit):
    solution = f"import os, sys\ndef add(a, b):\n    return a - b\n{early_exit}\n"
    r = check_program(solution, TEST, "add")
    assert not r.passed and r.status == "failed" and r.returncode == 0


def test_exit_inside_the_checked_function_is_not_a_pass():
    solution = "import os\ndef add(a, b):\n    os._exit(0)\n"
    r = check_program(solution, TEST, "add")
    assert not r.passed and r.returncode == 0


@pytest.mark.parametrize("fake", [
    "print('PASSED')",
    "import secrets; print(secrets.token_hex(16))",
    "print(open(__file__).read().split()[-1])",  # the nonce is not on disk any more
])
def test_fake_pass_line_is_not_a_pass(fake):
    solution = (f"import os\ndef add(a, b):\n    return a - b\n"
                f"try:\n    {fake}\nexcept Exception:\n    pass\nos._exit(0)\n")
    r = check_program(solution, TEST, "add")
    assert not r.passed and r.status == "failed"


# --- time ----------------------------------------------------------------------------------

def test_infinite_loop_times_out_on_cpu():
    t = time.monotonic()
    r = run_program("while True:\n    pass\n", limits=FAST)
    assert r.status == "timeout" and not r.passed
    assert time.monotonic() - t < FAST.wall_seconds + 2


def test_sleep_times_out_on_wall_clock():
    t = time.monotonic()
    r = run_program("import time\ntime.sleep(1000)\n", limits=SandboxLimits(wall_seconds=1.5))
    assert r.status == "timeout" and "wall" in r.detail
    assert 1.4 < time.monotonic() - t < 4


@pytest.mark.parametrize("then", ["while True:\n    pass\n", "import time\ntime.sleep(1000)\n"])
def test_ignored_signals_still_killed(then):
    code = ("import signal\n"
            "for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGXCPU, signal.SIGINT,\n"
            "          signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\n" + then)
    t = time.monotonic()
    r = run_program(code, limits=SandboxLimits(cpu_seconds=1, wall_seconds=3))
    assert r.status == "timeout"
    assert time.monotonic() - t < 6


# --- processes -----------------------------------------------------------------------------

@SAFE_MODES
def test_fork_bomb_is_contained():
    # Linear and bounded: uncontained it would make 300 sleeping processes, not a meltdown.
    code = MARK_PRINT + _src("""
        import os, time
        n = 0
        try:
            for _ in range(300):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                n += 1
        except OSError as e:
            print("fork refused after", n, type(e).__name__, flush=True)
        """)
    r = run_program(code, limits=SandboxLimits(max_processes=24, wall_seconds=10))
    assert "fork refused after" in r.stdout, r
    assert int(r.stdout.split("fork refused after")[1].split()[0]) < 24
    _assert_run_left_nothing(r.stdout)


def test_exponential_fork_bomb_is_contained():
    code = MARK_PRINT + _src("""
        import os, time
        for _ in range(8):  # at most 256 processes if nothing stopped it
            try:
                os.fork()
            except OSError:
                pass
        time.sleep(60)
        """)
    r = run_program(code, limits=SandboxLimits(max_processes=32, wall_seconds=2))
    assert r.status == "timeout"
    _assert_run_left_nothing(r.stdout)


def test_thread_bomb_is_contained():
    code = _src("""
        import threading, time
        n = 0
        while n < 5000:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            n += 1
        """)
    t = time.monotonic()
    r = run_program(code, limits=SandboxLimits(max_processes=32, wall_seconds=10))
    assert r.status == "failed" and "can't start new thread" in r.stderr
    assert time.monotonic() - t < 8


@ALL_MODES
def test_setsid_double_fork_daemon_does_not_survive(mode):
    marker = f"jre-daemon-{secrets.token_hex(6)}"
    # The bare fallback finds strays by environment marker, so there the daemon keeps
    # its environment; the stronger levels must not depend on that.
    env = "dict(os.environ)" if mode == "bare" else "{}"
    code = _src(f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.chdir("/")
                fd = os.open(os.devnull, os.O_RDWR)
                for i in (0, 1, 2):
                    os.dup2(fd, i)
                os.execve(sys.executable, [sys.executable, "-S", "-c",
                          "import time; time.sleep(300)", "{marker}"], {env})
            os._exit(0)
        os.wait()
        for _ in range(200):
            if any("{marker}".encode() in open(f"/proc/{{p}}/cmdline", "rb").read()
                   for p in os.listdir("/proc") if p.isdigit() and p != str(os.getpid())):
                print("daemon up", flush=True)
                break
            time.sleep(0.02)
        """)
    r = run_program(code, limits=SandboxLimits(wall_seconds=10))
    assert "daemon up" in r.stdout, r
    assert r.passed  # the program itself finished fine; its daemon must still be gone
    _assert_no_leftovers(marker.encode())


@pytest.mark.skipif("pidns" not in TOKENS and "uid" not in TOKENS,
                    reason=f"without a PID namespace or own uid the program could signal us "
                           f"(level {LEVEL})")
@pytest.mark.parametrize("attack", [
    "os.kill(os.getppid(), signal.SIGKILL)",
    "os.killpg(os.getpgid(0), signal.SIGKILL)",
    "os.kill(-1, signal.SIGKILL)",
    "os.kill(1, signal.SIGKILL)",
])
def test_killing_parent_does_not_hurt_evaluator(attack):
    r = run_program(f"import os, signal\ntry:\n    {attack}\nexcept OSError as e:\n    print(e)\n"
                    "import time\ntime.sleep(0.2)\n", limits=SandboxLimits(wall_seconds=5))
    assert r.status in {"passed", "failed"}
    assert os.getpid() > 0 and run_program("print(1)").passed  # we are alive and still work


@pytest.mark.skipif("pidns" not in TOKENS, reason=f"needs a PID namespace (level {LEVEL})")
def test_sandbox_dies_with_the_evaluator(mode):
    marker = f"jre-orphan-{secrets.token_hex(6)}"
    prog = (f"import os, sys\nos.execv(sys.executable, [sys.executable, '-S', '-c', "
            f"'import time; time.sleep(300)', {marker!r}])\n")
    code = (f"import sys, dataclasses; sys.path[:0] = {sys.path!r}\n"
            "from jre.lib import sandbox\n"
            "from jre.lib.sandbox import caps\n"
            f"if {mode == 'exec'!r}:\n"
            "    caps.set_capabilities(caps.exec_caps(caps.capabilities()))\n"
            f"sandbox.run_program({prog!r})\n")
    evaluator = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        while not _procs_matching(marker.encode()):
            assert time.monotonic() < deadline and evaluator.poll() is None
            time.sleep(0.05)
    finally:
        evaluator.kill()
        evaluator.wait()
    _assert_no_leftovers(marker.encode())


# --- memory, stack, files --------------------------------------------------------------------

def test_huge_allocation_is_a_memory_error():
    r = run_program("x = bytearray(8 * 1024 ** 3)\n")
    assert r.status == "failed" and "MemoryError" in r.stderr


def test_deep_recursion_is_contained():
    r = run_program("def f(n):\n    return f(n + 1)\nf(0)\n")
    assert r.status == "failed" and "RecursionError" in r.stderr
    # Past the interpreter's guard the C stack overflows: a SIGSEGV, still contained.
    r = run_program("import sys\nsys.setrecursionlimit(10 ** 8)\n"
                    "def f(n):\n    return f(n + 1)\nf(0)\n", limits=FAST)
    assert not r.passed and r.status in {"failed", "timeout"}


@pytest.mark.skipif("uid" not in TOKENS,
                    reason=f"files are only protected when the program runs as its own uid "
                           f"(level {LEVEL})")
def test_files_outside_are_safe():
    victim_dir = Path(tempfile.mkdtemp(prefix="jre-victim-"))
    try:
        victim_dir.chmod(0o755)  # readable and searchable: only ownership protects it
        victim = victim_dir / "precious.txt"
        victim.write_text("precious")
        victim.chmod(0o644)
        code = _src(f"""
            import os, shutil
            v = {str(victim)!r}
            for name, act in [
                ("remove", lambda: os.remove(v)),
                ("overwrite", lambda: open(v, "w").write("pwned")),
                ("create", lambda: open(v + ".new", "w").write("x")),
                ("rename", lambda: os.rename(v, v + ".moved")),
                ("chmod", lambda: os.chmod(v, 0o777)),
                ("rmtree", lambda: shutil.rmtree(os.path.dirname(v))),
            ]:
                try:
                    act()
                    print(name, "DONE")
                except OSError as e:
                    print(name, "denied", type(e).__name__)
            """)
        r = run_program(code)
        assert "DONE" not in r.stdout, r.stdout
        assert r.stdout.count("denied") == 6
        assert victim.read_text() == "precious"
        assert sorted(p.name for p in victim_dir.iterdir()) == ["precious.txt"]
        assert victim.stat().st_mode & 0o777 == 0o644
    finally:
        shutil.rmtree(victim_dir)


def test_workdir_is_fresh_empty_and_removed():
    r = run_program("import os\nprint(os.getcwd())\nprint(os.listdir('.'))\n"
                    "open('scratch.txt', 'w').write('ok')\n")
    cwd, listing = r.stdout.splitlines()[:2]
    assert r.passed and listing == "[]"
    assert not os.path.exists(cwd)


def test_large_file_is_capped():
    code = _src("""
        import os
        try:
            with open("big.bin", "wb") as f:
                for _ in range(64):
                    f.write(b"x" * 65536)
                    f.flush()
        except OSError as e:
            print("refused", e.errno, flush=True)
        print("size", os.path.getsize("big.bin"))
        """)
    r = run_program(code, limits=SandboxLimits(file_size_bytes=1 << 20))
    assert "refused 27" in r.stdout  # EFBIG
    size = int(r.stdout.split("size ")[1].split()[0])
    assert size <= 1 << 20


# --- network, output, environment ----------------------------------------------------------

@pytest.mark.skipif("netns" not in TOKENS, reason=f"no network namespace here (level {LEVEL})")
def test_no_network_even_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        port = server.getsockname()[1]
        code = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "print('connected')\n")
        r = run_program(code, limits=SandboxLimits(wall_seconds=5))
        assert not r.passed and r.status == "failed" and "connected" not in r.stdout
        assert "Error" in r.stderr
        assert accepted == []
    finally:
        stop.set()
        t.join()
        server.close()


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_flood_is_capped(stream):
    cap = 64 * 1024
    t = time.monotonic()
    r = run_program(f"import sys\nwhile True:\n    print('x' * 10000, file=sys.{stream})\n",
                    limits=SandboxLimits(output_bytes=cap, wall_seconds=10))
    assert r.status == "output_limit" and not r.passed and r.output_truncated
    assert len(getattr(r, stream)) == cap
    assert time.monotonic() - t < 5


def test_closing_stdout_and_stderr_ends_cleanly():
    t = time.monotonic()
    r = run_program("import os\nos.close(1)\nos.close(2)\n", limits=SandboxLimits(wall_seconds=5))
    assert not r.passed and r.status == "failed"
    assert time.monotonic() - t < 4


def test_environment_secrets_do_not_leak(monkeypatch):
    secret = f"hunter2-{secrets.token_hex(8)}"
    monkeypatch.setenv("JRE_TEST_SECRET", secret)
    code = _src(f"""
        import os
        print(dict(os.environ))
        for p in ("/proc/{os.getpid()}/environ", "/proc/1/environ"):
            try:
                print(open(p, "rb").read())
            except OSError as e:
                print(p, type(e).__name__)
        """)
    r = run_program(code)
    assert r.passed
    assert secret not in r.stdout and "JRE_TEST_SECRET" not in r.stdout
    assert "HOME" in r.stdout


# --- batch ---------------------------------------------------------------------------------

def test_run_many_preserves_order():
    programs = [f"import time\ntime.sleep({0.05 * (i % 3)})\nprint({i})\n" if i % 4 else
                f"print({i})\nraise SystemExit(3)\n" for i in range(12)]
    results = run_many(programs, workers=3)
    assert [int(r.stdout.split()[0]) for r in results] == list(range(12))
    assert [r.passed for r in results] == [bool(i % 4) for i in range(12)]
    assert all(r.returncode == 3 for r in results[::4])


# --- interpreter semantics (the fork server must behave like a fresh interpreter) ----------

def test_runs_do_not_share_state():
    first = run_program("import math, sys\nmath.jre_leak = 1\nsys.modules['jre_leak'] = math\n")
    second = run_program("import math, sys\n"
                         "print(hasattr(math, 'jre_leak'), 'jre_leak' in sys.modules)\n")
    assert first.passed and second.passed
    assert second.stdout.startswith("False False\n")


def test_random_differs_between_runs():
    code = "import random\nprint(random.random())\n"
    outs = {run_program(code).stdout.split()[0] for _ in range(3)}
    assert len(outs) == 3


def test_main_module_and_exit_codes():
    r = run_program("import sys\nprint(__name__, sys.argv[0].endswith('main.py'), "
                    "__file__ == sys.argv[0], sys.flags.isolated, sys.flags.no_site)\n")
    assert r.passed and r.stdout.startswith("__main__ True True 1 1\n")
    r = run_program("import sys\nsys.exit(3)\n")
    assert (r.status, r.returncode) == ("failed", 3)
    r = run_program("raise SystemExit('bye')\n")
    assert r.returncode == 1 and "bye" in r.stderr
    r = run_program("def f():\n    raise ValueError('boom')\nf()\n")
    assert r.returncode == 1 and "ValueError: boom" in r.stderr and "main.py\", line 2" in r.stderr
    r = run_program("print(input())\n")
    assert r.returncode == 1 and "EOFError" in r.stderr


def test_threads_and_atexit_run_before_exit():
    code = _src("""
        import atexit, threading, time
        atexit.register(lambda: print("atexit ran", flush=True))
        threading.Thread(target=lambda: (time.sleep(0.2), print("thread done", flush=True))).start()
        """)
    r = run_program(code)
    assert "thread done" in r.stdout and "atexit ran" in r.stdout
    r = run_program("import atexit, os\natexit.register(lambda: os._exit(0))\nraise ValueError\n")
    assert not r.passed and r.returncode == 0


def test_sabotaged_exit_still_ends_the_run():
    r = run_program("import os, sys\nos._exit = None\nsys.exit = None\n",
                    limits=SandboxLimits(wall_seconds=5))
    assert r.passed and r.wall_seconds < 4


@pytest.mark.skipif("uid" not in TOKENS, reason=f"no uid drop here (level {LEVEL})")
def test_runs_unprivileged():
    code = _src("""
        import os
        status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
        print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups(),
              status["CapEff"].strip(), status["CapBnd"].strip(), status["NoNewPrivs"].strip())
        """)
    a, b = run_program(code), run_program(code)
    uid, euid, gid, groups, cap_eff, cap_bnd, nnp = a.stdout.split("\n")[0].split(" ", 6)
    assert int(uid) == int(euid) == int(gid) >= sbcaps.UID_BASE and groups == "[]"
    assert cap_eff == "0000000000000000" and nnp == "1"
    assert b.stdout.split()[0] != uid  # a fresh uid per run


@pytest.mark.parametrize("mode", ["forkserver"], indirect=True)
def test_fork_server_death_is_survived():
    assert run_program("print(1)").passed
    for pause in (0.0, 0.1):
        os.kill(spawn.current_fork_server().popen.pid, signal.SIGKILL)
        time.sleep(pause)
        r = run_program("print(1)", limits=SandboxLimits(wall_seconds=5))
        assert r.passed, r
