"""``oss-h``: gpt-oss-120b with reasoning effort high (longer traces than ``oss``)."""

from __future__ import annotations

from jre import hookimpl
from jre.plugins.teachers.oss import OSS


class OSSHigh(OSS):
    """gpt-oss-120b, reasoning effort high (the paper's OSS-h teacher)."""

    name = "oss-h"
    description = "gpt-oss-120b, reasoning effort high (Harmony channels)"
    reasoning_effort = "high"


@hookimpl
def register_teachers(register):
    register(OSSHigh())
