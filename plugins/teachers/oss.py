"""``oss``: gpt-oss-120b with reasoning effort medium (Harmony analysis → trace, final → answer)."""

from __future__ import annotations

from jre import hookimpl
from jre.kinds.teacher import Teacher, TeacherConfig
from jre.records import Sampling


class OSS(Teacher[TeacherConfig]):
    """gpt-oss-120b, reasoning effort medium (the paper's OSS teacher)."""

    name = "oss"
    description = "gpt-oss-120b, reasoning effort medium (Harmony channels)"
    model = "openai/gpt-oss-120b"
    engine = "openai"
    reasoning_format = "harmony"
    reasoning_effort = "medium"
    # The sampling gpt-oss is published with.
    sampling = Sampling(temperature=1.0, top_p=1.0, max_tokens=32768)


@hookimpl
def register_teachers(register):
    register(OSS())
