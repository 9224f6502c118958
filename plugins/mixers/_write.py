"""Writing the mix as Parquet shards in chat form, and measuring token lengths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jre.chat import assistant_text, ensure_chat_template


def mix_schema():
    """The Arrow schema of a mix dataset (see :data:`jre.kinds.mixer.MIX_COLUMNS`)."""
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("id", pa.string()), ("messages", pa.list_(message)), ("instruction", pa.string()),
        ("reasoning", pa.string()), ("response", pa.string()), ("lang_in", pa.string()),
        ("lang_trace", pa.string()), ("domain", pa.string()), ("source", pa.string()),
        ("teacher", pa.string()), ("component", pa.string()),
    ])


def to_example(row: dict[str, Any], *, component: str, strip_trace: bool, domain: str | None) -> dict[str, Any]:
    """A source Triple record as one row of the mix dataset."""
    trace = None if strip_trace else row.get("trace")
    response = row.get("response") or ""
    return {
        "id": str(row["id"]),
        "messages": [{"role": "user", "content": row["instruction"]},
                     {"role": "assistant", "content": assistant_text(trace, response)}],
        "instruction": row["instruction"],
        "reasoning": trace,
        "response": response,
        "lang_in": row.get("lang_in") or "",
        "lang_trace": None if trace is None else row.get("lang_trace"),
        "domain": domain or row.get("domain") or "",
        "source": row.get("source") or "",
        "teacher": row.get("teacher") or "",
        "component": component,
    }


class ParquetShards:
    """Append rows to ``part-NNNNN.parquet`` files of at most ``rows_per_file`` rows.

    Rows are buffered ``batch`` at a time, so memory holds one batch of text, not the mix.
    """

    def __init__(self, folder: Path, *, rows_per_file: int = 100_000, batch: int = 256) -> None:
        self.folder = folder
        self.rows_per_file = rows_per_file
        self.batch = batch
        self.schema = mix_schema()
        self.files: list[Path] = []
        self._writer: Any = None  # a pyarrow ParquetWriter (untyped) while a file is open
        self._in_file = 0
        self._rows: list[dict[str, Any]] = []
        self.total = 0

    def write(self, example: dict[str, Any]) -> None:
        self._rows.append(example)
        if len(self._rows) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self._rows
        while rows:
            if self._writer is None or self._in_file >= self.rows_per_file:
                self._close_file()
                path = self.folder / f"part-{len(self.files):05d}.parquet"
                self.files.append(path)
                self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
                self._in_file = 0
            room = self.rows_per_file - self._in_file
            part, rows = rows[:room], rows[room:]
            self._writer.write_table(pa.Table.from_pylist(part, schema=self.schema))
            self._in_file += len(part)
            self.total += len(part)
        self._rows = []

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> list[Path]:
        self._flush()
        self._close_file()
        return self.files


class TokenCounter:
    """Token lengths of whole chat examples under the student's tokenizer and chat template."""

    def __init__(self, tokenizer: Any, batch: int = 128) -> None:
        self.tokenizer = tokenizer
        self.batch = batch
        self._pending: list[tuple[str, list[dict[str, str]]]] = []
        self.lengths: list[int] = []
        self.by_component: dict[str, list[int]] = {}

    def add(self, component: str, messages: list[dict[str, str]]) -> None:
        self._pending.append((component, messages))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        texts = [self.tokenizer.apply_chat_template(m, tokenize=False) for _, m in self._pending]
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        for (component, _), toks in zip(self._pending, ids):
            self.lengths.append(len(toks))
            self.by_component.setdefault(component, []).append(len(toks))
        self._pending = []

    def summary(self, max_length: int | None, overlength: str) -> dict[str, Any]:
        self.flush()
        arr = np.asarray(self.lengths, dtype=np.int64)
        if not len(arr):
            return {"measured_rows": 0}
        out: dict[str, Any] = {
            "measured_rows": int(len(arr)),
            "mean": float(arr.mean()),
            **{f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 95, 99)},
            "max": int(arr.max()),
            "mean_by_component": {k: float(np.mean(v)) for k, v in sorted(self.by_component.items())},
        }
        if max_length:
            over = int((arr > max_length).sum())
            out["over_context"] = {"context": max_length, "count_measured": over,
                                   "share": over / len(arr), "action": overlength}
        return out


def load_tokenizer(name: str) -> Any:
    """The student's tokenizer with a chat template (jre's ChatML one when it has none)."""
    from transformers import AutoTokenizer

    return ensure_chat_template(AutoTokenizer.from_pretrained(name))
