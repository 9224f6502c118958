"""Instruction checkers of M-IFEval's Japanese set (ids ``ja:<group>:<name>``), strict and
loose, as M-IFEval's ``ja_instructions`` judge them.

The Japanese set rewrites most of IFEval's checkers for Japanese text (``・`` bullets,
``『』`` titles, ``「」`` quotation, ``。``/``、`` punctuation); those are implemented here.
The ones whose logic is language-independent are lm-eval's own IFEval checkers
(:data:`SHARED`). Word and sentence checks use the tools M-IFEval uses: janome (forbidden
words, nominal endings) and ja-sentence-segmenter (sentence counts). An id without a
checker here is named by :func:`unsupported`, so a dataset holding one is refused rather
than scored wrongly."""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from jre.errors import UserError

Checker = Callable[[str, dict[str, Any]], bool]

_KANJI = re.compile(r"[\u4e00-\u9faf]")
_QUOTES = (re.compile(r"「.*?」"), re.compile(r"『.*?』"))
# M-IFEval's relations: 未満 (fewer than), 以上 (at least).
_RELATIONS = ("未満", "以上")


def _compare(count: int, limit: int, relation: str) -> bool:
    if relation not in _RELATIONS:
        raise ValueError(f"relation must be one of {_RELATIONS}, got {relation!r}")
    return count < limit if relation == "未満" else count >= limit


def _letter_is_ignorable(char: str) -> bool:
    return not unicodedata.category(char).startswith("L")


def hiragana_only(text: str, kw: dict[str, Any]) -> bool:
    """Every letter is hiragana (ぁ–ん) or the long-vowel mark; non-letters are ignored."""
    return all("ぁ" <= c <= "ん" or c == "ー" or _letter_is_ignorable(c) for c in text)


def katakana_only(text: str, kw: dict[str, Any]) -> bool:
    """Every letter is katakana (full or half width), ー or ・; non-letters are ignored."""
    return all("ァ" <= c <= "ン" or c in "ー・" or "ｦ" <= c <= "ﾟ" or _letter_is_ignorable(c)
               for c in text)


def no_hiragana(text: str, kw: dict[str, Any]) -> bool:
    """No hiragana (ぁ–ゖ) at all."""
    return not any("ぁ" <= c <= "ゖ" for c in text)


def no_katakana(text: str, kw: dict[str, Any]) -> bool:
    """No katakana (ァ–ヺ, half-width ｦ–ﾟ) at all."""
    return not any("ァ" <= c <= "ヺ" or "ｦ" <= c <= "ﾟ" for c in text)


def kanji_limit(text: str, kw: dict[str, Any]) -> bool:
    """The number of kanji compared with ``kanji_limit`` by ``relation``."""
    return _compare(len(_KANJI.findall(text)), int(kw["kanji_limit"]), kw["relation"])


def furigana(text: str, kw: dict[str, Any]) -> bool:
    """Every run of kanji is followed by its reading in hiragana in full-width brackets."""
    runs = re.findall(r"[\u4e00-\u9faf]+", text)
    read = re.findall(r"[\u4e00-\u9faf]+（[ぁ-ん]+）", text)
    return len(runs) == len(read)


def kansuuji(text: str, kw: dict[str, Any]) -> bool:
    """No digit (any script's) anywhere: numbers in kanji numerals only."""
    return not re.search(r"\d", text)


def sentence_unified_end(text: str, kw: dict[str, Any]) -> bool:
    """Outside 「」 and 『』 quotes, every sentence (split at 。！？) ends with ``ending``."""
    for quote in _QUOTES:
        text = quote.sub("", text)
    return all(not s or s.endswith(kw["ending"]) for s in re.split(r"[。！？]", text))


def no_period(text: str, kw: dict[str, Any]) -> bool:
    """No 。 anywhere."""
    return "。" not in text


def no_comma(text: str, kw: dict[str, Any]) -> bool:
    """No 、 anywhere."""
    return "、" not in text


def quotation(text: str, kw: dict[str, Any]) -> bool:
    """The whole response is wrapped in 「」."""
    text = text.strip()
    return len(text) > 1 and text[0] == "「" and text[-1] == "」"


def end_checker(text: str, kw: dict[str, Any]) -> bool:
    """The response ends with ``end_phrase`` (closing 」』 stripped from both)."""
    return text.strip().strip("」』").endswith(kw["end_phrase"].strip().strip("」』"))


def title(text: str, kw: dict[str, Any]) -> bool:
    """A non-blank title in 『』 on one line."""
    return any(t[1:-1].strip() for t in re.findall(r"『[^\n]+』", text))


def bullet_lists(text: str, kw: dict[str, Any]) -> bool:
    """Exactly ``num_bullets`` lines starting with ・."""
    return len(re.findall(r"^\s*・[^\・].*$", text, flags=re.MULTILINE)) == int(kw["num_bullets"])


