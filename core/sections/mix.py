"""``[mix]``: the mixer and its options (components, seed, ...), validated by the mixer."""

from __future__ import annotations

from jre.sections.refs import MixerRef


class MixSection(MixerRef):
    """``[mix]`` names a mixer (default ``composition``); other keys are its options."""

    name: str = "composition"
