"""Throughput of the openai engine against a loopback server that answers after 250 ms.

2,000 requests at concurrency 64: the ceiling is 64 / 0.25 s = 256 requests/s. Also measured:
a plain sequential loop with the official ``openai`` client on the same server (on a sample of
requests, since 2,000 × 250 ms would take over eight minutes), and the CPU time jre spends per
request (this process only; the server runs in its own process).
Last line: ``synth_throughput efficiency=<achieved / 256>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from openai_server import ServerProcess  # noqa: E402

LATENCY, REQUESTS, CONCURRENCY, SEQUENTIAL_SAMPLE = 0.25, 2000, 64, 40


def main() -> None:
    from jre.plugin_manager import get_plugins
    from jre.records import ChatRequest, Sampling

    limit = CONCURRENCY / LATENCY
    with ServerProcess(latency=LATENCY) as server:
        engine = get_plugins().get("engine", "openai")
        client = engine.load(engine.parse_config({"model": "teacher", "base_url": server.base_url,
                                                  "concurrency": CONCURRENCY}))
        requests = [ChatRequest(id=f"r{i}", messages=[{"role": "user", "content": f"Question {i}?"}],
                                sampling=Sampling(max_tokens=256)) for i in range(REQUESTS)]
        cpu0, t0 = time.process_time(), time.perf_counter()
        done = sum(1 for _ in client.generate(requests))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        achieved = done / wall

        import openai

        official = openai.OpenAI(base_url=server.base_url, api_key="unused")
        t0 = time.perf_counter()
        for i in range(SEQUENTIAL_SAMPLE):
            official.chat.completions.create(model="teacher", max_tokens=256,
                                             messages=[{"role": "user", "content": f"Question {i}?"}])
        sequential = SEQUENTIAL_SAMPLE / (time.perf_counter() - t0)

    print(f"requests: {done} at concurrency {CONCURRENCY}, server latency {LATENCY * 1000:.0f} ms "
          f"(limit {limit:.0f} req/s)")
    print(f"jre openai engine: {achieved:.1f} req/s ({wall:.2f} s)")
    print(f"sequential official openai client: {sequential:.2f} req/s ({SEQUENTIAL_SAMPLE} requests)")
    print(f"jre CPU time per request: {cpu / done * 1000:.3f} ms")
    print(f"synth_throughput efficiency={achieved / limit:.3f}")


if __name__ == "__main__":
    main()
