"""Corpus BLEU with sacrebleu, the Japanese side tokenised by fugashi + the IPA dictionary.

sacrebleu's own ``ja-mecab`` tokenizer is MeCab (mecab-python3) with ``ipadic`` in wakati
mode, each line stripped before and after; :class:`JaTokenizer` does exactly that through
fugashi's bundled MeCab with one tagger reused for every line, and the tokenised text is fed
to sacrebleu with ``tokenize="none"``. The score equals ``tokenize="ja-mecab"``; the
signature names the tokenisation as sacrebleu would (``tok:ja-mecab-0.996-IPA``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any


class JaTokenizer:
    """fugashi (MeCab 0.996) + ipadic in wakati mode: ``"今日は晴れ"`` → ``"今日 は 晴れ"``."""

    def __init__(self) -> None:
        import fugashi
        import ipadic

        self.tagger = fugashi.GenericTagger(ipadic.MECAB_ARGS + " -Owakati")
        info = self.tagger.dictionary_info
        # The IPA system dictionary and no user dictionary, as sacrebleu's ja-mecab requires.
        if len(info) != 1 or info[0].get("size") != 392126:
            raise RuntimeError("fugashi is not using the IPA dictionary (ipadic) alone")
        self.version = "0.996"

    def __call__(self, line: str) -> str:
        # fugashi's parse already strips the trailing newline MeCab's wakati output adds.
        return self.tagger.parse(line.strip()).strip()

    def many(self, lines: Sequence[str]) -> list[str]:
        """Tokenise ``lines``; repeated lines are tokenised once."""
        seen: dict[str, str] = {}
        parse = self.tagger.parse
        out = []
        for line in lines:
            tok = seen.get(line)
            if tok is None:
                tok = seen[line] = parse(line.strip()).strip()
            out.append(tok)
        return out

    def signature(self) -> str:
        return f"ja-mecab-{self.version}-IPA"


@lru_cache(maxsize=1)
def ja_tokenizer() -> JaTokenizer:
    """The process-wide tokenizer (loading the dictionary once)."""
    return JaTokenizer()


def _bleu(tokenize: str):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize)


def bleu_signature(target_lang: str) -> str:
    """sacrebleu's signature string for a corpus BLEU into ``target_lang``."""
    bleu = _bleu("none" if target_lang == "ja" else "13a")
    bleu.num_refs = 1  # one reference per segment, as every jre BLEU is computed
    sig = bleu.get_signature()
    if target_lang == "ja":
        sig.info["tok"] = ja_tokenizer().signature()
    return sig.format()


def tokenize_for_bleu(lines: Sequence[str], target_lang: str) -> list[str]:
    """Japanese lines tokenised by :class:`JaTokenizer`; other languages unchanged (13a later)."""
    return ja_tokenizer().many(lines) if target_lang == "ja" else list(lines)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], target_lang: str = "ja") -> Any:
    """sacrebleu's ``BLEUScore`` of ``hypotheses`` against one reference each.

    Into Japanese: fugashi/ipadic tokenisation then ``tokenize="none"`` (equal to sacrebleu's
    ``ja-mecab``); into other languages: sacrebleu's ``13a``.
    """
    if target_lang == "ja":
        tok = ja_tokenizer()
        return _bleu("none").corpus_score(tok.many(hypotheses), [tok.many(references)])
    return _bleu("13a").corpus_score(list(hypotheses), [list(references)])


def sentence_stats(hypothesis: str, reference: str, target_lang: str = "ja") -> list[int]:
    """BLEU sufficient statistics of one sentence pair (summed over a corpus: corpus BLEU).

    ``[hyp_len, ref_len, correct_1..4, total_1..4]`` as sacrebleu computes them.
    """
    bleu = _stats_bleu("none" if target_lang == "ja" else "13a")
    hyp, ref = tokenize_for_bleu([hypothesis, reference], target_lang)
    return [int(x) for x in bleu._extract_corpus_statistics([hyp], [[ref]])[0]]


@lru_cache(maxsize=2)
def _stats_bleu(tokenize: str):
    return _bleu(tokenize)


def bleu_from_stats(stats: Sequence[Sequence[int]], target_lang: str = "ja") -> float:
    """Corpus BLEU (0-100) from summed :func:`sentence_stats` — what sacrebleu reports."""
    import numpy as np

    bleu = _stats_bleu("none" if target_lang == "ja" else "13a")
    total = np.asarray(stats, dtype=np.int64).sum(axis=0) if len(stats) else np.zeros(10, np.int64)
    return float(bleu._compute_score_from_stats(total.tolist()).score)
