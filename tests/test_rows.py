"""The one JSONL / Parquet row reader: its columns, gzip, and its torn-line policy."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jre.errors import UserError
from jre.rows import iter_rows


def test_parquet_reads_only_the_columns_it_has(tmp_path: Path) -> None:
    path = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"], "extra": [1, 2]}), path)
    assert list(iter_rows([path], ["id", "text", "missing"])) == [{"id": "a", "text": "x"},
                                                                  {"id": "b", "text": "y"}]
    assert list(iter_rows([path]))[0] == {"id": "a", "text": "x", "extra": 1}


def test_jsonl_and_gzip_in_file_order_blank_lines_skipped(tmp_path: Path) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_text('{"n": 1}\n\n{"n": 2}\n', encoding="utf-8")
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write('{"n": 3}\n')
    assert [r["n"] for r in iter_rows([plain, packed])] == [1, 2, 3]


def test_last_line_without_newline_kept_when_whole_skipped_when_torn(tmp_path: Path) -> None:
    by_hand = tmp_path / "hand.jsonl"
    by_hand.write_text('{"n": 1}\n{"n": 2}', encoding="utf-8")  # an editor left no final newline
    assert [r["n"] for r in iter_rows([by_hand])] == [1, 2]
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"n": 1}\n{"n": 2, "te', encoding="utf-8")  # a killed writer
    assert [r["n"] for r in iter_rows([torn])] == [1]


def test_a_complete_line_that_is_not_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"n": 1}\nnot json\n{"n": 3}\n', encoding="utf-8")
    with pytest.raises(UserError, match="line 2 is not JSON") as caught:
        list(iter_rows([path]))
    assert str(path) in str(caught.value)
