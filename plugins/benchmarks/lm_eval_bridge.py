"""Any generative lm-eval task as a jre benchmark.

The task comes from lm-eval (its dataset, prompt, filters and metrics); jre's engines
generate, so every sample gets the reasoning split, the unclosed-trace policies, the
failure rate and a details record. lm-eval's own filter pipeline extracts the answer from
the text the answer policy picks, and its ``process_results`` and aggregation functions
score. Recipe::

    benchmarks = [{ name = "lm_eval", task = "gpqa_diamond_cot_zeroshot" },
                  { name = "lm_eval", task = "my_task", include_path = "tasks/" }]

Results go to ``<run>/eval/lm_eval-<task>/``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from jre import hookimpl
from jre.errors import UserError
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, Item, LoadedData
from jre.records import Sampling


class LMEvalConfig(BenchmarkConfig):
    """``task``: an lm-eval task name (generative: ``output_type: generate_until``).

    ``include_path`` adds a folder of task YAML files (taken relative to the recipe);
    ``include_defaults`` keeps lm-eval's built-in tasks. ``filter`` names the filter pipeline
    that extracts answers (default: the task's first); ``metric`` the headline metric
    (default: the task's first). ``num_fewshot`` examples (default: the task's own) are given
    as earlier chat turns, drawn as lm-eval draws them: its sampler seeded with
    ``fewshot_seed`` (lm-eval's default, 1234) and called for the documents in order, so the
    prompts are the ones ``lm_eval.simple_evaluate`` builds. A task's ``gen_prefix`` starts
    the assistant turn, which the engine continues.
    ``task_sampling`` takes temperature, stop strings and max tokens from the task's
    ``generation_kwargs`` instead of jre's defaults (T=0.6, P=0.95, as the paper evaluates
    reasoning models; stop strings such as "\\n\\n" would cut a reasoning trace short).
    """

    task: str
    include_path: str | None = None
    include_defaults: bool = True
    filter: str | None = None
    metric: str | None = None
    num_fewshot: int | None = Field(default=None, ge=0)
    fewshot_seed: int = 1234  # lm-eval's DEFAULT_OTHER_SEED (simple_evaluate's fewshot_random_seed)
    task_sampling: bool = False


def _plain(value: Any) -> Any:
    """numpy scalars and tuples → JSON-friendly Python values."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _capture_messages(messages: list[dict[str, str]], **_: Any) -> list[dict[str, str]]:
    # lm-eval renders the prompt through a chat template callable; jre wants the messages.
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class LMEvalTask(Benchmark):
    """One lm-eval task, bound from the ``lm_eval`` plugin and a recipe entry."""

    config_model = LMEvalConfig
    corpus_level = True

    def __init__(self, task: Any, config: LMEvalConfig) -> None:
        self.task = task
        self._prompts: dict[str, list[dict[str, str]]] = {}
        # A bound lm-eval task names and configures itself per instance (ClassVars on the kind).
        self.name = f"lm_eval-{config.task}"  # type: ignore[misc]
        self.description = f"lm-eval task {config.task}"  # type: ignore[misc]
        aggregation = task.aggregation()
        if not aggregation:
            raise UserError(f"lm-eval task {config.task!r} defines no metrics", field="task")
        metric = config.metric or next(iter(aggregation))
        if metric not in aggregation:
            raise UserError(f"lm-eval task {config.task!r} has no metric {metric!r}; it has "
                            f"{', '.join(aggregation)}", field="metric")
        self.metric = metric  # type: ignore[misc]
        self._aggregation = aggregation
        ensembles = {f.name: f for f in getattr(task, "_filters", [])}
        if config.filter and config.filter not in ensembles:
            raise UserError(f"lm-eval task {config.task!r} has no filter {config.filter!r}; it has "
                            f"{', '.join(ensembles) or 'none'}", field="filter")
        self._filter = ensembles.get(config.filter) if config.filter else next(iter(ensembles.values()), None)
        self.sampling = self._sampling(task, config)  # type: ignore[misc]

    @staticmethod
    def _sampling(task: Any, config: LMEvalConfig) -> Sampling:
        sampling = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
        if not config.task_sampling:
            return sampling
        kwargs = dict(task.config.generation_kwargs or {})
        if kwargs.get("do_sample") is False or kwargs.get("temperature") == 0:
            sampling.temperature = 0.0
        elif "temperature" in kwargs:
            sampling.temperature = float(kwargs["temperature"])
        if "top_p" in kwargs:
            sampling.top_p = float(kwargs["top_p"])
        until = kwargs.get("until")
        if until:
            sampling.stop = [until] if isinstance(until, str) else list(until)
        if "max_gen_toks" in kwargs:
            sampling.max_tokens = int(kwargs["max_gen_toks"])
        return sampling

    def load(self, config: Any, base_dir: Path | None = None) -> LoadedData:
        docs = list(self.task.eval_docs)
        if config.limit:
            docs = docs[: config.limit]
        items = [Item(str(i), {"doc": dict(doc)}) for i, doc in enumerate(docs)]
        self._prompts = self._contexts(items, config)
        cfg = self.task.config
        kwargs = dict(cfg.dataset_kwargs or {})
        return LoadedData(items=items, source={
            "id": cfg.dataset_path, "config": cfg.dataset_name, "split": cfg.test_split or cfg.validation_split,
            "revision": kwargs.get("revision"), "lm_eval_task": config.task,
            "lm_eval_version": _lm_eval_version()})

    def _contexts(self, items: list[Item], config: Any) -> dict[str, list[dict[str, str]]]:
        """Every item's prompt, built as lm-eval's ``build_all_requests`` builds them: the
        few-shot sampler reseeded, then one context per document in order (the sampler's
        random stream runs across documents, so order and seed fix each item's examples)."""
        task = self.task
        task.set_fewshot_seed(seed=config.fewshot_seed)
        shots = config.num_fewshot if config.num_fewshot is not None else (task.config.num_fewshot or 0)
        prompts = {}
        for item in items:
            doc = item.data["doc"]
            messages = task.fewshot_context(doc, shots, apply_chat_template=True,
                                            fewshot_as_multiturn=True, chat_template=_capture_messages,
                                            gen_prefix=task.doc_to_prefix(doc))
            prompts[item.id] = (messages if isinstance(messages, list)
                                else [{"role": "user", "content": str(messages)}])
        return prompts

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        """lm-eval's prompt for ``item`` as chat messages (a final assistant message holds the
        task's ``gen_prefix``, which the engine continues)."""
        return self._prompts[item.id]

    def extract(self, text: str, item: Item, config: Any) -> Any:
        """The task's filter pipeline applied to one response."""
        if self._filter is None:
            return text
        resps: Any = [[text]]
        for make in self._filter.filters:
            resps = make().apply(resps, [item.data["doc"]])
        out = list(resps)[0]
        return _plain(out[0] if isinstance(out, list) and out else out)

    def score(self, answer: Any, item: Item, config: Any) -> dict[str, Any]:
        """lm-eval's ``process_results`` for this answer (``None`` scores as the empty string)."""
        result = self.task.process_results(item.data["doc"], ["" if answer is None else answer])
        return {key: _plain(value) for key, value in result.items()}

    def aggregate(self, per_item: Sequence[Sequence[Any]]) -> dict[str, float]:
        """Each metric reduced by the task's own aggregation over every sample."""
        out: dict[str, float] = {}
        for metric, fn in self._aggregation.items():
            values = [s[metric] for scores in per_item for s in scores if isinstance(s, dict) and metric in s]
            if values:
                value = fn(values)
                out[metric] = float(value) if value is not None and not isinstance(value, str) else math.nan
        return out or {self.metric: 0.0}

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        return self.aggregate([scores])

    def result_extras(self, config: Any) -> dict[str, Any]:
        return {"lm_eval": {"task": config.task, "version": _lm_eval_version(),
                            "filter": self._filter.name if self._filter else None,
                            "fewshot_seed": config.fewshot_seed,
                            "higher_is_better": self.task.higher_is_better()}}

    def reference(self, item: Item) -> Any:
        return _plain(self.task.doc_to_target(item.data["doc"]))


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


class LMEvalBridge(Benchmark):
    """The ``lm_eval`` plugin: :meth:`bind` loads the task a recipe entry names."""

    name = "lm_eval"
    description = "any generative lm-eval task, generated through jre engines"
    config_model = LMEvalConfig

    def bind(self, config: Any, base_dir: Path | None = None) -> Benchmark:
        import logging

        from lm_eval.tasks import TaskManager

        logging.getLogger("lm_eval").setLevel(logging.WARNING)
        include = None
        if config.include_path:
            include = Path(config.include_path).expanduser()
            if not include.is_absolute() and base_dir is not None:
                include = base_dir / include
            if not include.exists():
                raise UserError("no such lm-eval task folder", where=str(include), field="include_path")
        manager = TaskManager(include_path=str(include) if include else None,
                              include_defaults=config.include_defaults or include is None)
        if config.task not in manager.all_tasks:
            raise UserError(f"unknown lm-eval task {config.task!r}", field="task",
                            where=str(include) if include else None)
        try:
            loaded = manager.load(config.task)
        except Exception as exc:  # dataset missing, offline, malformed YAML
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"cannot load lm-eval task {config.task!r}: {first}", field="task") from None
        task = loaded["tasks"].get(config.task)
        if task is None or loaded["groups"]:
            raise UserError(f"lm-eval {config.task!r} is a group, not a single task; list its tasks "
                            f"one by one", field="task")
        if getattr(task, "OUTPUT_TYPE", None) != "generate_until":
            raise UserError(f"lm-eval task {config.task!r} is {task.OUTPUT_TYPE!r}; only generative "
                            f"(generate_until) tasks run through jre engines", field="task")
        return LMEvalTask(task, config)


@hookimpl
def register_benchmarks(register):
    register(LMEvalBridge())
