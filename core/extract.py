"""Answer extraction from model text, robust to Japanese and full-width forms.

Every extractor first applies NFKC (``Ａ``→``A``, ``：``→``:``, ``（Ｂ）``→``(B)``). The rules
of :func:`extract_choice` (every multiple-choice benchmark) and :func:`extract_math` (final
answers of math problems) are written out, with their measured agreement with a human
grader, in ``docs/extraction.md``.
"""

from __future__ import annotations

import re
import unicodedata


def nfkc(text: str) -> str:
    """Unicode NFKC normal form (full-width letters, digits, colons and brackets folded)."""
    return unicodedata.normalize("NFKC", text)


_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def _box_close(text: str, start: int) -> int | None:
    """The index of the ``}`` closing a box whose content starts at ``start``, or None."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def boxes(text: str) -> list[tuple[int, int, str]]:
    """Every closed ``\\boxed{…}`` / ``\\fbox{…}``: (start, end, content), braces balanced."""
    found = []
    for match in _BOX.finditer(text):
        close = _box_close(text, match.end())
        if close is not None:
            found.append((match.start(), close + 1, text[match.end():close].strip()))
    return found


def _strip_latex(text: str) -> str:
    # \text{B}, \mathrm{B}, \textbf{B} → B; $…$ and markdown emphasis dropped.
    text = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}", r"\1", text)
    return text.replace("$", "").replace("*", "").strip()


# ---------------------------------------------------------------- multiple choice
#
# The rules every multiple-choice benchmark shares (docs/extraction.md lists them with the
# labelled set that measures them). A reply is read as a sequence of *statements*; the last
# statement of the strongest kind present decides:
#   1. commitments: ``\boxed{X}``, a labelled answer (``Answer: X``, ``答えは X``,
#      ``正解は X``, ``The correct option is X``), a choice (``I'll go with X``, ``X を選びます``)
#      or a revision (``wait, actually X``, ``いや、X``);
#   2. verdicts on one option (``C) が正しい``, ``C is correct``), used only when no
#      commitment exists (a reply that eliminates options one by one);
#   3. a last line that is the letter alone.
# Within a statement ``A ではなく B`` / ``not A but B`` gives B, and a statement that leaves
# two options open (``A or B``, ``A ですが B の可能性もあります``) gives no answer at all.

_OPTION_WORD = r"(?:(?:option|choice|letter|選択肢|オプション)\s*)?"
_ANSWER_LABEL = (
    r"(?:final\s+answer|the\s+(?:correct\s+|right\s+|best\s+)?answer|answer|"
    r"(?:the\s+)?(?:correct|right|best)\s+(?:option|choice)|"
    r"最終的な(?:答え|回答|解答)|最終(?:回答|解答)|回答|答え|解答|正解|"
    r"(?:最も)?(?:正しい|適切な|妥当な)(?:選択肢|答え|もの|の))")
_LABEL_LINK = (r"\s*(?:\([^)\n]{0,20}\)\s*)?"
               r"(?:(?:would|should|must|will)\s+be|is\s+therefore|is\s+thus|is|was|:|=|-|→|は|が)?"
               r"\s*(?:(?:probably|likely|clearly|definitely|therefore|thus|then|indeed|"
               r"i\s+think|i\s+believe|i'?d\s+say|たぶん|おそらく|恐らく|明らかに|やはり)[\s,、]*"
               r"(?:(?:it'?s|it\s+is)\s+)?)?")
_OPEN = r"[\s「『\"'“$]*(?:\\text(?:bf)?\{)?[(\[（]?"
_REVISION = (
    r"(?:\bwait\b|\bactually\b|\bno[,.!]|\bcorrection\b|on second thought|\binstead\b|"
    r"いや|いえ|やはり|やっぱり|訂正(?:します)?|実際には|実は|待って|修正(?:します)?)"
    r"[\s,、。:.!]*(?:(?:it'?s|it\s+is|it\s+should\s+be|the\s+answer\s+is|i\s+think\s+it'?s|"
    r"i'?ll\s+go\s+with|答えは|正解は|正しくは)\s*)?")
_CHOOSE = (r"(?:\bi(?:'ll|'d|\s+will|\s+would)?\s+(?:go\s+with|choose|pick|select)|\bmy\s+(?:final\s+)?"
           r"(?:answer|choice)\s+is|\bselect(?:ing)?|\bgo\s+with|\blean(?:ing)?\s+(?:towards?|to))\s*")
_CONCLUDE = (r"(?:\bso|\bthus|\btherefore|\bhence|\bfinal|(?<!に)よって|したがって|従って|ゆえに|"
             r"以上より|以上から|つまり|結論)[\s,、:]*"
             r"(?:(?:it'?s|it\s+is|the\s+answer\s+is|we\s+get|答えは)\s*)?")
_THAT_IS = (r"(?:that(?:'s|\s+is)|this\s+is|which\s+is|matches|corresponds\s+to|gives|に一致|に相当)"
            r"\s*(?:(?:option|choice|選択肢)\s*)")
# After a conclusion's letter: the sentence ends (or names it the answer), nothing else follows.
_CONCLUDE_END = re.compile(
    r"^[)\]）」』\"']?\s*(?:[.。!,、;]|です|だ|$|\n|is\s+(?:the\s+)?(?:answer|correct))")
_IS_ANSWER = re.compile(
    r"(?<![A-Za-z])" + _OPTION_WORD + r"[(\[（]?([A-J])[)\]）]?\s*"
    r"(?:is\s+the\s+(?:final\s+)?answer|it\s+is\b|で確定|で決まり|で間違いない|"
    r"を(?:選び|選択し|選ぶ|選択する|答え))", re.I)
_NEGATED_AFTER = re.compile(
    r"^[)\]）」』\"']?\s*(?:(?:is|was|are|would\s+be)\s+(?:both\s+|all\s+)?(?:not|wrong|incorrect|"
    r"false|ruled\s+out|eliminated)|(?:は|が|も)\s*(?:どちらも|いずれも|ともに)?\s*"
    r"(?:誤|間違|違|不正解|正しくな|不適|除外|ありえな|"
    r"あり得な)|ではな|でな|じゃな|isn't|can't|cannot)", re.I)
_INSTEAD = re.compile(
    r"^[)\]）」』\"']?\s*(?:ではなく|でなく|じゃなく|ではありません|is\s+(?:not|wrong|incorrect))"
    r"[\s,、。.;]*(?:(?:but|rather|instead|it'?s|正しくは|正解は|答えは)[\s,、:]*)*"
    + _OPTION_WORD + _OPEN, re.I)
_UNDECIDED_AFTER = re.compile(
    r"^[)\]）」』\"']?\s*(?:or|and|または|もしくは|あるいは|か|/|・|と)\s*" + _OPTION_WORD
    + r"[(\[（]?[A-Ja-j](?![A-Za-z])", re.I)
_HEDGE = re.compile(
    r"(?:[A-J][)）]?\s*(?:の可能性も|も考えられ|もありう|もありえ|もあり得|も正しい|かもしれ)|"
    r"(?:could|might|may)\s+(?:also\s+)?be\s+(?:option\s+)?\(?[A-J]\b|"
    r"\b[A-J]\)?\s+(?:is|seems)\s+also\s+(?:possible|plausible|likely|correct)|"
    r"迷って|迷う|どちらか|決められ|判断できな)")
_SENTENCE_END = re.compile(r"[。\n!?！？]|\.(?:\s|$)")


def _sentence_rest(text: str, start: int, extra: int = 0) -> str:
    """``text`` from ``start`` to the end of its sentence (plus ``extra`` further sentences)."""
    end = start
    for _ in range(extra + 1):
        match = _SENTENCE_END.search(text, end)
        if not match:
            return text[start:]
        end = match.end()
    return text[start:end]


_PRONOUN_I = re.compile(r"['’]|\s+(?:think|believe|guess|am|would|will|need|have|can|must|should|"
                        r"was|feel|chose|choose|pick)\b")
_LOWER_END = re.compile(r"(?:[)）.。,、:;」』\"']|\s*\n|\s*$|[\u3040-\u30ff\u4e00-\u9fff])")


def _letter_at(text: str, pos: int, letters: str) -> tuple[str, int] | None:
    """The option letter at ``pos`` (and the index after it), or None when it is none."""
    if pos >= len(text):
        return None
    char, after = text[pos], text[pos + 1:]
    if re.match(r"[A-Za-z0-9]", after):
        return None  # part of a word: "Because", "a bit"
    if char in letters:
        return None if char == "I" and _PRONOUN_I.match(after) else (char, pos + 1)
    if char.islower() and char.upper() in letters:
        # Lower case only where it cannot be an English word: "(b)", "b.", "b" at the end.
        opened = pos > 0 and text[pos - 1] in "([（"
        if opened or _LOWER_END.match(after):
            return char.upper(), pos + 1
    return None


_UNDECIDED = "undecided"
_LETTER_START = re.compile(_OPTION_WORD + _OPEN, re.I)
_NOT = re.compile(r"not\s+", re.I)
_BUT = re.compile(r"[)\]]?[\s,;]*(?:but|it'?s|rather)\s*" + _OPTION_WORD + _OPEN, re.I)


def _skip_opening(text: str, pos: int) -> int:
    """``pos`` moved past ``option``, ``選択肢``, quotes, ``\\text{`` and an opening bracket."""
    match = _LETTER_START.match(text, pos)
    return match.end() if match else pos


def _read_commitment(text: str, pos: int, letters: str) -> str | None:
    """The letter a commitment starting at ``pos`` names, ``_UNDECIDED``, or None (no letter)."""
    pos = _skip_opening(text, pos)
    negated_first = _NOT.match(text, pos)
    if negated_first:  # "the answer is not A but B"
        first = _letter_at(text, _skip_opening(text, negated_first.end()), letters)
        tail = _BUT.match(text, first[1]) if first else None
        found = _letter_at(text, tail.end(), letters) if tail else None
        return found[0] if found else None
    found = _letter_at(text, pos, letters)
    if found is None:
        return None
    letter, end = found
    instead = _INSTEAD.match(text[end:])
    if instead:  # "A ではなく B"
        second = _letter_at(text, end + instead.end(), letters)
        if second is None:
            return None
        letter, end = second
    elif _NEGATED_AFTER.match(text[end:]):
        return None
    undecided = _UNDECIDED_AFTER.match(text[end:])
    if undecided:  # "A or B" leaves the answer open; "B and C are wrong" names none
        return None if _NEGATED_AFTER.match(text[end + undecided.end():]) else _UNDECIDED
    if _HEDGE.search(_sentence_rest(text, end, extra=1)):
        return _UNDECIDED
    return letter


def _commitments(text: str, letters: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for start, _, inner in boxes(text):
        read = _read_commitment(_strip_latex(inner) + "\n", 0, letters)
        if read is not None:
            found.append((start, read))
    for pattern in (_ANSWER_LABEL + _LABEL_LINK, _REVISION, _CHOOSE):
        for match in re.finditer(pattern, text, re.I):
            read = _read_commitment(text, match.end(), letters)
            if read is not None:
                found.append((match.start(), read))
    # "So D." / "よって D。" / "That's option C": a conclusion naming one letter and nothing more.
    for pattern in (_CONCLUDE, _THAT_IS):
        for match in re.finditer(pattern, text, re.I):
            read = _read_commitment(text, match.end(), letters)
            letter = _letter_at(text, _skip_opening(text, match.end()), letters)
            if read is not None and letter and _CONCLUDE_END.match(text[letter[1]:]):
                found.append((match.start(), read))
    # "C is the answer", "Option C it is", "C を選びます".
    found += [(m.start(), m.group(1)) for m in _IS_ANSWER.finditer(text) if m.group(1) in letters]
    return sorted(found)


_VERDICT = re.compile(
    r"(?<![A-Za-z])" + _OPTION_WORD + r"[(\[（]?([A-J])[)\]）]?\s*"
    r"(?:(?:が|は|こそ)\s*(?:最も)?(?:正しい|正解|適切|妥当)(?!で(?:は|な))(?!く)|"
    r"(?:is|must\s+be|seems)\s+(?:the\s+)?(?:correct|right|true|best)(?:\s+(?:answer|one|option|choice))?\b)",
    re.I)


_OR_BEFORE = re.compile(r"(?:or|または|か)\s*" + _OPTION_WORD + r"[(\[（]?$", re.I)
_ALONE = re.compile(_OPTION_WORD + r"[「『\"'(\[（]?([A-J])[)\]）」』\"']?\s*(?:です)?[.。]?", re.I)


def extract_choice(text: str | None, letters: str = "ABCD") -> str | None:
    """The multiple-choice letter a reply settles on, or ``None``.

    ``letters`` are the allowed choices in order (``"ABCD"``, up to ``"ABCDEFGHIJ"``). The rules
    (shared by every multiple-choice benchmark, listed in ``docs/extraction.md``): NFKC first;
    the last commitment (``\\boxed{B}``, ``Answer: (B)``, ``回答：Ｂ``, ``答えは選択肢Bです``,
    ``option b``, ``I'll go with B``, a revision ``wait, actually C``) decides; ``A ではなく B``
    gives B; ``A or B`` / ``Aですが、Bの可能性もあります`` gives ``None``. Without a commitment,
    the last verdict on one option (``C) が正しい``, ``C is correct``), then a last line that is
    the letter alone.
    """
    if not text:
        return None
    text = nfkc(text).replace("*", "").replace("#", "")
    text = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}", r"\1", text)
    commitments = _commitments(text, letters)
    if commitments:
        last = commitments[-1][1]
        return None if last == _UNDECIDED else last
    verdicts = [m for m in _VERDICT.finditer(text) if m.group(1) in letters]
    if verdicts:
        verdict = verdicts[-1]
        before = text[max(0, verdict.start() - 12): verdict.start(1)]
        if _UNDECIDED_AFTER.match(text[verdict.end(1):]) or _OR_BEFORE.search(before):
            return None  # "A or C is correct"
        return verdict.group(1)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines:
        alone = _ALONE.fullmatch(lines[-1])
        if alone and alone.group(1).upper() in letters:
            return alone.group(1).upper()
    return None


# ---------------------------------------------------------------- mathematics
#
# The final answer of a worked solution (docs/extraction.md): the last group of boxes
# (``\boxed{1}, \boxed{2}`` is one answer ``1, 2``) unless a later statement revises it
# (``wait, actually the answer is 6``); without a box, the last answer statement
# (``答えは12です``, ``答え：４``, ``全部で6通りです``, ``よって x = 3``, ``the answer is 5``) — never
# merely the last number, which may come from the problem; else a value stated with a copula
# (``…は 13 です``); else a last line that is only an expression. The value is cleaned for
# math-verify: counters and units (``12個``, ``6通り``) dropped, ``°`` → ``^\circ``,
# ``√3`` → ``\sqrt{3}``, ``π`` → ``\pi``, ``1,000`` → ``1000``.

_CJK = r"\u3040-\u30ff\u3400-\u9fff\u3005\u30f6"
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)"
_ATOM = rf"(?:[-−]?{_NUMBER}(?:/\d+)?(?:√\(?\d+\)?|π)?|[-−]?√\(?\d+\)?|[-−]?π)"
_PLAIN_EXPR = re.compile(rf"(?<![A-Za-z\d.]){_ATOM}(?:\s*[-+*/^×÷·]\s*\(?{_ATOM}\)?)*\s*°?")
_MATH_SEGMENT = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_LIST_SEP = re.compile(
    r"\s*(?:,|、|;|と|および|及び|and|or|または|もしくは)\s*(?:[a-zA-Z]\s*=\s*)?\s*", re.I)
_ANSWER_PHRASE = re.compile(
    r"(?:最終的な答え|最終解答|最終回答|答え|解答|正解|答|final\s+answer|the\s+answer|answer)"
    r"\s*(?:\([^)\n]{0,20}\)\s*)?(?:は|が|:|=|→|is|would\s+be|should\s+be)\s*|"
    r"(?<![\w\u3040-\u30ff\u4e00-\u9fff])答え\s+(?=[-−\d$\\√π])|(?:値|の数|個数|人数)は\s*|"
    r"(?:全部で|合計で|合計は|総数は|全部は|求める[^\s、。]{0,8}?は|最大値は|最小値は)\s*|"
    r"(?:正しくは|正しい答えは|correct\s+answer\s+is)\s*|"
    r"\b(?:so|thus|therefore|hence),?\s+the\s+(?:total(?:\s+number)?(?:\s+of\s+\w+)?|"
    r"number\s+of\s+\w+|probability|area|sum|value|result|remainder|limit)\s+(?:is|equals|=)\s+",
    re.I)
_CONCLUSION = re.compile(
    r"(?:(?<!に)よって|したがって|従って|ゆえに|故に|以上より|以上から|以上により|結論として|∴|"
    r"\btherefore\b|\bthus\b|\bhence\b)[,、\s]*", re.I)
_MATH_REVISION = re.compile(
    r"wait|actually|mistake|correction|re-?check|let\s+me\s+re|hmm|待って|いや|訂正|間違|"
    r"見直|再計算|修正|やり直|計算ミス", re.I)
_MATH_SENTENCE_END = re.compile(r"[。\n!?！？]|(?<![\d\\])\.(?!\d)")


def _clean_math(value: str) -> str:
    """A value ready for math-verify: units and counters dropped, symbols in LaTeX."""
    value = re.sub(r"\\text(?:rm)?\s*\{([^{}]*)\}",
                   lambda m: "" if re.search(f"[{_CJK}]", m.group(1)) else m.group(0), value)
    value = re.sub(f"[{_CJK}]+", " ", value)
    for symbol, latex in (("−", "-"), ("×", "\\times "), ("÷", "\\div "), ("·", "\\cdot ")):
        value = value.replace(symbol, latex)
    value = re.sub(r"°|\^\s*\{?\\circ\}?|\\degree", "^\\\\circ", value)
    value = re.sub(r"√\s*\(([^()]*)\)", r"\\sqrt{\1}", value)
    value = re.sub(r"√\s*(\d+|[a-z])", r"\\sqrt{\1}", value)
    value = value.replace("π", "\\pi ")
    value = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", value)
    return re.sub(r"\s+", " ", value).strip(" .,、:;")


def _box_group(text: str, found: list[tuple[int, int, str]]) -> tuple[int, int, str]:
    """The last box joined with the boxes just before it that only a list separator parts."""
    start, end, content = found[-1]
    parts = [content]
    for prev_start, prev_end, prev_content in reversed(found[:-1]):
        between = text[prev_end:start].replace("$", "")
        if not _LIST_SEP.fullmatch(between) and between.strip():
            break
        parts.insert(0, prev_content)
        start = prev_start
    return start, end, ", ".join(parts)


def _pick(region: str, spans: list[tuple[int, int, str]], first: bool) -> str:
    """The first (or last) of ``spans`` in ``region``, joined with its list neighbours
    (``1, 2``, ``1 と 2``, ``$x=1$ または $x=2$``) into one answer."""
    index = 0 if first else len(spans) - 1
    lo = hi = index
    while hi + 1 < len(spans) and _LIST_SEP.fullmatch(region[spans[hi][1]:spans[hi + 1][0]]):
        hi += 1
    while not first and lo > 0 and _LIST_SEP.fullmatch(region[spans[lo - 1][1]:spans[lo][0]]):
        lo -= 1
    return ", ".join(span[2] for span in spans[lo:hi + 1])


def _segments_value(region: str, first: bool) -> str | None:
    """The value of the first (or last) ``$…$`` / ``\\(…\\)`` / ``\\[…\\]`` in ``region``."""
    spans = [(m.start(), m.end(), next(g for g in m.groups() if g is not None))
             for m in _MATH_SEGMENT.finditer(region)]
    if not spans:
        return None
    value = _pick(region, spans, first)
    if "=" in value and "," not in value:
        value = value.rsplit("=", 1)[1]  # "6 + 6 = 12" → 12, "x = 3" → 3
    return value


_CONDITION = re.compile(r"\s*(?:のとき|の時|の場合|when\b|for\b|if\b)", re.I)


def _plain_value(region: str, first: bool) -> str | None:
    """The first (or last) plain number or expression of ``region``, following ``=``."""
    # "x = 1 のとき 3" / "3 when x = 1": a value that states a condition is not the answer.
    spans = [(m.start(), m.end(), m.group(0).strip()) for m in _PLAIN_EXPR.finditer(region)
             if not _CONDITION.match(region, m.end())]
    if not spans:
        return None
    if first:  # "答えは 6 + 6 = 12 通り" → 12
        while len(spans) > 1 and re.fullmatch(r"\s*=\s*", region[spans[0][1]:spans[1][0]]):
            spans = spans[1:]
    return _pick(region, spans, first)


def _statement_value(text: str, start: int, first: bool) -> str | None:
    end = _MATH_SENTENCE_END.search(text, start)
    region = text[start: end.start() if end else len(text)][:300]
    if _BOX.search(region):
        return None  # the box itself is the statement
    return _segments_value(region, first) or _plain_value(region, first)


def _statements(text: str) -> list[tuple[int, str]]:
    """Answer statements without a box: (position, value), in text order."""
    found = []
    for pattern, first in ((_ANSWER_PHRASE, True), (_CONCLUSION, False)):
        for match in pattern.finditer(text):
            value = _statement_value(text, match.end(), first)
            if value:
                found.append((match.start(), value))
    return sorted(found)


_COPULA_VALUE = re.compile(
    rf"(?:は|が)\s*({_PLAIN_EXPR.pattern}|\$[^$\n]+\$)\s*[{_CJK}]{{0,3}}?\s*"
    r"(?:です|である|となります|となる|になります|になる)(?=[。.\s]|$)")


def extract_math(text: str | None) -> str | None:
    """The final answer of a worked math solution as LaTeX for math-verify, or ``None``.

    The last group of ``\\boxed{…}`` (several boxes parted only by commas or ``と`` form one
    answer) unless a later statement after a revision cue (``wait``, ``actually``, ``いや``,
    ``訂正``…) gives another value; else the last answer statement (``答えは12です``,
    ``答え：４``, ``全部で6通り``, ``よって x = 3``, ``the answer is 5``); else the last
    ``…は 13 です`` of a reply whose last sentence is complete; else a last line that is only
    an expression. ``None`` when the text states no answer: the last number of a
    reply is not taken, it may come from the problem. Counters and units are dropped
    (``\\boxed{12個}`` → ``12``), ``90°`` becomes ``90^\\circ``.
    """
    if not text:
        return None
    text = nfkc(text).replace("**", "")
    found = boxes(text)
    statements = _statements(text)
    if found:
        _, end, content = _box_group(text, found)
        later = [(pos, value) for pos, value in statements if pos >= end
                 and _MATH_REVISION.search(text[end:pos + 40])]
        if later:
            return f"${_clean_math(later[-1][1])}$"
        cleaned = _clean_math(content)
        return f"\\boxed{{{cleaned}}}" if cleaned else None
    if statements:
        return f"${_clean_math(statements[-1][1])}$"
    # "…の第 7 項は 13 です。": the last "は <value> です" of a reply that ends its last
    # sentence (a trace cut off mid-sentence states intermediate values this way too).
    stated = _COPULA_VALUE.findall(text)
    if stated and re.search(r"[。.!?！？]\s*$", text):
        return f"${_clean_math(stated[-1])}$"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines:
        last = re.sub(r"\s*(?:です|である|だ)?[\s。.]*$", "", lines[-1])
        if re.fullmatch(r"[\x00-\x7f]*=\s*" + _PLAIN_EXPR.pattern, last):  # "6! = 720 です"
            last = last.rsplit("=", 1)[1].strip()
        segment = re.fullmatch(r"\$\$?(.+?)\$?\$|\\\[(.+?)\\\]", last)
        if segment:
            return f"${_clean_math(segment.group(1) or segment.group(2))}$"
        if re.fullmatch(rf"(?:[a-zA-Z]\s*=\s*)?{_PLAIN_EXPR.pattern}", last):
            return f"${_clean_math(last)}$"
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
