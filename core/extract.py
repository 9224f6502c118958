"""Answer extraction from model text, robust to Japanese and full-width forms.

Every extractor first applies NFKC (``Ａ``→``A``, ``：``→``:``, ``（Ｂ）``→``(B)``), then looks
for, in order: the last ``\\boxed{…}``, the last ``Answer: X`` / ``回答: X`` / ``答え：X`` /
``正解はX`` phrase, and finally a reply that is the answer alone.
"""

from __future__ import annotations

import re
import unicodedata

_LABEL = r"(?:final\s+answer|answer|回答|答え|解答|正解|最終回答|最終的な答え)"
_CHOICE = r"\(?\[?([A-{last}])\]?\)?"


def nfkc(text: str) -> str:
    """Unicode NFKC normal form (full-width letters, digits, colons and brackets folded)."""
    return unicodedata.normalize("NFKC", text)


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{…}`` (or ``\\fbox{…}``), braces balanced."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    if not starts:
        return None
    start = starts[-1]
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i].strip()
    return None


def _strip_latex(text: str) -> str:
    # \text{B}, \mathrm{B}, \textbf{B} → B; $…$ and markdown emphasis dropped.
    text = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}", r"\1", text)
    return text.replace("$", "").replace("*", "").strip()


def extract_choice(text: str | None, letters: str = "ABCD") -> str | None:
    """The multiple-choice letter a reply gives, or ``None``.

    ``letters`` are the allowed choices in order (``"ABCD"``). Handles ``\\boxed{B}``,
    ``Answer: (B)``, ``**Answer:** B``, ``回答：Ｂ``, ``答えは B です``, ``正解は(B)``,
    and a reply that is only ``B`` / ``(B)`` / ``B.``.
    """
    if not text:
        return None
    text = nfkc(text)
    last = letters[-1]
    boxed = last_boxed(text)
    if boxed is not None:
        inner = _strip_latex(boxed)
        match = re.fullmatch(rf"\(?([A-{last}])\)?(?:[.:)]|\s.*)?", inner, re.S)
        if match and match.group(1) in letters:
            return match.group(1)
    plain = text.replace("*", "").replace("#", "")
    pattern = re.compile(
        rf"{_LABEL}\s*(?:\([^)]*\))?\s*(?:は|:|=|-|is)?\s*(?:選択肢)?\s*[「『\"']?\$?"
        rf"(?:\\text\{{)?{_CHOICE.format(last=last)}(?![A-Za-z])", re.I)
    found = [m.group(1) for m in pattern.finditer(plain) if m.group(1) in letters]
    if found:
        return found[-1]
    alone = re.fullmatch(rf"\s*\(?([A-{last}])\)?[.。]?\s*", plain)
    if alone and alone.group(1) in letters:
        return alone.group(1)
    return None


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def last_code_block(text: str | None, language: str = "python") -> str | None:
    """The last fenced code block (preferring ones tagged ``language`` or untagged).

    An unterminated last fence (output cut off) still counts. ``None`` when there is none.
    """
    if not text:
        return None
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]
    if not blocks:
        return None
    preferred = [code for tag, code in blocks if tag in ("", language, language[:2])]
    return (preferred or [code for _, code in blocks])[-1].rstrip() + "\n"


_TRANSLATION_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:translation|翻訳|訳文|日本語訳|英訳|english|日本語)(?:\*\*)?\s*[:：]\s*", re.I)


def extract_translation(text: str | None) -> str:
    """A translation reply without a leading label (``翻訳：``) or surrounding quotes."""
    if not text:
        return ""
    out = _TRANSLATION_LABEL.sub("", text.strip()).strip()
    if len(out) >= 2 and out[0] + out[-1] in ('""', "「」", "“”", "''"):
        out = out[1:-1].strip()
    return out
