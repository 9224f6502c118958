"""WMT20 news translation, English→Japanese and Japanese→English, corpus BLEU (sacrebleu).

The Japanese side is tokenised with fugashi + ipadic (identical to sacrebleu's ``ja-mecab``);
English uses sacrebleu's ``13a``. Every score carries its sacrebleu signature.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from jre import hookimpl
from jre.bleu_ja import bleu_from_stats, bleu_signature, sentence_stats
from jre.errors import UserError
from jre.extract import extract_translation
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, DatasetSpec, Item
from jre.records import Sampling

PROMPTS = {
    "ja": ("次の英文を日本語に翻訳してください。訳文だけを、改行してから「日本語: 訳文」の形式で"
           "出力してください。\n\n英語: {source}"),
    "en": ("Translate the following Japanese sentence into English. Output only the translation, "
           "on a new line, in the form \"English: <translation>\".\n\nJapanese: {source}"),
}
LABELS = {"ja": r"日本語\s*[:：]", "en": r"English\s*:"}


def _first(value: Any) -> Any:
    """``value``, or its first element when it is a list."""
    return value[0] if isinstance(value, list) and value else value


class WMT20(Benchmark):
    """One direction of the WMT20 news test set (``lighteval/sacrebleu_manual``)."""

    config_model = BenchmarkConfig
    fields = ("translation",)
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
    metric = "bleu"
    corpus_level = True
    source_lang: ClassVar[str] = "en"
    target_lang: ClassVar[str] = "ja"

    def items(self, rows: list[dict[str, Any]], config: Any) -> list[Item]:
        items = []
        for index, row in enumerate(rows):
            pair = row["translation"]
            if isinstance(pair, str):  # the hub copy stores the dict as its Python repr
                pair = ast.literal_eval(pair)
            if not isinstance(pair, dict) or self.source_lang not in pair or self.target_lang not in pair:
                raise UserError(f"row {index}: `translation` needs keys {self.source_lang!r} and "
                                f"{self.target_lang!r}", field="translation")
            # Some copies hold a list per language; the reference harnesses take its first
            # element (as_list(v)[0]).
            items.append(Item(str(index), {"source": _first(pair[self.source_lang]),
                                           "reference": _first(pair[self.target_lang])}))
        return items

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": PROMPTS[self.target_lang].format(source=item.data["source"])}]

    def extract(self, text: str, item: Item, config: Any) -> str:
        """The text after the last ``日本語:`` / ``English:`` label (its line), else the reply."""
        labelled = list(re.finditer(LABELS[self.target_lang], text or ""))
        if labelled:
            rest = text[labelled[-1].end():].strip()
            return extract_translation(rest.splitlines()[0] if rest else "")
        return extract_translation(text)

    def score(self, answer: Any, item: Item, config: Any) -> list[int]:
        """BLEU sufficient statistics of the sentence (summed by :meth:`aggregate`)."""
        return sentence_stats(answer or "", item.data["reference"], self.target_lang)

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        return {self.metric: bleu_from_stats(list(scores), self.target_lang)}

    def aggregate(self, per_item: Sequence[Sequence[Any]]) -> dict[str, float]:
        """Corpus BLEU over every sample (with N>1 each sample is its own hypothesis)."""
        return {self.metric: bleu_from_stats([s for scores in per_item for s in scores],
                                             self.target_lang)}

    def result_extras(self, config: Any) -> dict[str, Any]:
        return {"signature": bleu_signature(self.target_lang)}

    def reference(self, item: Item) -> str:
        return item.data["reference"]


class WMT20EnJa(WMT20):
    """WMT20 English→Japanese: 1,000 sentences, BLEU (ja-mecab), T=0.6, P=0.95."""

    name = "wmt20_en_ja"
    short_name = "En/Ja"
    description = "WMT20 En→Ja news translation, BLEU with MeCab/IPA tokenisation"
    dataset = DatasetSpec("lighteval/sacrebleu_manual", config="wmt20_en-ja", split="test")
    source_lang, target_lang = "en", "ja"


class WMT20JaEn(WMT20):
    """WMT20 Japanese→English: 993 sentences, BLEU (13a), T=0.6, P=0.95."""

    name = "wmt20_ja_en"
    short_name = "Ja/En"
    description = "WMT20 Ja→En news translation, BLEU (13a)"
    dataset = DatasetSpec("lighteval/sacrebleu_manual", config="wmt20_ja-en", split="test")
    source_lang, target_lang = "ja", "en"


@hookimpl
def register_benchmarks(register):
    register(WMT20EnJa())
    register(WMT20JaEn())
