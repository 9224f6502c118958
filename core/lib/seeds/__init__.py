"""Seed instructions for synthesis: Nemotron-Post-Training v1, the authors' Swallow release of
it, LMSYS-Chat-1M, any file or hub set.

Every loader yields :class:`Seed` records in a fixed order that depends only on the data and
``SeedSpec.seed``. Local files (JSONL, JSONL.gz, Parquet, or a folder of them) are streamed
row by row and sampled by the lowest hashes of (seed, id), so memory stays O(count); hub
datasets are streamed through ``datasets`` with a seeded shuffle buffer. Nothing is
downloaded unless ``path`` names a hub dataset that is not cached.

Rows are filtered *before* counting (wrong generator, reasoning off, no ``<think>…</think>``
answer, an instruction too short, a repeated instruction), and Nemotron's ``code``
placeholders are re-hydrated from the dataset their ``metadata`` points to, so ``count``
seeds are all usable. Two specs that differ only in ``count`` give nested samples: the
smaller is a prefix of the larger. What was dropped, by reason, and the revision of every
dataset read are in :attr:`SeedSet.report`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jre.lib.seeds.chat import lmsys, mapped
from jre.lib.seeds.common import Seed, SeedSet, new_report, split_counts
from jre.lib.seeds.nemotron import nemotron, swallow

__all__ = ["Seed", "SeedSet", "dataset_seeds", "load_seeds", "split_counts"]


def load_seeds(spec: Any, resolve: Callable[[str], Path], *, lang: str = "en",
               domain: str | None = None, count: int | None = None,
               exclude: set[str] | None = None) -> SeedSet:
    """The seeds ``spec`` (a :class:`jre.sections.synth.SeedSpec`) describes, in a fixed order.

    ``resolve`` turns a recipe path into a file path (relative to the recipe); a ``path``
    that is not a local file or folder is taken as a hub dataset id. ``count`` overrides
    ``spec.count`` (the synth stage adds its margin); seeds whose id is in ``exclude`` are
    skipped and the sample continues past them.
    """
    report = new_report()
    want = spec.count if count is None else count
    excluded = exclude or set()
    if spec.loader == "nemotron":
        seeds = nemotron(spec, resolve, lang, want, report, excluded)
    elif spec.loader == "swallow":
        seeds = swallow(spec, resolve, lang, want, report, excluded)
    elif spec.loader == "lmsys":
        seeds = lmsys(spec, resolve, lang, want, report, excluded)
    else:
        seeds = mapped(spec, resolve, lang, domain or "stem", want, report, excluded)
    if domain is not None:
        for s in seeds:
            s.domain = domain
    report["requested"] = want
    report["selected"] = len(seeds)
    return SeedSet(seeds, report)


def dataset_seeds(synth: Any, name: str, resolve: Callable[[str], Path]) -> SeedSet:
    """The seeds of ``[synth.datasets.<name>]``: its spec plus the margin, minus the seeds of
    the datasets it is ``disjoint_from`` (English seeds for a translated dataset)."""
    ds = synth.datasets[name]
    if ds.translate_from is not None:
        return dataset_seeds(synth, ds.translate_from, resolve)
    spec = ds.seeds
    count = math.ceil(spec.count * (1 + ds.seed_margin)) if spec.count else None
    exclude: set[str] = set()
    for other in ds.disjoint_from:
        exclude.update(s.id for s in dataset_seeds(synth, other, resolve))
    seeds = load_seeds(spec, resolve, lang=ds.lang, domain=ds.domain, count=count, exclude=exclude)
    seeds.report.update({"margin": ds.seed_margin, "count": spec.count,
                         "disjoint_from": list(ds.disjoint_from)})
    return seeds
