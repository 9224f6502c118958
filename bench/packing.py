"""Padding vs packing: share of non-padding tokens on Table-1-like lengths, and CPU tokens/s.

Lengths: 10,000 examples per Table-1 mean (0.8k, 1.4k, 2.1k, 2.3k, 7.7k, 9.3k tokens), drawn
log-normally (sigma 0.8) and capped at the 32,768-token context. "Padded" is the paper's
setup: every example padded to the context. "Packed" is jre's best-fit packing into rows of
32,768 tokens. The throughput part trains a tiny Qwen3 model on CPU on a scaled-down sample
(lengths / 64, context 512) both ways and counts real (non-padding) tokens per second.

Last line: ``packing efficiency_packed=<x> efficiency_padded=<y>`` (target: packed ≥ 0.95).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # noqa: E402  (run from a checkout)

from jre.lib.train.data import (  # noqa: E402
    PackedCollator,
    PaddingCollator,
    model_inputs,
    pack_groups,
    packed_efficiency,
    padded_efficiency,
)

MEANS = (800, 1400, 2100, 2300, 7700, 9300)
CONTEXT = 32768
SIGMA = 0.8


def draw(mean: int, n: int, rng: np.random.Generator) -> list[int]:
    mu = np.log(mean) - SIGMA ** 2 / 2  # so that the expected value is `mean`
    return np.clip(rng.lognormal(mu, SIGMA, n), 16, CONTEXT).astype(int).tolist()


def throughput(lengths: list[int]) -> tuple[float, float]:
    """Real tokens/s of forward+backward on a tiny model: padded to the context vs packed."""
    import torch
    from transformers import AutoModelForCausalLM

    from jre.tiny import build_tiny_model

    torch.manual_seed(0)
    context = CONTEXT // 64
    small = [max(8, min(context, n // 64)) for n in lengths]
    examples = [{"input_ids": list(np.random.default_rng(i).integers(10, 200, n)),
                 "labels": list(np.random.default_rng(i).integers(10, 200, n))} for i, n in enumerate(small)]
    with tempfile.TemporaryDirectory() as tmp:
        model = AutoModelForCausalLM.from_pretrained(build_tiny_model(Path(tmp) / "m"), dtype=torch.float32)
    rates = []
    for packed in (False, True):
        if packed:
            groups = pack_groups(small, context)
            batches = [PackedCollator(0)([[examples[i] for i in g] for g in groups[k:k + 4]])
                       for k in range(0, len(groups), 4)]
        else:
            padder = PaddingCollator(0, pad_to_multiple_of=context)  # the paper pads to the context
            batches = [padder(examples[k:k + 4]) for k in range(0, len(examples), 4)]
        real, start = 0, time.perf_counter()
        for batch in batches:
            out = model(**model_inputs(batch), use_cache=False)
            out.loss.backward()
            real += int(batch["real_tokens"])
        rates.append(real / (time.perf_counter() - start))
    return rates[0], rates[1]


def main() -> None:
    rng = np.random.default_rng(0)
    real = padded_positions = packed_positions = 0
    for mean in MEANS:
        lengths = draw(mean, 10_000, rng)
        groups = pack_groups(lengths, CONTEXT)
        eff_pack = packed_efficiency(lengths, groups, CONTEXT)
        eff_pad = padded_efficiency(lengths, batch=1, pad_to=CONTEXT)
        print(f"mean {mean:>5}: realised mean {np.mean(lengths):7.0f}  padded {eff_pad:.3f}  "
              f"packed {eff_pack:.3f}  ({len(groups)} rows, {len(lengths) / len(groups):.1f} examples/row)")
        real += sum(lengths)
        padded_positions += len(lengths) * CONTEXT
        packed_positions += len(groups) * CONTEXT
    sample = draw(2300, 64, np.random.default_rng(1))
    padded_rate, packed_rate = throughput(sample)
    print(f"tiny model on CPU (context 512, 64 examples): padded {padded_rate:,.0f} real tokens/s, "
          f"packed {packed_rate:,.0f} real tokens/s ({packed_rate / padded_rate:.1f}x)")
    print(f"packing efficiency_packed={real / packed_positions:.4f} efficiency_padded={real / padded_positions:.4f}")


if __name__ == "__main__":
    main()
