"""Peak memory of the mix stage on 100k and on 1M synthetic triples of about 2 KB each.

Each size runs ``jre mix`` in its own subprocess (the real CLI) on a JSONL file of Triple
records, taking 90% of the rows with dedupe on; the peak RSS comes from the kernel's
accounting of that child (``wait4``). Memory should not grow with the row count: the mixer
keeps 24 bytes per candidate row and streams the text.

Last line: ``mix_memory rss_ratio=<peak(1M) / peak(100k)> rows_per_s=<rows/s at 1M>``
(target: rss_ratio ≤ 1.3). Pass a folder as the first argument to keep the data elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILLER = ("Let us reason step by step about the quantities involved and check every step. " * 20)[:1500]


def write_triples(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": f"t{i:08d}", "instruction": f"Problem {i}: compute the sum of the first {i % 997 + 3} "
                                                     f"odd numbers and explain the pattern you see. " * 2,
                   "trace": f"{FILLER} Case {i}.", "response": f"The answer is {(i % 997 + 3) ** 2}. " * 8,
                   "lang_in": "en", "lang_trace": "en", "domain": "stem", "source": "bench", "teacher": "bench",
                   "finish_reason": "stop"}
            fh.write(json.dumps(row) + "\n")


def run_mix(folder: Path, n: int) -> tuple[int, float, int]:
    """(peak RSS in bytes, seconds, rows written) of ``jre mix`` on ``n`` triples."""
    data = folder / f"triples_{n}.jsonl"
    if not data.exists():
        write_triples(data, n)
    count = n * 9 // 10
    recipe = folder / f"mix_{n}.toml"
    recipe.write_text(f'schema_version = 1\nname = "bench-{n}"\nrun_dir = "{folder / f"run_{n}"}"\n'
                      f'[mix]\n[[mix.components]]\nname = "all"\ncount = {count}\nsource = "{data}"\n',
                      encoding="utf-8")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from jre.cli import main; main()", "mix", str(recipe), "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"jre mix failed on {n} rows: {proc.stderr.read().decode()[-2000:]}")
    manifest = json.loads((folder / f"run_{n}" / "mix" / "manifest.json").read_text())
    return usage.ru_maxrss * 1024, seconds, manifest["counts"]["rows"]


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="jre-mix-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        results = {}
        for n in (100_000, 1_000_000):
            peak, seconds, rows = run_mix(folder, n)
            size = (folder / f"triples_{n}.jsonl").stat().st_size
            print(f"{n:>9,} triples ({size / 1e9:.2f} GB): peak RSS {peak / 2**20:,.0f} MiB, "
                  f"{seconds:.1f} s, {rows:,} rows written")
            results[n] = (peak, seconds, rows)
        ratio = results[1_000_000][0] / results[100_000][0]
        rate = results[1_000_000][2] / results[1_000_000][1]
        print(f"mix_memory rss_ratio={ratio:.3f} rows_per_s={rate:.0f}")
    finally:
        if len(sys.argv) <= 1:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
