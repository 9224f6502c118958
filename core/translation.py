"""Checking machine-translated instructions before they become Japanese seeds.

A translation is rejected when it is empty, when it reads as a refusal, or when too little of
what it adds to the source is Japanese. Words copied from the English source (code, LaTeX,
numbers, names, which the translation prompt asks to keep) are left out of the share, so a
question that is mostly code still passes while an untranslated copy or an English answer
does not.
"""

from __future__ import annotations

import re

# Hiragana, katakana (with the prolonged sound mark), CJK ideographs, and the iteration mark.
_JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u3005\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_']*")
_REFUSALS = re.compile(
    r"^\s*(I'?m sorry|I am sorry|Sorry,|I can(?:'|no)t|I cannot|I won'?t|As an AI)"
    r"|申し訳(?:ありません|ございません)が?[、,]?.{0,40}(?:できません|お手伝い|対応)"
    r"|(?:お手伝い|対応|翻訳)(?:することは)?できません",
    re.IGNORECASE)

#: Reasons a translation is rejected (keys of the counts the synth manifest reports).
REASONS = ("empty", "refusal", "not_japanese")


def japanese_share(text: str, source: str = "") -> float:
    """Share of Japanese characters among the letters ``text`` adds to ``source``.

    Latin words that also occur in ``source`` are not counted; 0.0 when nothing is left.
    """
    kept = set(_WORD.findall(source))
    rest = _WORD.sub(lambda m: "" if m.group(0) in kept else m.group(0), text)
    ja = len(_JAPANESE.findall(rest))
    latin = len(_LATIN.findall(rest))
    return ja / (ja + latin) if ja + latin else 0.0


def translation_problem(text: str | None, source: str, *, min_share: float = 0.5) -> str | None:
    """Why ``text`` is not an acceptable Japanese translation of ``source`` (None when it is)."""
    if not text or not text.strip():
        return "empty"
    if _REFUSALS.search(text) and not _REFUSALS.search(source):
        return "refusal"
    if japanese_share(text, source) < min_share or not _JAPANESE.search(text):
        return "not_japanese"
    return None
