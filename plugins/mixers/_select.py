"""Choosing rows with memory flat in the row count: a few integers per row, never the text.

Pass one keeps, per candidate row, its ordinal in the source, a seeded priority hash of its
id and a hash of its instruction (24 bytes). Selection takes the lowest priorities, which is
a uniform random sample that depends only on the seed and the ids, not on file order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


def priority(seed: int, row_id: str) -> int:
    """A 64-bit seeded hash of a row id; the smallest ones are chosen."""
    digest = hashlib.blake2b(row_id.encode("utf-8"), digest_size=8, key=str(seed).encode())
    return int.from_bytes(digest.digest(), "little")


def instruction_hash(text: str) -> int:
    """A 64-bit hash of an instruction with whitespace normalised (for dedupe)."""
    norm = " ".join(text.split())
    return int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "little")


class Candidates:
    """Growable (ordinal, priority, instruction hash) columns, stored as numpy chunks.

    20 bytes per row; :meth:`columns` joins one column at a time and frees its chunks, so
    the join never holds two copies of everything.
    """

    def __init__(self, chunk: int = 65536) -> None:
        self._chunk = chunk
        self._done: list[list[np.ndarray]] = [[], [], []]
        self._new_chunk()

    def _new_chunk(self) -> None:
        self._buf: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.empty(self._chunk, np.uint32), np.empty(self._chunk, np.uint64), np.empty(self._chunk, np.uint64))
        self._n = 0

    def add(self, ordinal: int, prio: int, ihash: int) -> None:
        o, p, h = self._buf
        o[self._n], p[self._n], h[self._n] = ordinal, prio, ihash
        self._n += 1
        if self._n == self._chunk:
            for col, arr in zip(self._done, self._buf):
                col.append(arr)
            self._new_chunk()

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ordinals, priorities, instruction hashes)``, ordinals increasing; empties the buffer."""
        out = []
        for col, arr in zip(self._done, self._buf):
            col.append(arr[: self._n])
            out.append(np.concatenate(col))
            col.clear()
        self._new_chunk()
        return out[0], out[1], out[2]


@dataclass
class Selection:
    """Rows chosen for one (component, language) slot, sorted by ordinal."""

    ordinals: np.ndarray
    priorities: np.ndarray
    available: int
    duplicates: int
    taken_elsewhere: int
    notes: list[str] = field(default_factory=list)


def select(ordinals: np.ndarray, prios: np.ndarray, ihashes: np.ndarray, count: int, *, dedupe: bool,
           taken: np.ndarray) -> tuple[Selection, np.ndarray]:
    """Choose up to ``count`` candidates with the lowest priority.

    With ``dedupe``, one row per instruction (the lowest priority) survives, and instructions
    already ``taken`` by an earlier slot are skipped. Returns the selection and the
    instruction hashes it takes. Works on index arrays so the columns are never copied whole.
    """
    n = len(prios)
    duplicates = taken_elsewhere = 0
    if dedupe and n:
        # Group by instruction, lowest priority first within a group; keep each group's head.
        idx = np.lexsort((prios, ihashes))
        grouped = ihashes[idx]
        head = np.ones(n, dtype=bool)
        np.not_equal(grouped[1:], grouped[:-1], out=head[1:])
        del grouped
        idx = idx[head]
        del head
        duplicates = n - len(idx)
        if len(taken):
            fresh = ~np.isin(ihashes[idx], taken)
            taken_elsewhere = int((~fresh).sum())
            idx = idx[fresh]
        idx = idx[np.argsort(prios[idx], kind="stable")]
    else:
        idx = np.argsort(prios, kind="stable")
    available = len(idx)
    chosen = np.sort(idx[:count])  # candidate order is ordinal order
    del idx
    sel = Selection(ordinals=ordinals[chosen], priorities=prios[chosen], available=available,
                    duplicates=duplicates, taken_elsewhere=taken_elsewhere)
    return sel, ihashes[chosen]
