"""Check that jre's extras resolve with pip's resolver, installing nothing.

    python scripts/check_extras.py [--only NAME ...]

Each case is ``pip install --dry-run --ignore-installed --report`` of this checkout with an
extra, as a user would install it: the CPU sets with torch 2.13.0 pinned as the Makefile
does (and no CUDA package may come with them), the GPU sets without a torch pin (vLLM pins
its own). Needs the package index; a vLLM resolve reads ~230 packages' metadata (minutes).
Prints one line per case with the versions it resolved; the last line counts the failures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("torch", "transformers", "accelerate", "deepspeed", "vllm", "lm-eval", "peft", "datasets")

# name: (requirements, CPU-only)
CASES: dict[str, tuple[list[str], bool]] = {
    "test": (["torch==2.13.0", f"{ROOT}[test]"], True),
    "deepspeed": (["torch==2.13.0", f"{ROOT}[deepspeed]"], True),
    "lmeval": (["torch==2.13.0", f"{ROOT}[lmeval]"], True),
    "vllm": ([f"{ROOT}[vllm]"], False),
    "vllm+deepspeed": ([f"{ROOT}[vllm,deepspeed]"], False),
    "gpu-test": ([f"{ROOT}[vllm,deepspeed,test]"], False),  # a GPU node running the test suite
}


def resolve(requirements: list[str]) -> tuple[dict[str, str] | None, str]:
    """Package name → version pip would install, or ``None`` and pip's last words."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                               "--quiet", "--report", str(report), *requirements],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith("WARNING: Location")]
            return None, " | ".join(lines[-3:])
        data = json.loads(report.read_text())
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
            for item in data["install"]}, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="check only this case")
    names = parser.parse_args().only or list(CASES)
    failures = 0
    for name in names:
        requirements, cpu_only = CASES[name]
        versions, error = resolve(requirements)
        if versions is None:
            failures += 1
            print(f"{name}: does not resolve: {error}", flush=True)
            continue
        cuda = sorted(p for p in versions if p.startswith("nvidia-") or p == "triton")
        if cpu_only and cuda:
            failures += 1
            print(f"{name}: pulls CUDA packages on a CPU install: {', '.join(cuda[:5])}", flush=True)
            continue
        shown = ", ".join(f"{p} {versions[p]}" for p in SHOWN if p in versions)
        print(f"{name}: ok ({len(versions)} packages; {shown})", flush=True)
    print(f"{len(names) - failures} resolved, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