CONSTRAINED = ("はい、そうです。", "いいえ、違います。", "どちらとも言えません。")


def constrained_response(text: str, kw: dict[str, Any]) -> bool:
    """One of M-IFEval's three Japanese answer options appears."""
    text = text.strip()
    return any(option in text for option in CONSTRAINED)


def letter_frequency(text: str, kw: dict[str, Any]) -> bool:
    """The hiragana ``letter`` plus its katakana counterpart, counted against
    ``let_frequency`` by ``let_relation``."""
    letter = kw["letter"].strip()
    count = text.count(letter) + text.count(chr(ord(letter) + 96))
    return _compare(count, int(kw["let_frequency"]), kw["let_relation"])


def numbered_lists(text: str, kw: dict[str, Any]) -> bool:
    """Exactly ``num_items`` lines starting with ``<digits>. ``."""
    return len(re.findall(r"^\s*\d+\.\s.*$", text, flags=re.MULTILINE)) == int(kw["num_items"])


def highlighted_sections(text: str, kw: dict[str, Any]) -> bool:
    """At least ``num_highlights`` non-blank sections in 《》 on one line."""
    found = re.findall(r"《[^\n《》]*》", text)
    return sum(1 for h in found if h.strip("《》").strip()) >= int(kw["num_highlights"])


def multiple_sections(text: str, kw: dict[str, Any]) -> bool:
    """At least ``num_sections`` headers 第<n><section_spliter> (n in ASCII or full-width)."""
    splitter = r"\s?第[\d\uFF10-\uFF19]+" + kw["section_spliter"].strip() + r"\s?"
    return len(re.split(splitter, text)) - 1 >= int(kw["num_sections"])


def postscript(text: str, kw: dict[str, Any]) -> bool:
    """A line (case-insensitive) starting with ``postscript_marker`` (P.S. / P.P.S / 追伸)."""
    marker = kw["postscript_marker"].strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker) + r".*$"
    return bool(re.findall(pattern, text, flags=re.IGNORECASE | re.MULTILINE))


def number_letters(text: str, kw: dict[str, Any]) -> bool:
    """The response's length in characters against ``num_letters`` by ``relation``."""
    return _compare(len(text), int(kw["num_letters"]), kw["relation"])


def keywords_exist(text: str, kw: dict[str, Any]) -> bool:
    """Every keyword occurs (as M-IFEval does, each keyword is a regular expression)."""
    return all(re.search(k, text) for k in kw["keywords"])


def keyword_frequency(text: str, kw: dict[str, Any]) -> bool:
    """Occurrences of ``keyword`` against ``frequency`` by ``relation``."""
    count = len(re.findall(kw["keyword"].strip(), text))
    return _compare(count, int(kw["frequency"]), kw["relation"])


def nth_paragraph_first_word(text: str, kw: dict[str, Any]) -> bool:
    """``num_paragraphs`` paragraphs (split at blank lines) and the ``nth_paragraph``-th
    starting (after an opening 「 or 『) with ``first_word``."""
    paragraphs = re.split(r"\n\n", text)
    count = sum(1 for p in paragraphs if p.strip())
    nth, first = int(kw["nth_paragraph"]), str(kw["first_word"]).lower()
    if nth > count or not paragraphs[nth - 1].strip():
        return False
    paragraph = paragraphs[nth - 1].strip().lstrip("「").lstrip("『")
    return count == int(kw["num_paragraphs"]) and paragraph[:len(first)] == first


@functools.cache
def _tokenizer() -> Any:
    try:
        from janome.tokenizer import Tokenizer
    except ImportError:
        raise UserError("M-IFEval-Ja's word checkers need janome (pip install janome)") from None
    return Tokenizer()


def _tokens(text: str) -> list[Any]:
    return list(_tokenizer().tokenize(text))


def forbidden_words(text: str, kw: dict[str, Any]) -> bool:
    """None of ``forbidden_words`` is a word (a janome token) of the response."""
    words = {t.surface for t in _tokens(text)}
    return not any(w in words for w in kw["forbidden_words"])


def nominal_ending(text: str, kw: dict[str, Any]) -> bool:
    """At least ``count`` sentences outside quotes end in a noun (体言止め): a 。！？ token
    right after a token whose part of speech is 名詞."""
    for quote in _QUOTES:
        text = quote.sub("", text)
    tokens = _tokens(text)
    count = sum(1 for a, b in itertools.pairwise(tokens)
                if b.surface in "。！？" and a.part_of_speech.startswith("名詞"))
    return count >= int(kw["count"])


