"""JamC-QA by category as a jre benchmark: a third-party plugin distribution in one module.

jre has JamC-QA built in (``jamcqa``); this package adds a variant, ``jamcqa_categories``,
that evaluates only the questions of chosen categories, the way any team can publish its own
benchmark.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.extract import extract_choice
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, DatasetSpec, Item
from jre.records import Sampling

LETTERS = "ABCD"
PROMPT = ("次の日本に関する質問に、選択肢 A, B, C, D から一つ選んで答えてください。"
          "考えた後、最後の行を「回答: X」の形式で書いてください。\n\n"
          "質問: {question}\n\n{choices}")


class JamCQAConfig(BenchmarkConfig):
    """Recipe options of ``jamcqa_categories``: where the data comes from and how much of it.

    ``path`` (a local JSONL/Parquet copy) overrides the hub dataset; ``categories`` keeps
    only questions of those categories; sampling options override T=0.6, P=0.95.
    """

    dataset: str = "sbintuitions/JamC-QA"
    split: str = "test"
    revision: str | None = None
    path: str | None = None
    limit: int | None = Field(default=None, gt=0)
    categories: list[str] | None = None


class JamCQACategories(Benchmark):
    """JamC-QA restricted to some categories: Japanese-specific knowledge, four choices
    (fields qid, category, question, choice0-3, answer_index)."""

    name = "jamcqa_categories"
    description = "JamC-QA by category: Japanese-specific knowledge QA, 4-way multiple choice"
    config_model = JamCQAConfig
    dataset = DatasetSpec("sbintuitions/JamC-QA", config="v1.0", split="test")
    fields = ("qid", "category", "question", "choice0", "choice1", "choice2", "choice3",
              "answer_index")
    id_field = "qid"
    sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)

    def items(self, rows: list[dict[str, Any]], config: Any) -> list[Item]:
        wanted = set(config.categories) if config is not None and config.categories else None
        items = super().items(rows, config)
        return [item for item in items if wanted is None or item.data["category"] in wanted]

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        choices = "\n".join(f"{letter}) {item.data[f'choice{i}']}" for i, letter in enumerate(LETTERS))
        return [{"role": "user", "content": PROMPT.format(question=item.data["question"],
                                                           choices=choices)}]

    def extract(self, text: str, item: Item, config: Any) -> str | None:
        return extract_choice(text, LETTERS)

    def score(self, answer: Any, item: Item, config: Any) -> float:
        return float(answer is not None and answer == self.reference(item))

    def reference(self, item: Item) -> str:
        return LETTERS[int(item.data["answer_index"])]


@hookimpl
def register_benchmarks(register):
    register(JamCQACategories())
