"""``[synth]``: which datasets of triples to synthesise, with which teacher and seeds.

```toml
[synth.datasets.stem_oss_h]
teacher = "oss-h"
samples = 1
[synth.datasets.stem_oss_h.engine]        # optional: overrides the teacher's engine
name = "openai"
base_url = ["http://node1:8000/v1", "http://node2:8000/v1"]
[synth.datasets.stem_oss_h.seeds]
loader = "nemotron"                       # nemotron | swallow | lmsys | file | hf
count = 500000                            # + margin (3 % for a model teacher) is asked
mix = {code = 2, math = 2, stem = 1}
generator = "DeepSeek-R1-0528"            # Nemotron rows written by this model only

[synth.datasets.stem_oss_h_ja]            # Japanese instructions translated from the above
teacher = "oss-h"
translate_from = "stem_oss_h"
lang = "ja"
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from jre.kinds.base import StrictModel
from jre.sections.refs import EngineRef, TeacherRef

DEFAULT_TRANSLATE_PROMPT = (
    "Translate the following instruction from English into natural Japanese. Keep code, "
    "LaTeX, math expressions, numbers, variable names, URLs and proper nouns exactly as they "
    "are. Do not answer or solve it. Output only the Japanese translation.\n\n{text}"
)


#: Default extra share of seeds for a teacher that generates (see SynthDataset.margin).
DEFAULT_MARGIN = 0.03


class SeedSpec(StrictModel):
    """Where seed instructions come from.

    ``nemotron``: nvidia/Nemotron-Post-Training-Dataset-v1, splits mixed by ``mix`` (the
    paper's code:math:stem = 2:2:1); rows kept when ``reasoning`` matches, the stored answer
    has the ``<think>…</think>`` shape (``require_think``) and, when set, ``generator``
    matches; the ``code`` split's placeholder user turns ("-") are re-hydrated from the
    dataset its ``metadata`` names (``code_questions`` maps those names to a hub id or a
    local copy). ``swallow``: the authors' release
    tokyotech-llm/Swallow-Nemotron-Post-Training-Dataset-v1 (``config`` picks R1, GPT-OSS,
    GPT-OSS-Ja, GPT-OSS-High), the trace kept from the assistant turn. ``lmsys``:
    lmsys/lmsys-chat-1m, first user turn, kept when its ``language`` is in ``languages``.
    ``file``: a local JSONL/Parquet file or folder. ``hf``: any hub dataset. ``path`` is a
    hub id or a local copy; ``fields`` maps jre's names (``id``, ``instruction``,
    ``response``, ``domain``, ``lang``) to the dataset's (dotted paths like
    ``messages.0.content`` reach into lists and tables). Every loader drops instructions
    shorter than ``min_instruction_chars`` and repeated instructions (whitespace-normalised)
    before counting, so ``count`` seeds are distinct and usable.
    """

    loader: Literal["nemotron", "swallow", "lmsys", "file", "hf"]
    path: str | None = None
    count: int | None = Field(default=None, gt=0)
    seed: int = 0
    mix: dict[str, float] = Field(default_factory=lambda: dict[str, float](code=2, math=2, stem=1))
    languages: list[str] = Field(default_factory=lambda: ["English"])
    fields: dict[str, str] = Field(default_factory=dict)
    split: str = "train"
    config: str | None = None
    revision: str | None = None
    streaming: bool = True
    shuffle_buffer: int = Field(default=10000, ge=1)
    reasoning: Literal["on", "off", "any"] = "on"
    require_think: bool = True
    generator: str | None = None
    min_instruction_chars: int = Field(default=10, ge=1)
    code_questions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SeedSpec:
        if self.loader in ("file", "hf") and not self.path:
            raise ValueError(f"the {self.loader} loader needs a path")
        if self.loader in ("file", "hf") and "instruction" not in self.fields:
            raise ValueError("fields.instruction must name the column that holds the instruction")
        unknown = set(self.fields) - {"id", "instruction", "response", "domain", "lang"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; jre maps id, instruction, "
                             "response, domain, lang")
        if any(w <= 0 for w in self.mix.values()):
            raise ValueError("mix weights must be positive")
        return self

    def inapplicable(self) -> set[str]:
        """What the loader ignores (see core/seeds.py): ``mix`` picks the splits of the
        Nemotron-shaped releases, which also filter by reasoning; only ``lmsys`` reads
        ``languages``; local files have no split, revision or stream."""
        applies = {
            "nemotron": {"mix", "reasoning", "require_think", "generator", "code_questions",
                         "revision", "streaming", "shuffle_buffer"},
            "swallow": {"mix", "config", "reasoning", "require_think", "generator", "revision",
                        "streaming", "shuffle_buffer"},
            "lmsys": {"languages", "split", "revision", "streaming", "shuffle_buffer"},
            "hf": {"split", "config", "revision", "streaming", "shuffle_buffer"},
            "file": set(),
        }[self.loader]
        optional = {"mix", "languages", "split", "config", "revision", "streaming", "shuffle_buffer",
                    "reasoning", "require_think", "generator", "code_questions"}
        return optional - applies


class SynthDataset(StrictModel):
    """One synthesised dataset: teacher × seeds × samples (or a translation of another's seeds)."""

    teacher: TeacherRef
    engine: EngineRef | None = None
    seeds: SeedSpec | None = None
    translate_from: str | None = None
    translator: TeacherRef | None = None
    translator_engine: EngineRef | None = None
    translate_prompt: str = DEFAULT_TRANSLATE_PROMPT
    samples: int = Field(default=1, ge=1)
    lang: Literal["en", "ja"] = "en"
    domain: Literal["stem", "chat", "code", "math"] | None = None
    system_prompt: str | None = None
    # Extra seeds asked for, as a share of seeds.count, so that the mix can still take exact
    # counts after dropping truncated, empty or untranslatable outputs. None: 3 % for a
    # teacher that asks a model, 0 for an offline one (replay's rows are filtered before
    # counting; arith answers every seed).
    margin: float | None = Field(default=None, ge=0, lt=1)
    # Seeds of these datasets are excluded (disjoint prompts); by default datasets with the
    # same seed spec share their seeds, a smaller count nested in a larger one.
    disjoint_from: list[str] = Field(default_factory=list)
    translate_retries: int = Field(default=2, ge=0)
    # Set where the recipe is parsed: whether the teacher's plugin needs no engine.
    _offline: bool = PrivateAttr(default=False)
    min_japanese_share: float = Field(default=0.5, ge=0, le=1)

    @property
    def seed_margin(self) -> float:
        """The margin in effect (see ``margin``)."""
        if self.margin is not None:
            return self.margin
        return 0.0 if self._offline else DEFAULT_MARGIN

    @model_validator(mode="after")
    def _check(self) -> SynthDataset:
        if (self.seeds is None) == (self.translate_from is None):
            raise ValueError("give exactly one of seeds or translate_from")
        model = self.teacher.options.get("model")
        if (self.teacher.name == "replay" and self.seeds is not None and self.seeds.loader == "nemotron"
                and not self.seeds.generator and isinstance(model, str)):
            # Nemotron names the writer of each row ("DeepSeek-R1-0528"); replaying it as R1
            # must not take rows other models wrote.
            self.seeds.generator = model.rsplit("/", 1)[-1]
        if "{text}" not in self.translate_prompt:
            raise ValueError("translate_prompt must contain {text}")
        return self

    def inapplicable(self) -> set[str]:
        """Translation settings matter only to a dataset translated from another."""
        if self.translate_from is None:
            return {"translator", "translator_engine", "translate_prompt", "translate_retries",
                    "min_japanese_share"}
        return {"disjoint_from", "margin"}  # seeds, margin included, come from the source


class SynthSection(StrictModel):
    """``[synth]``: the datasets to synthesise and how often to commit and report."""

    datasets: dict[str, SynthDataset]
    commit_every: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _check(self) -> SynthSection:
        for name, ds in self.datasets.items():
            if ds.translate_from is not None:
                source = self.datasets.get(ds.translate_from)
                if source is None:
                    raise ValueError(f"datasets.{name}.translate_from: no dataset "
                                     f"{ds.translate_from!r} in [synth.datasets]")
                if source.seeds is None:
                    raise ValueError(f"datasets.{name}.translate_from: {ds.translate_from!r} "
                                     "is itself a translation")
            for other in ds.disjoint_from:
                if other not in self.datasets or other == name:
                    raise ValueError(f"datasets.{name}.disjoint_from: no other dataset {other!r} "
                                     "in [synth.datasets]")
        return self
