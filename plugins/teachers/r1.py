"""``r1``: DeepSeek-R1-0528, reasoning inline in ``<think>…</think>`` (opened by its template)."""

from __future__ import annotations

from jre import hookimpl
from jre.kinds.teacher import Teacher, TeacherConfig
from jre.records import Sampling


class R1(Teacher[TeacherConfig]):
    """DeepSeek-R1-0528 on an OpenAI-compatible server (the paper's R1 teacher)."""

    name = "r1"
    description = "DeepSeek-R1-0528 (inline <think> traces; template prefills <think>)"
    model = "deepseek-ai/DeepSeek-R1-0528"
    engine = "openai"
    reasoning_format = "think"
    # R1-0528's chat template ends the prompt with "<think>\n": output text starts in the trace.
    prefilled_think = True
    sampling = Sampling(temperature=0.6, top_p=0.95, max_tokens=32768)


@hookimpl
def register_teachers(register):
    register(R1())
