"""Scoring generations under the three answer-source policies, and a benchmark's results.

The eval stage feeds engine output through :func:`score_samples` (one details record per
sample) and reduces the details file with :func:`summarize` (score, bootstrap interval,
failure rate, scores by policy). Both are pure functions of their inputs, so results can
be recomputed from ``details.jsonl`` alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from jre.kinds.benchmark import Benchmark, Item, Scored
from jre.reasoning import ANSWER_POLICIES, AnswerPolicy, answer_text
from jre.records import Generation
from jre.translation import japanese_share

#: A trace counts as Japanese when at least this share of its letters is Japanese script
#: (the threshold synthesis uses to accept a Japanese translation).
JAPANESE_TRACE_SHARE = 0.5


def sample_id(item_id: str, index: int) -> str:
    """The details key of sample ``index`` of an item."""
    return f"{item_id}#{index}"


def score_samples(benchmark: Benchmark, config: Any, item: Item, messages: list[dict[str, str]],
                  generations: Sequence[Generation], policy: AnswerPolicy,
                  start: int = 0) -> list[dict[str, Any]]:
    """Details records for ``generations`` of ``item``: answers and scores under every policy.

    The three policies differ only for an unclosed trace; each distinct answer text is
    extracted and scored once (all of an item's answers go to one ``score_many`` call).
    """
    texts: list[dict[str, str]] = [{p: answer_text(g, p) for p in ANSWER_POLICIES} for g in generations]
    answers: dict[str, Any] = {}
    for by_policy in texts:
        for text in by_policy.values():
            if text not in answers:
                answers[text] = benchmark.extract(text, item, config) if text else None
    unique = list(answers)
    scored = benchmark.score_many([answers[t] for t in unique], item, config)
    status_of = {t: s.status for t, s in zip(unique, scored) if isinstance(s, Scored)}
    score_of = {t: s.score if isinstance(s, Scored) else s for t, s in zip(unique, scored)}
    records = []
    for offset, (gen, by_policy) in enumerate(zip(generations, texts)):
        index = start + offset
        scores = {p: score_of[by_policy[p]] for p in ANSWER_POLICIES}
        record = {
            "id": sample_id(item.id, index), "item_id": item.id, "sample": index,
            "messages": messages, "text": gen.text, "reasoning": gen.reasoning,
            "content": gen.content, "think_closed": gen.think_closed,
            "split_by": gen.split_by, "finish_reason": gen.finish_reason, "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens, "think_close_tokens": gen.think_close_tokens,
            "answer": answers[by_policy[policy]], "score": scores[policy],
            "scores_by_policy": scores, "reference": benchmark.reference(item),
        }
        if by_policy[policy] in status_of:
            record["status"] = status_of[by_policy[policy]]
        if not gen.think_closed:
            record["answers_by_policy"] = {p: answers[by_policy[p]] for p in ANSWER_POLICIES}
        records.append(record)
    return records


def rescore(benchmark: Benchmark, config: Any, items: dict[str, Item],
            records: Sequence[dict[str, Any]], policy: AnswerPolicy) -> list[dict[str, Any]]:
    """``records`` extracted and scored again from their stored text (a changed benchmark
    plugin); nothing is generated."""
    out = []
    for record in records:
        gen = Generation.from_dict(record)
        item = items[record["item_id"]]
        out += score_samples(benchmark, config, item, record["messages"], [gen], policy,
                             start=record["sample"])
    return out


def group_scores(records: Sequence[dict[str, Any]], item_ids: Sequence[str],
                 policy: AnswerPolicy) -> list[list[Any]]:
    """Per-item lists of sample scores under ``policy``, in ``item_ids`` order."""
    by_item: dict[str, list[tuple[int, Any]]] = {i: [] for i in item_ids}
    for record in records:
        if record["item_id"] in by_item:
            by_item[record["item_id"]].append((record["sample"], record["scores_by_policy"][policy]))
    return [[score for _, score in sorted(by_item[i])] for i in item_ids]


def bootstrap_ci(benchmark: Benchmark, per_item: Sequence[Sequence[Any]], *, rounds: int = 1000,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile 95% interval of the headline metric, resampling items with replacement."""
    n = len(per_item)
    if rounds <= 0 or n == 0:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    if not benchmark.corpus_level:
        # Mean-of-items metrics: resample the item values directly.
        values = np.array([benchmark.item_metrics(s)[benchmark.metric] for s in per_item])
        draws = values[rng.integers(0, n, size=(rounds, n))].mean(axis=1)
    else:
        draws = np.array([benchmark.aggregate([per_item[i] for i in rng.integers(0, n, size=n)])
                          [benchmark.metric] for _ in range(rounds)])
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return float(lo), float(hi)


FAILURE_RATE_DEFINITIONS = {
    "per_sample": "share of samples (outputs) whose reasoning trace never closed",
    "per_question": "share of questions with at least one sample whose trace never closed",
}


def failure_rates(records: Sequence[dict[str, Any]], item_ids: Sequence[str]) -> dict[str, Any]:
    """The per-sample failure rate and the paper's per-question one (設問: a question with
    at least one unclosed sample fails), over the questions in ``item_ids``."""
    wanted = set(item_ids)
    samples = [r for r in records if r["item_id"] in wanted]
    unclosed_items = {r["item_id"] for r in samples if not r["think_closed"]}
    questions = len(wanted)
    return {"per_sample": sum(not r["think_closed"] for r in samples) / len(samples) if samples else 0.0,
            "per_question": len(unclosed_items) / questions if questions else 0.0,
            "questions_unclosed": len(unclosed_items), "questions": questions}


def trace_languages(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many samples reasoned in Japanese, in another language, or left no trace, and the
    share of Japanese traces among the samples with a trace (None when none has one).

    Same detector as synthesis (:func:`jre.translation.japanese_share`): a trace is Japanese
    when at least half of its letters are Japanese script.
    """
    ja = other = none = 0
    for record in records:
        trace = record.get("reasoning") or ""
        if not trace.strip():
            none += 1
        elif japanese_share(trace) >= JAPANESE_TRACE_SHARE:
            ja += 1
        else:
            other += 1
    return {"ja": ja, "other": other, "none": none,
            "japanese_share": ja / (ja + other) if ja + other else None}


def summarize(benchmark: Benchmark, config: Any, items: Sequence[Item],
              records: Sequence[dict[str, Any]], *, policy: AnswerPolicy,
              bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The score part of results.json from a complete details file."""
    item_ids = [item.id for item in items]
    by_policy = {p: benchmark.aggregate(group_scores(records, item_ids, p)) for p in ANSWER_POLICIES}
    headline = group_scores(records, item_ids, policy)
    ci = bootstrap_ci(benchmark, headline, rounds=bootstrap, seed=seed)
    tokens = [r["completion_tokens"] for r in records if r.get("completion_tokens") is not None]
    rates = failure_rates(records, item_ids)
    languages = trace_languages(records)
    failures = sum(not r["think_closed"] for r in records)
    split_by: dict[str, int] = {}
    for r in records:
        key = str(r.get("split_by"))
        split_by[key] = split_by.get(key, 0) + 1
    metrics = by_policy[policy]
    return {
        "benchmark": benchmark.name,
        "short_name": benchmark.short_name or benchmark.name,
        "metric": benchmark.metric,
        "score": metrics[benchmark.metric],
        "ci95": list(ci) if ci else None,
        "metrics": metrics,
        "failure_rate": rates["per_sample"],
        "failure_rate_per_question": rates["per_question"],
        "failure_rates": {**rates, "definitions": FAILURE_RATE_DEFINITIONS},
        "n_unclosed": failures,
        "japanese_trace_share": languages["japanese_share"],
        "trace_languages": languages,
        "n_questions_unclosed": rates["questions_unclosed"],
        "think_detection": {"split_by": split_by},
        "mean_output_tokens": sum(tokens) / len(tokens) if tokens else None,
        "n_items": len(items),
        "n_samples": len(records),
        "answer_policy": policy,
        "scores_by_policy": {p: by_policy[p][benchmark.metric] for p in ANSWER_POLICIES},
        "metrics_by_policy": by_policy,
        "bootstrap": {"rounds": bootstrap, "seed": seed, "unit": "item"},
    }


def shuffled(values: Sequence[Any], seed: Any) -> list[Any]:
    """``values`` in an order fixed by ``seed`` (any hashable-by-str value)."""
    out = list(values)
    random.Random(str(seed)).shuffle(out)
    return out
