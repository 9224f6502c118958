"""Failure rate and score at smaller token budgets, from one run's details (no regeneration).

Engines record per sample ``think_close_tokens``: how many output tokens it took until the
trace closed (``</think>`` included; ``None`` when it never closed, ``0`` for output with no
trace at all). At budget ``B`` a sample whose text is longer than ``B`` tokens is cut at
``B`` tokens, split again and its answer re-extracted under the run's answer policy: exactly
what a rerun with ``max_tokens = B`` would give for greedy decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jre.evaluate import group_scores
from jre.kinds.benchmark import Benchmark, Item, Scored
from jre.kinds.engine import split_generation
from jre.reasoning import AnswerPolicy, answer_text


def close_position(ids: Sequence[int], decode: Callable[[Sequence[int]], str], *,
                   reasoning_format: Any = "think", prefilled: bool = False) -> int | None:
    """Tokens of ``ids`` up to where the trace closed: ``None`` when it never closed, ``0``
    when the output has no trace. Closing is monotone in the prefix length, so a binary
    search over prefixes finds it with O(log n) decodes."""
    def closed_trace(k: int) -> bool:
        g = split_generation(decode(ids[:k]), reasoning_format=reasoning_format, prefilled=prefilled)
        return g.think_closed and g.reasoning is not None

    full = split_generation(decode(ids), reasoning_format=reasoning_format, prefilled=prefilled)
    if not full.think_closed:
        return None
    if full.reasoning is None:
        return 0
    lo, hi = 1, len(ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if closed_trace(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def default_budgets(max_tokens: int) -> list[int]:
    """1k, 2k, 4k … below ``max_tokens``, then ``max_tokens`` itself."""
    budgets, b = [], 1024
    while b < max_tokens:
        budgets.append(b)
        b *= 2
    return budgets + [max_tokens]


def budget_curve(benchmark: Benchmark, config: Any, items: Sequence[Item],
                 records: Sequence[dict[str, Any]], tokenizer: Any, budgets: Sequence[int], *,
                 policy: AnswerPolicy, reasoning_format: Any = "think") -> list[dict[str, Any]]:
    """``{budget, failure_rate, score, cut}`` per budget: what a run with ``max_tokens`` equal
    to the budget would have scored (``cut``: samples whose output was longer)."""
    by_item = {item.id: item for item in items}
    item_ids = [item.id for item in items if any(r["item_id"] == item.id for r in records)]
    encoded = tokenizer([r["text"] for r in records], add_special_tokens=False)["input_ids"]
    rows = []
    for budget in budgets:
        cut_records, cut = [], 0
        for record, ids in zip(records, encoded):
            if len(ids) <= budget:
                closed, score = record["think_closed"], record["scores_by_policy"][policy]
            else:
                cut += 1
                text = tokenizer.decode(ids[:budget], skip_special_tokens=False)
                gen = split_generation(text, reasoning_format=reasoning_format,
                                       prefilled=record.get("split_by") == "text_prefilled",
                                       finish_reason="length")
                item = by_item[record["item_id"]]
                answer_src = answer_text(gen, policy)
                answer = benchmark.extract(answer_src, item, config) if answer_src else None
                scored = benchmark.score_many([answer], item, config)[0]
                closed = gen.think_closed
                score = scored.score if isinstance(scored, Scored) else scored
            cut_records.append({"item_id": record["item_id"], "sample": record["sample"],
                                "think_closed": closed, "scores_by_policy": {policy: score}})
        metrics = benchmark.aggregate(group_scores(cut_records, item_ids, policy))
        rows.append({"budget": budget, "cut": cut,
                     "failure_rate": sum(not r["think_closed"] for r in cut_records) / len(cut_records),
                     "score": float(metrics[benchmark.metric])})
    return rows
