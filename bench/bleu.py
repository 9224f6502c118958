"""jre's Japanese BLEU (fugashi + ipadic, sacrebleu tokenize="none") against sacrebleu's own
``ja-mecab`` on 2,000 generated Japanese sentence pairs: same scores, and the time each takes.

Last line: ``bleu max_abs_diff=<d> speed_ratio=<sacrebleu_time/jre_time>``.
"""

from __future__ import annotations

import random
import time

SUBJECTS = ["私", "彼女", "学生たち", "東京の会社", "研究者", "この町の人々", "ＡＩモデル", "先生",
            "子供", "政府", "猫", "エンジニア"]
OBJECTS = ["新しい論文", "日本語の文章", "美味しいラーメン", "複雑な数式", "古い地図", "２０２４年の予算",
           "機械翻訳の結果", "桜の写真", "京都への切符", "プログラム", "天気予報", "小説"]
VERBS = ["読みました", "書いています", "食べたい", "解きました", "探しています", "発表した", "確認する",
         "撮りました", "買いました", "直しました", "見ている", "翻訳した"]
PLACES = ["図書館で", "駅の近くで", "昨日", "毎朝", "大学で", "静かに", "急いで", "家族と", "ゆっくり"]
TAILS = ["。", "と言われている。", "ので、とても嬉しい。", "が、まだ終わらない。", "そうです。", "！"]


def sentence(rng: random.Random) -> str:
    parts = [rng.choice(SUBJECTS), "は", rng.choice(PLACES), rng.choice(OBJECTS), "を",
             rng.choice(VERBS)]
    if rng.random() < 0.5:
        parts = parts + ["、そして", rng.choice(OBJECTS), "も", rng.choice(VERBS)]
    return "".join(parts) + rng.choice(TAILS)


def perturb(text: str, rng: random.Random) -> str:
    # A hypothesis: the reference with some words swapped or dropped.
    for pool in (SUBJECTS, OBJECTS, VERBS, PLACES):
        for word in pool:
            if word in text and rng.random() < 0.3:
                text = text.replace(word, rng.choice(pool), 1)
    return text if rng.random() < 0.8 else text[: max(1, len(text) // 2)]


def main() -> None:
    import sacrebleu

    from jre.bleu_ja import JaTokenizer, corpus_bleu, ja_tokenizer

    rng = random.Random(20)
    refs = [sentence(rng) for _ in range(2000)]
    hyps = [perturb(r, rng) for r in refs]
    ja_tokenizer()  # dictionary load is one-off set-up for both sides
    sacrebleu.BLEU(tokenize="ja-mecab")

    diffs = []
    jre_time = theirs_time = 0.0
    for _round in range(3):
        # Fresh tokenizers each round: neither side benefits from a warm line cache.
        ja_tokenizer.cache_clear()
        ja_tokenizer()
        start = time.perf_counter()
        ours = corpus_bleu(hyps, refs, "ja").score
        jre_time += time.perf_counter() - start

        start = time.perf_counter()
        theirs = sacrebleu.BLEU(tokenize="ja-mecab").corpus_score(hyps, [refs]).score
        theirs_time += time.perf_counter() - start
        diffs.append(abs(ours - theirs))

    tok = JaTokenizer()
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    mecab = TokenizerJaMecab()
    same = sum(tok(s) == mecab(s) for s in refs + hyps)
    print(f"pairs={len(refs)} jre_bleu={ours:.6f} sacrebleu_bleu={theirs:.6f} "
          f"tokenisation_identical={same}/{len(refs) + len(hyps)}")
    print(f"jre {jre_time / 3 * 1000:.1f} ms, sacrebleu ja-mecab {theirs_time / 3 * 1000:.1f} ms per corpus")
    print(f"bleu max_abs_diff={max(diffs):.3g} speed_ratio={theirs_time / jre_time:.2f}")


if __name__ == "__main__":
    main()
