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
    """Growable (ordinal, priority, instruction hash) columns, stored as numpy chunks."""

    def __init__(self, chunk: int = 65536) -> None:
        self._chunk = chunk
        self._parts: list[np.ndarray] = []
        self._buf = np.empty((chunk, 3), dtype=np.uint64)
        self._n = 0

    def add(self, ordinal: int, prio: int, ihash: int) -> None:
        self._buf[self._n] = (ordinal, prio, ihash)
        self._n += 1
        if self._n == self._chunk:
            self._parts.append(self._buf)
            self._buf = np.empty((self._chunk, 3), dtype=np.uint64)
            self._n = 0

    def array(self) -> np.ndarray:
        """All candidates as an ``(n, 3)`` uint64 array."""
        return np.concatenate(self._parts + [self._buf[: self._n]]) if self._parts or self._n \
            else np.empty((0, 3), dtype=np.uint64)


@dataclass
class Selection:
    """Rows chosen for one (component, language) slot, sorted by ordinal."""

    ordinals: np.ndarray
    priorities: np.ndarray
    available: int
    duplicates: int
    taken_elsewhere: int
    notes: list[str] = field(default_factory=list)


def select(cands: np.ndarray, count: int, *, dedupe: bool, taken: np.ndarray) -> tuple[Selection, np.ndarray]:
    """Choose up to ``count`` candidates with the lowest priority.

    With ``dedupe``, one row per instruction (the lowest priority) survives, and instructions
    already ``taken`` by an earlier slot are skipped. Returns the selection and the
    instruction hashes it takes.
    """
    order = np.argsort(cands[:, 1], kind="stable")
    ranked = cands[order]
    duplicates = taken_elsewhere = 0
    if dedupe and len(ranked):
        _, first = np.unique(ranked[:, 2], return_index=True)
        first.sort()
        duplicates = len(ranked) - len(first)
        ranked = ranked[first]
        if len(taken):
            fresh = ~np.isin(ranked[:, 2], taken)
            taken_elsewhere = int((~fresh).sum())
            ranked = ranked[fresh]
    chosen = ranked[:count]
    by_ordinal = np.argsort(chosen[:, 0], kind="stable")
    chosen = chosen[by_ordinal]
    sel = Selection(ordinals=chosen[:, 0].copy(), priorities=chosen[:, 1].copy(),
                    available=len(ranked), duplicates=duplicates, taken_elsewhere=taken_elsewhere)
    return sel, chosen[:, 2].copy()
