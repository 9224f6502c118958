"""aicc with `measured = ["ppl", "length_k"]`: factors measured on each run's own mix."""

from __future__ import annotations

import math

import pandas as pd
import pytest


def _mix(folder, rows):
    from jre.plugins.mixers._write import ParquetShards, to_example

    folder.mkdir(parents=True)
    writer = ParquetShards(folder)
    for i, (domain, trace, response) in enumerate(rows):
        writer.write(to_example({"id": str(i), "instruction": f"Question {i}?", "trace": trace,
                                 "response": response, "lang_in": "en"},
                                component=domain, strip_trace=False, domain=domain))
    return writer.close()


def test_measured_factors_replace_the_declared_ones(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    from jre.chat import assistant_text
    from jre.kinds.analysis import AnalysisInputs, results_frame
    from jre.plugins.analyses.aicc import Aicc, AiccConfig

    long = ("Let me check this again, step by step. " * 6, "The answer is 7.")
    short = ("Add them.", "7.")
    mixes = {"a": [("stem", *long)] * 3, "b": [("stem", *short)] * 3 + [("chat", *long)],
             "c": [("stem", *long), ("stem", *short)], "d": [("chat", *short)]}
    datasets = {f"{run}/mix": _mix(tmp_path / run, rows) for run, rows in mixes.items()}
    results = results_frame([{"run": run, "benchmark": "B", "metric": "acc", "score": 0.5,
                              "failure_rate": rate} for run, rate in zip("abcd", (0.3, 0.1, 0.2, 0.0))])
    declared = pd.DataFrame({"run": list("abcd"), "ppl": [9.0] * 4, "length_k": [9.0] * 4})
    inputs = AnalysisInputs(results=results, factors=declared, datasets=datasets, base_model=str(tiny_model))
    out = Aicc().run(AiccConfig(factors=["length_k"], measured=["ppl", "length_k"]), inputs)
    values = out.data["factor_values"]
    tok = AutoTokenizer.from_pretrained(tiny_model)

    def k_tokens(trace, response):
        return len(tok(assistant_text(trace, response), add_special_tokens=False)["input_ids"]) / 1000

    assert values["a"]["length_k"] == pytest.approx(k_tokens(*long))
    assert values["b"]["length_k"] == pytest.approx(k_tokens(*short))  # its chat row is not STEM
    assert values["c"]["length_k"] == pytest.approx((k_tokens(*long) + k_tokens(*short)) / 2)
    assert math.isnan(values["d"]["length_k"])  # no STEM rows: no factor, as experiment 8
    assert out.data["measured"] == ["ppl", "length_k"]
    full = Aicc().run(AiccConfig(factors=["ppl"], measured=["ppl"]), inputs).data["factor_values"]
    assert all(1 < full[run]["ppl"] < 1000 and not math.isclose(full[run]["ppl"], 9.0) for run in "abc")
