"""LiveCodeBench code generation: the last fenced code block of the answer is judged by the
problem's public and private tests in jre's sandbox; pass@1 with N=10.

Two test types, as LiveCodeBench's own runner has them:

- *stdin* (AtCoder, Codeforces): the program runs once per test with the test's input as
  stdin, inside one sandboxed run; the outputs come back and are compared here, the way
  LiveCodeBench does (whole output stripped, split into lines, each line stripped; same
  number of lines; each line equal as text or, token by token, as ``Decimal``);
- *functional* (LeetCode, ``metadata.func_name``): a split check — the checker process holds
  the tests and calls ``Solution.<func_name>`` in the candidate's process; a returned tuple
  counts as a list, the result must ``==`` the expected JSON value.

Private tests are stored as ``base64(zlib(pickle(json string)))``; they are unpickled with
an unpickler that refuses every global, so only plain data (a string) can come out."""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from huggingface_hub import HfApi, hf_hub_download
from pydantic import Field

from jre import hookimpl
from jre.errors import UserError
from jre.extract import last_code_block
from jre.kinds.benchmark import (
    Benchmark,
    BenchmarkConfig,
    DatasetSpec,
    Item,
    LoadedData,
    Scored,
    check_fields,
)
from jre.lib.sandbox import (
    SandboxLimits,
    SandboxResult,
    check_many,
    isolation_level,
    run_many,
)
from jre.passk import pass_at_k
from jre.records import Sampling

PROMPT_STDIN = (
    "You will be given a question (problem specification) and will generate a correct Python "
    "program that matches the specification and passes all tests.\n\n"
    "### Question:\n{question}\n\n### Format: Read the inputs from stdin, solve the problem "
    "and write the answer to stdout (do not directly test on the sample inputs). Enclose your "
    "code within delimiters as follows.\n```python\n# YOUR CODE HERE\n```\n")
PROMPT_FUNCTIONAL = (
    "You will be given a question (problem specification) and will generate a correct Python "
    "program that matches the specification and passes all tests.\n\n"
    "### Question:\n{question}\n\n### Format: You will use the following starter code to write "
    "the solution to the problem and enclose your code within delimiters.\n"
    "```python\n{starter}\n```\n")

# Names LiveCodeBench's runner puts in front of every solution (models rely on `List`, etc.).
PRELUDE = ("from typing import *\nfrom collections import *\nfrom itertools import *\n"
           "from functools import *\nfrom heapq import *\nfrom bisect import *\n"
           "from math import *\nimport sys, math, collections, itertools, functools, heapq, "
           "bisect, re, string\nsys.setrecursionlimit(50000)\n")


