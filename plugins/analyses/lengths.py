"""``lengths``: trace+response token-length statistics per dataset (Table 1's length column).

Lengths are counted with the student's tokenizer (``tokenizer``, default the base model) on
the assistant turn exactly as training sees it (``<think>\\n…\\n</think>\\n\\n…``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.chat import assistant_text
from jre.errors import UserError
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection, mix_by_run
from jre.rows import iter_rows


class LengthsConfig(StrictModel):
    """Options of ``lengths``."""

    tokenizer: str | None = None  # default: the inputs' base model
    datasets: list[str] | None = None  # dataset names to measure; default: all
    max_examples: int | None = Field(default=None, ge=1)  # per dataset; default: every example


def iter_examples(files: list[Path], limit: int | None = None) -> Iterator[dict[str, Any]]:
    """``{instruction, trace, response}`` of each example in synth JSONL shards or mix Parquet."""
    count = 0
    for path in files:
        # Mix Parquet names the trace `reasoning`; synth triples name it `trace`.
        trace = "reasoning" if path.suffix == ".parquet" else "trace"
        for row in iter_rows([path], ["instruction", trace, "response"]):
            if limit is not None and count >= limit:
                return
            count += 1
            yield {"instruction": row.get("instruction") or "", "trace": row.get(trace),
                   "response": row.get("response")}


def select_datasets(inputs: AnalysisInputs, names: list[str] | None, field: str) -> dict[str, list[Path]]:
    """The datasets to measure (all, or those named; ``*`` patterns like ``*/mix`` match
    several), each with at least one file."""
    from fnmatch import fnmatchcase

    if names is None:
        chosen = dict(inputs.datasets)
    else:
        chosen = {}
        for name in names:
            matches = [d for d in inputs.datasets if fnmatchcase(d, name)] if "*" in name else [name]
            chosen.update({d: inputs.datasets.get(d, []) for d in matches or [name]})
    missing = [n for n, files in chosen.items() if not files]
    if names is not None and missing:
        raise UserError(f"no data for dataset(s) {', '.join(missing)}; known: "
                        f"{', '.join(inputs.datasets) or '(none)'}", field=field)
    return {n: f for n, f in chosen.items() if f}


class Lengths(Analysis[LengthsConfig]):
    """Token lengths of trace+response per dataset."""

    name = "lengths"
    description = "trace+response token-length statistics per dataset"
    config_model = LengthsConfig

    def run(self, config: LengthsConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import numpy as np
        import pandas as pd
        from transformers import AutoTokenizer

        config = config or LengthsConfig()
        name = config.tokenizer or inputs.base_model
        if not name:
            raise UserError("no tokenizer to count with: set `tokenizer` or give a base model",
                            field="analyze.lengths.tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(name)
        rows = []
        for dataset, files in select_datasets(inputs, config.datasets, "analyze.lengths.datasets").items():
            texts, traces = [], []
            for ex in iter_examples(files, config.max_examples):
                texts.append(assistant_text(ex["trace"], ex["response"]))
                traces.append(ex["trace"])
            if not texts:
                continue
            ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
            lengths = np.array([len(x) for x in ids])
            trace_ids = tokenizer([t for t in traces if t is not None], add_special_tokens=False)["input_ids"] \
                if any(t is not None for t in traces) else []
            rows.append({"dataset": dataset, "n": len(texts), "mean_tokens": float(lengths.mean()),
                         "median_tokens": float(np.median(lengths)),
                         "p90_tokens": float(np.quantile(lengths, 0.9)),
                         "max_tokens": int(lengths.max()),
                         "mean_trace_tokens": float(np.mean([len(x) for x in trace_ids])) if trace_ids else None,
                         "share_with_trace": sum(t is not None for t in traces) / len(traces)})
        table = pd.DataFrame(rows, columns=["dataset", "n", "mean_tokens", "median_tokens",
                                            "p90_tokens", "max_tokens", "mean_trace_tokens",
                                            "share_with_trace"])
        lines = [f"Trace+response token lengths ({name}) of {len(table)} dataset(s)."]
        lines += [f"- {r['dataset']}: mean {r['mean_tokens']:.0f} tokens (n={r['n']})"
                  for r in table.to_dict("records")]
        return AnalysisOutput(summary="\n".join(lines), tables={"lengths": table},
                              data={"mean_tokens": dict(zip(table["dataset"], table["mean_tokens"])),
                                    "tokenizer": name},
                              sections=[ReportSection("{analysis} · lengths", table="lengths", summary=True)],
                              factor_columns={"length (tokens)": mix_by_run(table, "mean_tokens")})


@hookimpl
def register_analyses(register):
    register(Lengths())
