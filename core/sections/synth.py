"""``[synth]``: which datasets of triples to synthesise, with which teacher and seeds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jre.kinds.base import StrictModel
from jre.sections.refs import EngineRef, TeacherRef


class SeedSpec(StrictModel):
    """Where seed instructions come from."""

    loader: Literal["nemotron", "lmsys", "file", "hf"]
    path: str | None = None  # local file/folder (file loader, or a local copy of a hub dataset)
    count: int | None = Field(default=None, gt=0)
    seed: int = 0


class SynthDataset(StrictModel):
    """One synthesised dataset: teacher × seeds × samples."""

    teacher: TeacherRef
    engine: EngineRef | None = None
    seeds: SeedSpec
    samples: int = Field(default=1, ge=1)
    lang: Literal["en", "ja"] = "en"
    domain: Literal["stem", "chat"] = "stem"


class SynthSection(StrictModel):
    datasets: dict[str, SynthDataset]
