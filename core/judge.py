"""An LLM judge: single-answer grading on a 1–10 scale, as MT-Bench does it.

A benchmark that is judged names a judge engine (any jre engine) in its recipe table and
hands :func:`run_judge` one :class:`JudgeJob` per answer to grade. Each job's messages come
from a judge prompt in FastChat's ``judge_prompts.jsonl`` schema (``name``,
``system_prompt``, ``prompt_template``, ``output_format``), filled by :func:`judge_messages`.

The judge's reply must carry the rating as ``[[n]]`` (FastChat's pattern, with its ``[n]``
fallback); a reply without one, or with a rating outside 1–10, is asked again up to
``retries`` times and is then recorded as a judge failure: its rating is ``None`` and it
counts in the failure tally, never as a zero. Every finished judgment is appended to a
shard file keyed by a hash of its messages and the judge's settings, so a rerun asks the
judge only for what is missing.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from jre.errors import UserError
from jre.evaluate import FAILURE_RATE_DEFINITIONS, failure_rates
from jre.kinds.base import StrictModel
from jre.kinds.engine import Engine
from jre.plugin_manager import PluginSet, get_plugins
from jre.records import ChatRequest, Sampling, stable_id
from jre.sections.refs import EngineRef
from jre.store import ShardWriter, iter_records

# FastChat's llm_judge/common.py: the rating pattern, then its fallback.
_RATING = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_RATING_FALLBACK = re.compile(r"\[(\d+\.?\d*)\]")
RATING_RANGE = (1.0, 10.0)

# The paper's judge (Appendix A): gpt-4o-2024-08-06 through an OpenAI-compatible API.
DEFAULT_JUDGE = {"name": "openai", "model": "gpt-4o-2024-08-06",
                 "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"}


class JudgeOptions(StrictModel):
    """Recipe options of a judged benchmark.

    ``judge`` is an engine table (``name`` plus that engine's options); ``judge_retries``
    re-asks a reply without a valid ``[[rating]]``; ``judge_max_tokens`` and
    ``judge_temperature`` are the judge's sampling (FastChat: 2048 tokens, temperature 0).
    """

    judge: EngineRef = Field(default_factory=lambda: EngineRef.model_validate(DEFAULT_JUDGE),
                             validate_default=True)
    judge_retries: int = Field(default=2, ge=0)
    judge_max_tokens: int = Field(default=2048, ge=1)
    judge_temperature: float = Field(default=0.0, ge=0)

    @field_validator("judge", mode="after")
    @classmethod
    def _engine_options(cls, ref: EngineRef, info: ValidationInfo) -> EngineRef:
        from pydantic import ValidationError

        # The recipe's plugin set (Plugin.parse_config passes it); the installed one otherwise.
        plugins = (info.context or {}).get("plugins") or get_plugins()
        # ValueErrors, so the recipe loader reports them at judge's line like any option.
        try:
            engine = plugins.get(Engine, ref.name)
        except UserError as exc:
            raise ValueError(exc.message) from None
        try:
            ref._config = engine.parse_config(ref.options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"judge engine {ref.name!r}: {where}: {first['msg']}") from None
        return ref


@dataclass(frozen=True)
class JudgePrompt:
    """One judge prompt in FastChat's schema."""

    name: str
    system_prompt: str
    prompt_template: str
    output_format: str = "[[rating]]"


def load_judge_prompts(path: Path) -> dict[str, JudgePrompt]:
    """The prompts of a FastChat ``judge_prompts.jsonl`` file, by name."""
    prompts: dict[str, JudgePrompt] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read judge prompts: {exc.strerror}", where=str(path)) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompts[row["name"]] = JudgePrompt(row["name"], row["system_prompt"],
                                               row["prompt_template"],
                                               row.get("output_format", "[[rating]]"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"not a judge prompt ({type(exc).__name__}: {exc})",
                            where=str(path), line=number) from None
    return prompts


def prompts_hash(prompts: Mapping[str, JudgePrompt]) -> str:
    """sha256 of the prompts' texts (sorted by name): what results.json records."""
    blob = json.dumps([[p.name, p.system_prompt, p.prompt_template]
                       for p in sorted(prompts.values(), key=lambda p: p.name)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def judge_messages(prompt: JudgePrompt, **fields: str) -> list[dict[str, str]]:
    """System and user messages of ``prompt`` filled with ``fields`` (question, answer...)."""
    try:
        user = prompt.prompt_template.format(**fields)
    except KeyError as exc:
        raise UserError(f"judge prompt {prompt.name!r} needs field {exc.args[0]!r}") from None
    return [{"role": "system", "content": prompt.system_prompt}, {"role": "user", "content": user}]


def parse_rating(text: str | None) -> float | None:
    """The ``[[n]]`` rating of a judge reply (else FastChat's ``[n]`` fallback), or ``None``
    when there is none or it lies outside 1–10."""
    if not text:
        return None
    match = _RATING.search(text) or _RATING_FALLBACK.search(text)
    if not match:
        return None
    try:
        value = float(ast.literal_eval(match.group(1)))
    except (ValueError, SyntaxError):
        return None
    low, high = RATING_RANGE
    return value if low <= value <= high else None


@dataclass
class JudgeJob:
    """One answer to grade: ``key`` names it (sample and turn), ``messages`` ask the judge."""

    key: str
    messages: list[dict[str, str]]
    info: dict[str, Any]


def judgment_id(job: JudgeJob, settings: Mapping[str, Any]) -> str:
    """The shard key of a job's judgment: its key plus a hash of what the judge was asked."""
    return f"{job.key}/{stable_id(job.messages, dict(settings))}"


class JudgeIncomplete(UserError):
    """Judgments still missing after the judge engine's retries (a rerun asks only for those)."""

    def __init__(self, benchmark: str, judge: str, missing: int, expected: int, reason: str) -> None:
        super().__init__(f"eval {benchmark}: {missing} of {expected} judgments missing after the "
                         f"judge engine's retries ({judge}: {reason}); rerun to ask only for those")
        self.missing, self.expected = missing, expected


def run_judge(client: Any, jobs: Iterable[JudgeJob], writer: Any, options: JudgeOptions,
              settings: Mapping[str, Any]) -> int:
    """Ask the judge for every job not yet in ``writer``; returns how many were asked.

    A reply without a valid rating is asked again (a request of its own) up to
    ``options.judge_retries`` times, then written with ``rating = None`` and ``failed``.
    """
    sampling = Sampling(n=1, temperature=options.judge_temperature, top_p=1.0,
                        max_tokens=options.judge_max_tokens)
    pending = {judgment_id(j, settings): j for j in jobs}
    pending = {k: j for k, j in pending.items() if k not in writer}
    asked = len(pending)
    replies: dict[str, list[str | None]] = {k: [] for k in pending}
    while pending:
        requests = [ChatRequest(id=k, messages=j.messages, sampling=sampling) for k, j in pending.items()]
        retry: dict[str, JudgeJob] = {}
        for request, generations in client.generate(requests):
            job = pending[request.id]
            gen = generations[0] if generations else None
            text = None if gen is None else (gen.content if gen.content is not None else gen.text)
            replies[request.id].append(text)
            rating = parse_rating(text)
            if rating is None and len(replies[request.id]) <= options.judge_retries:
                retry[request.id] = job
                continue
            writer.write({"id": request.id, "key": job.key, **job.info, "messages": job.messages,
                          "replies": replies[request.id], "rating": rating,
                          "failed": rating is None})
            writer.commit()
        # Requests the engine gave up on (its failed list) stay unwritten: a rerun asks again.
        pending = retry
    return asked


# Options that change how a judge is reached, not what it answers: a judgment made with
# other values of these is still valid.
TRANSPORT_OPTIONS = frozenset({"base_url", "api_key_env", "concurrency", "rpm", "tpm", "timeout",
                               "max_retries", "backoff_base", "backoff_max", "check_endpoint",
                               "batch_size", "device"})


def engine_settings(ref: EngineRef) -> dict[str, Any]:
    """The judge engine's name and the options that shape its answers (no transport
    options, no secrets: API keys live in the environment), for the judgment keys and
    results.json."""
    config = ref.config
    data: dict[str, Any] = config.model_dump(mode="json") if isinstance(config, BaseModel) else {}
    return {"name": ref.name, **{k: v for k, v in data.items() if k not in TRANSPORT_OPTIONS}}


JUDGMENTS = "judgments.jsonl"


def judge_and_summarize(benchmark: Any, config: Any, items: Sequence[Any],
                        records: Sequence[dict[str, Any]], out: Path, *, policy: str,
                        bootstrap: int, seed: int, plugins: PluginSet) -> dict[str, Any]:
    """Judge every answer of ``records`` (resuming ``out/judgments.jsonl``) and return the
    score part of results.json: mean rating / 10 per item, per category and overall."""
    by_id = {item.id: item for item in items}
    settings = {"engine": engine_settings(config.judge), "retries": config.judge_retries,
                "max_tokens": config.judge_max_tokens, "temperature": config.judge_temperature,
                "prompts_sha256": prompts_hash(benchmark.judge_prompts(config))}
    jobs = [job for r in sorted(records, key=lambda r: (r["item_id"], r["sample"]))
            for job in benchmark.judge_jobs(by_id[r["item_id"]], r, config, policy)]
    writer = ShardWriter(out / JUDGMENTS, batch_size=1 << 30)
    asked = 0
    failed: list[tuple[str, str]] = []
    try:
        if any(judgment_id(j, settings) not in writer for j in jobs):
            client = plugins.get(Engine, config.judge.name).load(config.judge.config)
            try:
                asked = run_judge(client, jobs, writer, config, settings)
                failed = list(getattr(client, "failed", []))
            finally:
                client.close()
    finally:
        writer.close()

    wanted = {judgment_id(j, settings): j for j in jobs}
    found = {r["id"]: r for r in iter_records([out / JUDGMENTS]) if r.get("id") in wanted}
    if len(found) < len(wanted):
        reason = failed[0][1] if failed else "fewer replies than requests"
        raise JudgeIncomplete(benchmark.name, config.judge.name, len(wanted) - len(found),
                              len(wanted), reason)
    full = config.judge.config
    reached = {"engine_config": full.model_dump(mode="json") if isinstance(full, BaseModel) else {}}
    return judged_results(benchmark, items, records, list(found.values()), policy=policy,
                          bootstrap=bootstrap, seed=seed, settings={**settings, **reached},
                          asked=asked,
                          definitions=FAILURE_RATE_DEFINITIONS, rates=failure_rates(
                              records, [i.id for i in items]))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def judged_results(benchmark: Any, items: Sequence[Any], records: Sequence[dict[str, Any]],
                   judgments: Sequence[dict[str, Any]], *, policy: str, bootstrap: int, seed: int,
                   settings: Mapping[str, Any], asked: int, definitions: Mapping[str, str],
                   rates: Mapping[str, Any]) -> dict[str, Any]:
    """Scores from finished judgments: each valid rating / 10; an item's score is the mean
    over its samples' turns, the headline the mean over items, as are the categories'."""
    per_item: dict[str, list[float]] = {item.id: [] for item in items}
    per_turn: dict[str, list[float]] = {}
    failures = 0
    for j in judgments:
        if j["rating"] is None:
            failures += 1
            continue
        per_item[j["item_id"]].append(j["rating"] / 10)
        per_turn.setdefault(str(j["turn"]), []).append(j["rating"] / 10)
    item_scores = {k: _mean(v) for k, v in per_item.items()}
    scored = [v for v in item_scores.values() if v is not None]
    categories: dict[str, list[float]] = {}
    for item in items:
        value = item_scores[item.id]
        if value is not None:
            categories.setdefault(benchmark.category(item), []).append(value)
    score = _mean(scored)
    ci = None
    if bootstrap > 0 and scored:
        import numpy as np

        values = np.array(scored)
        rng = np.random.default_rng(seed)
        draws = values[rng.integers(0, len(values), size=(bootstrap, len(values)))].mean(axis=1)
        ci = [float(x) for x in np.percentile(draws, [2.5, 97.5])]
    turns_total = sum(len(r.get("turns") or [None]) for r in records)
    turns_unclosed = sum(len(r.get("unclosed_turns") or []) for r in records)
    tokens = [r["completion_tokens"] for r in records if r.get("completion_tokens") is not None]
    split_by: dict[str, int] = {}
    for r in records:
        split_by[str(r.get("split_by"))] = split_by.get(str(r.get("split_by")), 0) + 1
    by_category = {c: sum(v) / len(v) for c, v in sorted(categories.items())}
    metrics = {benchmark.metric: score if score is not None else 0.0,
               **{f"{benchmark.metric}/{c}": v for c, v in by_category.items()},
               **{f"{benchmark.metric}/turn{t}": sum(v) / len(v) for t, v in sorted(per_turn.items())}}
    return {
        "benchmark": benchmark.name, "metric": benchmark.metric, "score": score,
        "ci95": ci, "metrics": metrics, "scores_by_category": by_category,
        "failure_rate": rates["per_sample"], "failure_rate_per_question": rates["per_question"],
        "failure_rate_per_turn": turns_unclosed / turns_total if turns_total else 0.0,
        "failure_rates": {**rates, "turns_unclosed": turns_unclosed, "turns": turns_total,
                          "definitions": {**definitions, "per_sample": "share of samples "
                                          "(conversations) with a turn whose trace never closed",
                                          "per_turn": "share of model turns whose trace never closed"}},
        "n_unclosed": sum(not r["think_closed"] for r in records),
        "n_questions_unclosed": rates["questions_unclosed"],
        "think_detection": {"split_by": split_by},
        "mean_output_tokens": sum(tokens) / len(tokens) if tokens else None,
        "n_items": len(items), "n_items_scored": len(scored), "n_samples": len(records),
        "answer_policy": policy, "scores_by_policy": {policy: score},
        "bootstrap": {"rounds": bootstrap, "seed": seed, "unit": "item"},
        "judge": {**settings, "judgments": len(judgments), "failures": failures, "asked_this_run": asked,
                  "scale": "rating / 10 (ratings 1-10); judge failures are left out, not 0"},
    }
