"""Reading rows of data files: the one JSONL / Parquet row reader and its torn-line policy.

Parquet files are read in record batches (only the ``columns`` a file has, when given);
JSONL files, gzip'd or not, line by line. One policy for every caller: blank lines are
skipped; a complete line (ending in a newline) that is not JSON is a :class:`UserError`
naming the file and line; a last line without its newline is kept when it parses (a file
written by hand) and skipped when it does not (a write cut short by a killed process).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from jre.errors import UserError

BATCH_ROWS = 2048


def _jsonl_rows(path: Path, fh: IO[str]) -> Iterator[Any]:
    for number, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            if not line.endswith("\n"):
                return  # torn last line
            raise UserError(f"line {number} is not JSON ({exc.msg})", where=str(path)) from None


def iter_rows(files: Sequence[Path], columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of ``files`` (Parquet, JSONL or JSONL.gz), streamed in file order."""
    for path in files:
        path = Path(path)
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq  # heavy: loaded only when a Parquet file is read

            parquet = pq.ParquetFile(path)
            names = set(parquet.schema_arrow.names)
            cols = [c for c in columns if c in names] if columns else None
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                yield from batch.to_pylist()
        elif path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                yield from _jsonl_rows(path, fh)
        else:
            with open(path, encoding="utf-8") as fh:
                yield from _jsonl_rows(path, fh)
