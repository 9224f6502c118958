"""``replay``: triples whose traces already exist in a dataset (no model is asked).

The paper's R1 data came this way from Nemotron-Post-Training-Dataset-v1, whose assistant
messages carry the trace inline in ``<think>…</think>``. Seeds need a ``response``
(the Nemotron loader fills it; other loaders map it with ``fields.response``).
"""

from __future__ import annotations

from jre import hookimpl
from jre.kinds.base import StrictModel
from jre.kinds.engine import ReasoningFormat, split_generation
from jre.kinds.teacher import Teacher, TeacherSettings
from jre.records import Generation, Sampling


class ReplayConfig(StrictModel):
    """Options of ``replay``: how the stored answers are split, and whose they were."""

    model: str | None = None  # the model that wrote the stored answers, for provenance
    reasoning_format: ReasoningFormat | None = None
    prefilled_think: bool | None = None
    label: str | None = None  # teacher name recorded on the triples (e.g. "r1")


class Replay(Teacher[ReplayConfig]):
    """Existing reasoning answers from a dataset, split into trace and response."""

    name = "replay"
    description = "triples whose traces already exist in a dataset (e.g. Nemotron v1 R1 answers)"
    config_model = ReplayConfig
    model = None
    engine = ""
    uses_engine = False
    sampling = Sampling(temperature=0.0, top_p=1.0, max_tokens=0)

    def settings(self, config: ReplayConfig | None) -> TeacherSettings:
        settings = super().settings(config)
        if config is not None and config.label:
            settings.name = config.label
        return settings

    def replay(self, settings: TeacherSettings, response: str | None) -> Generation | None:
        if response is None:
            return None
        return split_generation(response, reasoning_format=settings.reasoning_format,
                                prefilled=bool(settings.prefilled_think), finish_reason="stop")


@hookimpl
def register_teachers(register):
    register(Replay())