class LiveCodeBenchConfig(BenchmarkConfig):
    """Release window (``contest_date`` from ``start_date`` to ``end_date``, ISO dates, both
    inclusive), the hub files read, the time allowed per test (LiveCodeBench: 6 s; a
    solution's run gets it times its number of tests, CPU and twice that wall), memory, and
    parallel runs."""

    start_date: str | None = None
    end_date: str | None = None
    files: list[str] = Field(default_factory=lambda: ["test5.jsonl", "test6.jsonl"])
    seconds_per_test: float = Field(default=6.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    workers: int | None = Field(default=None, ge=1)


class _OnlyPlainData(pickle.Unpickler):
    """An unpickler that builds no object beyond the builtin data types (no globals)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def decode_private(blob: str) -> list[dict[str, Any]]:
    """``private_test_cases`` as a list of ``{"input", "output", "testtype"}``: plain JSON,
    or LiveCodeBench's base64(zlib(pickle(JSON string)))."""
    try:
        return list(json.loads(blob))
    except (json.JSONDecodeError, TypeError):
        pass
    raw = _OnlyPlainData(io.BytesIO(zlib.decompress(base64.b64decode(blob)))).load()
    if not isinstance(raw, str):
        raise TypeError("private tests are not a pickled JSON string")
    return list(json.loads(raw))


def tests_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Public then private tests of a row."""
    try:
        public = json.loads(data["public_test_cases"]) if data.get("public_test_cases") else []
        private = (decode_private(data["private_test_cases"])
                   if data.get("private_test_cases") else [])
    except (ValueError, TypeError, pickle.UnpicklingError, zlib.error) as exc:
        raise UserError(f"problem {data.get('question_id')}: unreadable tests ({exc})",
                        where="public_test_cases/private_test_cases") from None
    return [*public, *private]


def func_name(data: dict[str, Any]) -> str | None:
    """``metadata.func_name`` (metadata is a JSON string in the dataset), else ``None``."""
    meta = data.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta) if meta.strip() else {}
    return meta.get("func_name") or None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except InvalidOperation:
        return None


def same_output(got: str, expected: str) -> bool:
    """LiveCodeBench's stdin verdict: line by line, stripped, text or Decimal-equal tokens."""
    a, b = _lines(got), _lines(expected)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        dx, dy = _decimals(x), _decimals(y)
        if dx is None or dy is None or dx != dy:
            return False
    return True


def stdin_program(code: str, inputs: list[str]) -> str:
    """One program that runs ``code`` as ``__main__`` once per input (stdin replaced, stdout
    captured) and prints the captured outputs as one JSON line; a test that raises or
    exits non-zero stops the run (its output is then missing)."""
    return (
        "import io as _io, json as _json, sys as _sys\n"
        f"_SRC = {PRELUDE + code!r}\n_INPUTS = {inputs!r}\n_OUT = _sys.stdout\n_got = []\n"
        "_code = compile(_SRC, '<solution>', 'exec')\n"
        "for _inp in _INPUTS:\n"
        "    _sys.stdin = _io.StringIO(_inp)\n"
        "    _buf = _sys.stdout = _io.StringIO()\n"
        "    try:\n"
        "        exec(_code, {'__name__': '__main__', '__builtins__': __builtins__})\n"
        "    except SystemExit as _e:\n"
        "        if _e.code not in (None, 0):\n"
        "            break\n"
        "    except BaseException:\n"
        "        break\n"
        "    finally:\n"
        "        _sys.stdout = _OUT\n"
        "    _got.append(_buf.getvalue())\n"
        "_OUT.write(_json.dumps(_got) + '\\n')\n")


def functional_checker(name: str, tests: list[dict[str, Any]]) -> str:
    """The checker of a split check: each test's input lines are JSON arguments."""
    cases = [([json.loads(line) for line in t["input"].split("\n")], json.loads(t["output"]))
             for t in tests]
    return (f"_f = _jre_remote.function('Solution.{name}')\n"
            f"for _args, _want in {cases!r}:\n"
            "    _got = _f(*_args)\n"
            "    if isinstance(_got, tuple):\n"
            "        _got = list(_got)\n"
            "    assert _got == _want, 'wrong answer'\n")


class LiveCodeBench(Benchmark):
    """LiveCodeBench code_generation_lite, v5–v6 new problems (342), pass@1, N=10."""

    name = "livecodebench"
    short_name = "LCB"
    description = "LiveCodeBench: code generation, stdin and functional tests, sandboxed, pass@1"
    config_model = LiveCodeBenchConfig
    dataset = DatasetSpec("livecodebench/code_generation_lite", split="test")
    fields = ("question_id", "question_content", "starter_code", "platform", "contest_date",
              "public_test_cases", "private_test_cases", "metadata")
    id_field = "question_id"
    sampling = Sampling(n=10, temperature=0.6, top_p=0.95, max_tokens=32768)
    metric = "pass@1"
    ks = (1,)

    def load(self, config: Any, base_dir: Any = None) -> Any:
        if getattr(config, "path", None):
            return super().load(config, base_dir)
        return self._load_hub(config)

    def _load_hub(self, config: Any) -> Any:
        """The release files of the hub repository (it is a script dataset; the JSONL files
        are read directly), pinned to the revision read."""
        spec = self.spec(config)
        assert spec is not None
        files = getattr(config, "files", ["test5.jsonl", "test6.jsonl"])
        try:
            revision = HfApi().dataset_info(spec.id, revision=spec.revision).sha
            rows = []
            for name in files:
                local = hf_hub_download(spec.id, name, repo_type="dataset", revision=revision)
                with open(local, encoding="utf-8") as fh:
                    rows += [json.loads(line) for line in fh if line.strip()]
        except Exception as exc:  # noqa: BLE001 - offline, unknown id or file: one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot load dataset: {first}", where=spec.id) from None
        check_fields(rows, self.fields, spec.id)
        items = self.items(rows, config)
        limit = getattr(config, "limit", None)
        return LoadedData(items=items[:limit] if limit else items,
                          source={"id": spec.id, "config": ",".join(files), "split": None,
                                  "revision": revision})

    def items(self, rows: list[dict[str, Any]], config: Any) -> list[Item]:
        start, end = getattr(config, "start_date", None), getattr(config, "end_date", None)
        kept = [r for r in rows
                if (not start or str(r["contest_date"])[:10] >= start)
                and (not end or str(r["contest_date"])[:10] <= end)]
        if not kept:
            raise UserError(f"no problem in the release window {start or '…'} to {end or '…'}",
                            where="contest_date")
        return super().items(kept, config)

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        data = item.data
        if func_name(data):
            text = PROMPT_FUNCTIONAL.format(question=data["question_content"],
                                            starter=data["starter_code"])
        else:
            text = PROMPT_STDIN.format(question=data["question_content"])
        return [{"role": "user", "content": text}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        return last_code_block(text)

    def _limits(self, config: Any, tests: Sequence[dict[str, Any]] = ()) -> SandboxLimits:
        per_test = getattr(config, "seconds_per_test", 6.0)
        memory_mb = getattr(config, "memory_mb", 2048)
        cpu = per_test * max(len(tests), 1)
        # All of a run's outputs come back at once: room for twice the expected ones.
        output = max(1 << 20, 2 * sum(len(t.get("output", "")) for t in tests) + (64 << 10))
        return SandboxLimits(cpu_seconds=cpu, wall_seconds=2 * cpu + 5,
                             memory_bytes=memory_mb << 20, output_bytes=output)

    def score(self, answer: Any, item: Item, config: Any) -> Any:
        return self.score_many([answer], item, config)[0]

    def score_many(self, answers: Sequence[Any], item: Item, config: Any) -> list[Any]:
        tests = tests_of(item.data)
        name = func_name(item.data)
        codes = [a for a in answers if a]
        workers, limits = getattr(config, "workers", None), self._limits(config, tests)
        if name:
            checker = functional_checker(name, tests)
            runs = check_many([(PRELUDE + c, checker) for c in codes], workers=workers,
                              limits=limits)
            verdicts = iter([_scored(r, r.passed) for r in runs])
        else:
            inputs = [t["input"] for t in tests]
            runs = run_many([stdin_program(c, inputs) for c in codes], workers=workers,
                            limits=limits)
            verdicts = iter([_stdin_verdict(r, tests) for r in runs])
        return [next(verdicts) if a else 0.0 for a in answers]

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        n, c = len(scores), sum(1 for s in scores if s)
        return {f"pass@{k}": pass_at_k(n, c, k) for k in self.ks if k <= n}

    def result_extras(self, config: Any) -> dict[str, Any]:
        return {"sandbox": {"isolation": isolation_level(),
                            "test_mode": "split (functional); stdin outputs compared here",
                            "limits": {"seconds_per_test": getattr(config, "seconds_per_test", 6.0),
                                       "memory_mb": getattr(config, "memory_mb", 2048)}},
                "release_window": {"start_date": getattr(config, "start_date", None),
                                   "end_date": getattr(config, "end_date", None)}}


def _stdin_verdict(run: SandboxResult, tests: list[dict[str, Any]]) -> Scored:
    """Compare the outputs the stdin run printed (its last line before the nonce)."""
    if not run.passed:
        return _scored(run, False)
    lines = [line for line in run.stdout.split("\n") if line.strip()]
    try:
        got = json.loads(lines[-2]) if len(lines) >= 2 else None
    except json.JSONDecodeError:
        got = None
    if not isinstance(got, list) or not all(isinstance(g, str) for g in got):
        return _scored(run, False, "no outputs")
    ok = len(got) == len(tests) and all(same_output(g, t["output"]) for g, t in zip(got, tests))
    failed = next((i for i, (g, t) in enumerate(zip(got, tests))
                   if not same_output(g, t["output"])), len(got))
    return _scored(run, ok, None if ok else f"test {failed} failed")


def _scored(run: SandboxResult, passed: bool, why: str | None = None) -> Scored:
    status: dict[str, Any] = {"sandbox": run.status, "mode": run.mode}
    if why or run.detail:
        status["detail"] = why or run.detail
    return Scored(float(passed), status)


@hookimpl
def register_benchmarks(register):
    register(LiveCodeBench())
