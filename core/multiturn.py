"""Multi-turn generation: a conversation of :attr:`Benchmark.turns` user turns per sample.

Turn 1 asks for all of an item's missing samples in one request (``n`` of them); each
later turn continues one sample's own conversation, so it is a request of its own. The
assistant's earlier answers go back into the conversation without their reasoning trace,
as Qwen3-style chat templates render history: the text after ``</think>``, or, for a trace
that never closed, the trace text itself (such a template finds no ``</think>`` to cut at).

Each finished turn but the last is a details record of its own (``<item>#<k>/turn<t>``),
durable at once, so a killed run resumes at the turn it stopped in; the last turn writes
the sample's record (``<item>#<k>``) holding every turn. A sample counts as unclosed when any of its turns left
its trace open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from jre.evaluate import sample_id
from jre.kinds.benchmark import Benchmark, Item
from jre.records import ChatRequest, Generation, Sampling
from jre.store import iter_records


def turn_id(sample: str, turn: int) -> str:
    """The details key of turn ``turn`` (1-based) of sample ``sample``."""
    return f"{sample}/turn{turn}"


def turn_record(gen: Generation, messages: list[dict[str, str]]) -> dict[str, Any]:
    """What a details record keeps of one turn."""
    return {"messages": messages, "text": gen.text, "reasoning": gen.reasoning,
            "content": gen.content, "think_closed": gen.think_closed, "split_by": gen.split_by,
            "finish_reason": gen.finish_reason, "prompt_tokens": gen.prompt_tokens,
            "completion_tokens": gen.completion_tokens}


def history_text(turn: dict[str, Any]) -> str:
    """A turn's answer as later turns see it: without its reasoning trace."""
    if turn["think_closed"]:
        return turn.get("content") or ""
    return turn.get("reasoning") or ""


def sample_record(item: Item, index: int, turns: list[dict[str, Any]], reference: Any) -> dict[str, Any]:
    """The details record of a finished conversation (top-level fields: the last turn's,
    token counts summed, ``think_closed`` only when every turn closed)."""
    last = turns[-1]
    tokens = [t["completion_tokens"] for t in turns if t.get("completion_tokens") is not None]
    return {"id": sample_id(item.id, index), "item_id": item.id, "sample": index,
            "turns": turns, "messages": last["messages"], "text": last["text"],
            "reasoning": last["reasoning"], "content": last["content"],
            "think_closed": all(t["think_closed"] for t in turns),
            "unclosed_turns": [i + 1 for i, t in enumerate(turns) if not t["think_closed"]],
            "split_by": turns[0]["split_by"], "finish_reason": last["finish_reason"],
            "prompt_tokens": sum(t.get("prompt_tokens") or 0 for t in turns),
            "completion_tokens": sum(tokens) if tokens else None, "reference": reference}


def generate_turns(benchmark: Benchmark, config: Any, todo: Sequence[Item], sampling: Sampling,
                   client: Any, writer: Any, details: Path,
                   advance: Callable[[int], None] = lambda n: None) -> list[tuple[str, str]]:
    """Generate the missing turns of ``todo``'s samples, turn by turn; returns the engine's
    failed requests ``(request id, why)``. ``advance`` is told of each finished sample."""
    done = {r["id"]: r for r in iter_records([details]) if "/turn" in str(r.get("id"))} \
        if details.exists() else {}
    last = benchmark.turns
    failed_before = len(getattr(client, "failed", []))
    by_id = {item.id: item for item in todo}
    for turn in range(1, last + 1):
        requests: list[ChatRequest] = []
        targets: dict[str, tuple[Item, list[int], list[dict[str, str]]]] = {}
        for item in todo:
            missing = [k for k in range(sampling.n) if sample_id(item.id, k) not in writer
                       and turn_id(sample_id(item.id, k), turn) not in done]
            if turn == 1 and missing:
                messages = benchmark.prompt(item, config)
                targets[item.id] = (item, missing, messages)
                requests.append(ChatRequest(id=item.id, messages=messages,
                                            sampling=replace(sampling, n=len(missing))))
                continue
            for k in missing:
                previous = done.get(turn_id(sample_id(item.id, k), turn - 1))
                if previous is None:  # its earlier turn failed: a rerun picks it up
                    continue
                history = previous["messages"] + [{"role": "assistant",
                                                   "content": history_text(previous)}]
                messages = benchmark.turn_prompt(item, config, turn, history)
                key = sample_id(item.id, k)
                seed = None if sampling.seed is None else sampling.seed + k
                targets[key] = (item, [k], messages)
                requests.append(ChatRequest(id=key, messages=messages,
                                            sampling=replace(sampling, n=1, seed=seed)))
        if not requests:
            continue
        for request, generations in client.generate(requests):
            item, indexes, messages = targets[request.id]
            for k, gen in zip(indexes, generations):
                key = sample_id(item.id, k)
                record = {"id": turn_id(key, turn), "item_id": item.id, "sample": k,
                          "turn": turn, **turn_record(gen, messages)}
                if turn < last:
                    writer.write(record)
                    done[record["id"]] = record
                    continue
                # The last turn goes only into the sample's record, so no record of it can
                # exist without the sample's (a torn last line loses both).
                turns = [done[turn_id(key, t)] for t in range(1, last)] + [record]
                turns = [{k2: v for k2, v in t.items() if k2 not in ("id", "item_id", "sample")}
                         for t in turns]
                writer.write(sample_record(by_id[item.id], k, turns, benchmark.reference(item)))
                advance(1)
            writer.commit()
    return list(getattr(client, "failed", []))[failed_before:]
