"""jre's Japanese BLEU (fugashi + ipadic → sacrebleu tokenize="none") equals sacrebleu's
own ``ja-mecab`` on a fixture corpus, to 1e-9; the tokenisation is identical line by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from jre.bleu_ja import JaTokenizer, bleu_from_stats, bleu_signature, corpus_bleu, sentence_stats

CORPUS = Path(__file__).parent / "fixtures" / "eval" / "bleu_ja_corpus.jsonl"


def pairs() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return [r["hyp"] for r in rows], [r["ref"] for r in rows]


def test_equals_sacrebleu_ja_mecab() -> None:
    hyps, refs = pairs()
    theirs = sacrebleu.BLEU(tokenize="ja-mecab").corpus_score(hyps, [refs])
    ours = corpus_bleu(hyps, refs, "ja")
    assert 0 < theirs.score < 100
    assert abs(ours.score - theirs.score) < 1e-9
    assert ours.counts == theirs.counts and ours.totals == theirs.totals
    assert ours.sys_len == theirs.sys_len and ours.ref_len == theirs.ref_len


def test_tokenisation_identical_line_by_line() -> None:
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    hyps, refs = pairs()
    tok, mecab = JaTokenizer(), TokenizerJaMecab()
    for line in hyps + refs:
        assert tok(line) == mecab(line)
    assert tok.many(hyps) == [mecab(h) for h in hyps]


def test_sentence_statistics_sum_to_corpus_bleu() -> None:
    hyps, refs = pairs()
    stats = [sentence_stats(h, r, "ja") for h, r in zip(hyps, refs)]
    theirs = sacrebleu.BLEU(tokenize="ja-mecab").corpus_score(hyps, [refs]).score
    assert abs(bleu_from_stats(stats, "ja") - theirs) < 1e-9
    english = (["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "the dog"])
    en_stats = [sentence_stats(h, r, "en") for h, r in zip(*english)]
    assert abs(bleu_from_stats(en_stats, "en") - sacrebleu.corpus_bleu(english[0], [english[1]]).score) < 1e-9


def test_signature_names_ja_mecab() -> None:
    hyps, refs = pairs()
    bleu = sacrebleu.BLEU(tokenize="ja-mecab")
    bleu.corpus_score(hyps, [refs])
    assert bleu_signature("ja") == bleu.get_signature().format()
    print(bleu_signature("ja"))


@pytest.mark.parametrize("line", ["", "   ", "ＡＢＣ　全角", "改行\nを含む"])
def test_edge_lines(line: str) -> None:
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    assert JaTokenizer()(line) == TokenizerJaMecab()(line)
