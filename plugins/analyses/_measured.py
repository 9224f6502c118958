"""Factors measured on each run's own mix instead of copied from a table.

``ppl`` is the perplexity of trace+response of the mix's rows of one domain (STEM by
default, as Appendix D uses) under the base model, ``length_k`` their mean trace+response
length in thousands of the base model's tokens — the two Table 1 columns, measured in one
pass with the ``ppl`` analysis's scorer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.plugins.analyses.ppl import nll_batches
from jre.rows import iter_rows

MEASURABLE = ("ppl", "length_k")


def domain_examples(files: list[Path], domain: str, limit: int | None) -> list[dict[str, Any]]:
    """``{instruction, trace, response}`` of the mix rows of ``domain`` (first ``limit``)."""
    out: list[dict[str, Any]] = []
    for row in iter_rows(files, ["instruction", "reasoning", "response", "domain"]):
        if row["domain"] == domain:
            out.append({"instruction": row["instruction"] or "", "trace": row["reasoning"],
                        "response": row["response"]})
            if limit is not None and len(out) >= limit:
                return out
    return out


def measure(inputs: Any, names: list[str], *, domain: str = "stem", limit: int | None = 1000,
            batch_size: int = 4, max_length: int = 32768) -> Any:
    """``inputs.factors`` with ``names`` replaced by values measured on ``<run>/mix``.

    A run whose mix holds no row of ``domain`` gets no value (as experiment 8 has no STEM
    factors).
    """
    import pandas as pd
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    unknown = sorted(set(names) - set(MEASURABLE))
    if unknown:
        raise UserError(f"cannot measure {', '.join(unknown)}; measurable: {', '.join(MEASURABLE)}",
                        field="analyze.aicc.measured")
    if not inputs.base_model:
        raise UserError("measuring factors needs the base model (analyze.base_model or train.base_model)",
                        field="analyze.aicc.measured")
    tokenizer = AutoTokenizer.from_pretrained(inputs.base_model)
    model = AutoModelForCausalLM.from_pretrained(inputs.base_model).eval()
    factors = inputs.factors.copy() if inputs.factors is not None else pd.DataFrame({"run": []})
    factors["run"] = factors["run"].astype(str)
    for run in sorted(set(factors["run"])):
        files = inputs.datasets.get(f"{run}/mix")
        if not files:
            raise UserError(f"run {run!r} has no mix dataset to measure factors on",
                            field="analyze.aicc.measured")
        examples = domain_examples([Path(f) for f in files], domain, limit)
        total = tokens = 0.0
        if examples:
            for nll, count in nll_batches(model, tokenizer, examples, batch_size=batch_size,
                                          max_length=max_length, device="cuda" if torch.cuda.is_available() else "cpu"):
                total += nll
                tokens += count
        values = {"ppl": math.exp(total / tokens) if tokens else None,
                  "length_k": tokens / len(examples) / 1000 if examples else None}
        for name in names:
            factors.loc[factors["run"] == run, name] = values[name]
    return factors
