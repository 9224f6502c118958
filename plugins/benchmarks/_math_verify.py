"""math-verify grading in a worker process with a time-out of its own, and the base of the
benchmarks it grades (not a plugin).

math-verify's own time-outs use SIGALRM, which fails outside the main thread; they are
switched off here and each grade instead runs in a separate process that is killed and
restarted when it takes longer than ``timeout`` seconds (a timed-out answer counts wrong).
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from jre.extract import extract_math
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, Item


def grade(gold: str, answer: str) -> bool:
    """math-verify: gold wrapped in ``$…$``; the answer NFKC-normalised, ``\\boxed`` first."""
    import unicodedata

    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    gold_parsed = parse(f"${unicodedata.normalize('NFKC', gold)}$", parsing_timeout=None)
    target = parse(unicodedata.normalize("NFKC", answer), parsing_timeout=None,
                   extraction_config=[LatexExtractionConfig(boxed_match_priority=0),
                                      ExprExtractionConfig()])
    if not gold_parsed or not target:
        return False
    return bool(verify(gold_parsed, target, timeout_seconds=None))


def _serve(conn: Any) -> None:
    import logging

    # The "timeout is disabled" notice is expected: the time-out is this process's parent.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    while True:
        try:
            gold, answer = conn.recv()
        except EOFError:
            return
        try:
            ok = grade(gold, answer)
        except Exception:  # a malformed answer is a wrong answer, not a crash
            ok = False
        conn.send(ok)


class MathGrader:
    """One grading worker process, restarted after a time-out; use :meth:`close` at the end."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._proc: Any = None
        self._conn: Any = None
        self.timeouts = 0

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # no fork of a threaded parent (engines, tokenizers)
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent

    def grade(self, gold: str, answer: str) -> bool:
        """Whether ``answer`` matches ``gold``; False on time-out."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((gold, answer))
        # The first call also waits for the worker to import sympy and math-verify.
        if self._conn.poll(self.timeout + (30.0 if not getattr(self, "_warm", False) else 0.0)):
            self._warm = True
            return bool(self._conn.recv())
        self.timeouts += 1
        self.close()
        return False

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
            self._conn.close()
            self._proc = None
            self._warm = False


class MathConfig(BenchmarkConfig):
    """``grade_timeout``: seconds one math-verify grade may take (its worker is then killed)."""

    grade_timeout: float = Field(default=10.0, gt=0)


class MathBenchmark(Benchmark):
    """A benchmark of final answers graded by math-verify: :func:`jre.extract.extract_math`
    reads the answer, :class:`MathGrader` compares it with the row's :attr:`answer_field`.
    Subclasses name the dataset and write :meth:`prompt`."""

    config_model = MathConfig
    answer_field: ClassVar[str] = "answer"

    def __init__(self) -> None:
        self._grader: Any = None

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        """The final answer as LaTeX (boxes, answer phrases such as 「答えは12です」 or
        "the answer is 5", revisions after a box), or ``None`` when none is stated."""
        return extract_math(text)

    def score(self, answer: Any, item: Item, config: Any) -> float:
        return self.score_many([answer], item, config)[0]

    def score_many(self, answers: Sequence[Any], item: Item, config: Any) -> list[float]:
        timeout = getattr(config, "grade_timeout", 10.0)
        if self._grader is None or self._grader.timeout != timeout:
            self._grader = MathGrader(timeout)
        gold = self.reference(item)
        return [float(self._grader.grade(gold, a)) if a else 0.0 for a in answers]

    def reference(self, item: Item) -> str:
        return str(item.data[self.answer_field])