def count_sentences(text: str) -> int:
    """Sentences as M-IFEval counts them: ja-sentence-segmenter's pipeline (normalise, split
    at newlines, join lines ending in の, split after 。!?)."""
    try:
        from ja_sentence_segmenter.common.pipeline import make_pipeline
        from ja_sentence_segmenter.concatenate.simple_concatenator import (
            concatenate_matching,
        )
        from ja_sentence_segmenter.normalize.neologd_normalizer import normalize
        from ja_sentence_segmenter.split.simple_splitter import (
            split_newline,
            split_punctuation,
        )
    except ImportError:
        raise UserError("M-IFEval-Ja's sentence count needs ja-sentence-segmenter "
                        "(pip install ja-sentence-segmenter)") from None
    split = functools.partial(split_punctuation, punctuations=r"。!?")
    join_no = functools.partial(concatenate_matching, former_matching_rule=r"^(?P<result>.+)(の)$",
                                remove_former_matched=False)
    return len(list(make_pipeline(normalize, split_newline, join_no, split)(text)))


def number_sentences(text: str, kw: dict[str, Any]) -> bool:
    """:func:`count_sentences` against ``num_sentences`` by ``relation``."""
    return _compare(count_sentences(text), int(kw["num_sentences"]), kw["relation"])


JAPANESE: dict[str, Checker] = {
    "ja:letters:hiragana_only": hiragana_only,
    "ja:letters:katakana_only": katakana_only,
    "ja:letters:no_hiragana": no_hiragana,
    "ja:letters:no_katakana": no_katakana,
    "ja:letters:kanji": kanji_limit,
    "ja:letters:furigana": furigana,
    "ja:letters:kansuuji": kansuuji,
    "ja:startend:sentence_unified_end": sentence_unified_end,
    "ja:startend:quotation": quotation,
    "ja:startend:end_checker": end_checker,
    "ja:punctuation:no_period": no_period,
    "ja:punctuation:no_comma": no_comma,
    "ja:detectable_format:title": title,
    "ja:detectable_format:number_bullet_lists": bullet_lists,
    "ja:detectable_format:constrained_response": constrained_response,
    "ja:keywords:letter_frequency": letter_frequency,
    "ja:keywords:existence": keywords_exist,
    "ja:keywords:frequency": keyword_frequency,
    "ja:detectable_format:number_numbered_lists": numbered_lists,
    "ja:detectable_format:number_highlighted_sections": highlighted_sections,
    "ja:detectable_format:multiple_sections": multiple_sections,
    "ja:detectable_content:postscript": postscript,
    "ja:length_constraints:number_letters": number_letters,
    "ja:length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "ja:length_constraints:number_sentences": number_sentences,
    "ja:keywords:forbidden_words": forbidden_words,
    "ja:detectable_format:nominal_ending": nominal_ending,
}

# Japanese ids judged exactly as IFEval's English checker judges them → lm-eval's class name.
SHARED: dict[str, str] = {
    "ja:detectable_format:json_format": "JsonFormat",
    "ja:detectable_content:number_placeholders": "PlaceholderChecker",
    "ja:combination:two_responses": "TwoResponsesChecker",
    "ja:combination:repeat_prompt": "RepeatPromptThenAnswer",
    "ja:length_constraints:number_paragraphs": "ParagraphChecker",
    "ja:language:response_language": "ResponseLanguageChecker",
}

SUPPORTED = frozenset(JAPANESE) | frozenset(SHARED)


def unsupported(ids: list[str]) -> list[str]:
    """The ids in ``ids`` no checker here judges."""
    return [i for i in ids if i not in SUPPORTED]


def _shared(instruction_id: str, text: str, kwargs: dict[str, Any]) -> bool:
    # lm-eval's ifeval module is imported on first use only: its import fetches nltk data.
    from lm_eval.tasks.ifeval import instructions

    checker = getattr(instructions, SHARED[instruction_id])(instruction_id)
    checker.build_description(**{k: v for k, v in kwargs.items() if v is not None})
    return bool(text.strip() and checker.check_following(text))


def check(instruction_id: str, text: str, kwargs: dict[str, Any]) -> bool:
    """Strict verdict of one instruction on ``text`` (``kwargs`` as the dataset gives them;
    ``None`` values are unset)."""
    if instruction_id in SHARED:
        return _shared(instruction_id, text, kwargs)
    kw = {k: v for k, v in (kwargs or {}).items() if v is not None}
    try:
        return bool(text.strip()) and JAPANESE[instruction_id](text, kw)
    except KeyError as missing:
        raise UserError(f"instruction {instruction_id!r} needs kwarg {missing}",
                        where="kwargs") from None


def loose_variants(text: str) -> list[str]:
    """IFEval's loose variants: the text, without its first line, last line or both, each
    also with ``*`` removed."""
    lines = text.split("\n")
    bases = [text, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(),
             "\n".join(lines[1:-1]).strip()]
    return bases + [b.replace("*", "") for b in bases]


def check_loose(instruction_id: str, text: str, kwargs: dict[str, Any]) -> bool:
    """Loose verdict: strict on any of :func:`loose_variants`."""
    return any(v.strip() and check(instruction_id, v, kwargs) for v in loose_variants(text))
