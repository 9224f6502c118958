"""Benchmark decontamination: n-gram overlap between SFT rows and benchmark questions.

Text is cut into words: Japanese (any kana or kanji in the text) by MeCab through fugashi +
ipadic (the tokeniser of :mod:`jre.bleu_ja`), so a Japanese question written without spaces
still yields words; other text into words by whitespace and punctuation. A row overlaps a
benchmark when it shares one n-gram (8- and 13-grams by default) with any of its questions.
A question of at least 5 but fewer than n words counts as one gram of its own length, found anywhere
inside a row, so a short question copied verbatim is still found.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jre.bleu_ja import ja_tokenizer
from jre.errors import UserError
from jre.kinds.benchmark import Benchmark
from jre.plugin_manager import PluginSet

_JA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
_WORD = re.compile(r"\w+", re.UNICODE)
DEFAULT_N = (8, 13)
MIN_WORDS = 5  # shorter questions ("sp", "Physics") would match ordinary words anywhere


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (MeCab for Japanese, punctuation dropped)."""
    if _JA.search(text):
        tokens = ja_tokenizer()(text).split()
    else:
        tokens = text.split()
    return [w.lower() for t in tokens for w in _WORD.findall(t)]


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The n-grams of ``tokens`` (none when it is shorter than ``n``)."""
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


@dataclass
class BenchmarkIndex:
    """The n-grams of every benchmark's questions, to test SFT rows against."""

    n: tuple[int, ...] = DEFAULT_N
    grams: dict[str, dict[int, set[tuple[str, ...]]]] = field(default_factory=dict)
    questions: dict[str, int] = field(default_factory=dict)

    def add(self, benchmark: str, texts: Iterable[str]) -> None:
        """Index the question texts of ``benchmark``."""
        per_n = self.grams.setdefault(benchmark, {k: set() for k in self.n})
        for text in texts:
            tokens = words(text)
            self.questions[benchmark] = self.questions.get(benchmark, 0) + 1
            for k in self.n:
                if MIN_WORDS <= len(tokens) < k:
                    per_n.setdefault(len(tokens), set()).add(tuple(tokens))
                else:
                    per_n[k] |= ngrams(tokens, k)

    def matches(self, text: str) -> dict[str, int]:
        """Benchmarks ``text`` overlaps → the longest gram that matched."""
        tokens = words(text)
        found: dict[str, int] = {}
        cache: dict[int, set[tuple[str, ...]]] = {}
        for benchmark, per_n in self.grams.items():
            for k in sorted(per_n):
                if per_n[k] and (cache.setdefault(k, ngrams(tokens, k)) & per_n[k]):
                    found[benchmark] = k
        return found


def item_texts(item: Any) -> list[str]:
    """The question text of a benchmark item: the longest string field of its dataset row
    (the question; answer options and metadata are shorter)."""
    texts = [v for v in item.data.values() if isinstance(v, str) and v.strip()]
    return [max(texts, key=len)] if texts else []


def benchmark_index(recipe: Any, plugins: PluginSet, n: tuple[int, ...] = DEFAULT_N) -> BenchmarkIndex:
    """The questions of every benchmark in ``recipe``'s ``[eval]``, loaded by the benchmark
    plugins of ``plugins`` (an empty index without ``[eval]``)."""
    index = BenchmarkIndex(n=n)
    if recipe.eval is None:
        return index
    base = recipe.path.parent if recipe.path else None
    for i, ref in enumerate(recipe.eval.benchmarks):
        try:
            benchmark = plugins.get(Benchmark, ref.name).bind(ref.config, base)
            items = benchmark.load(ref.config, base).items
        except UserError as exc:
            exc.field = f"eval.benchmarks[{i}]" + (f".{exc.field}" if exc.field else "")
            raise
        index.add(ref.name, (t for item in items for t in item_texts(item)))
    return index
