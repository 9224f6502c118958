"""Benchmarks: dataset, prompts, answer extraction, scoring, aggregation.

A benchmark is one class. It names its dataset (:class:`DatasetSpec`), its default sampling
(the paper's Table 5) and the fields every row must have, and implements three methods:

- :meth:`Benchmark.prompt` — an item → zero-shot chat messages;
- :meth:`Benchmark.extract` — answer text (chosen by the answer-source policy) → answer;
- :meth:`Benchmark.score` — answer + item → a per-sample score (a float, or any JSON value
  a custom :meth:`Benchmark.aggregate` reduces, e.g. BLEU sufficient statistics).

Everything else (loading from the hub or a local file, limits, the three answer policies,
failure rate, bootstrap interval, the details file) is done by the eval stage::

    class Quiz(Benchmark):
        name = "quiz"
        dataset = DatasetSpec("me/quiz", split="test")
        fields = ("question", "answer")

        def prompt(self, item, config):
            return [{"role": "user", "content": item.data["question"]}]

        def extract(self, text, item, config):
            return extract_choice(text)

        def score(self, answer, item, config):
            return float(answer == item.data["answer"])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import Field

from jre.errors import UserError
from jre.kinds.base import Plugin, StrictModel
from jre.records import Sampling
from jre.rows import iter_rows
from jre.store import file_hash

Messages = list[dict[str, str]]
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


#: The column abbreviations of the reference study's Tables 2 and 3 in its order (Japanese
#: benchmarks, then English ones). Report tables put the benchmarks whose
#: :attr:`Benchmark.short_name` is one of these first, in this order, and any other after.
PAPER_COLUMNS: tuple[str, ...] = (
    "MTB-Ja", "MIF-Ja", "JamC", "En/Ja", "Ja/En", "MPX-Ja", "GPQ-Ja", "M100-Ja", "JHE",
    "MTB", "HS", "MP", "GPQ", "M500", "AIME", "LCB")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a benchmark's items live on the Hugging Face hub (pin ``revision`` for reruns)."""

    id: str
    config: str | None = None
    split: str = "test"
    revision: str | None = None


@dataclass
class Scored:
    """A score with the status of how it was reached (e.g. the sandbox run's), which the
    eval stage keeps in the sample's details record as ``status``."""

    score: Any
    status: dict[str, Any]


@dataclass
class Item:
    """One benchmark question: a stable ``id`` and its dataset row (plus derived fields)."""

    id: str
    data: dict[str, Any]


class SamplingOptions(StrictModel):
    """Sampling overrides; ``None`` keeps the benchmark's default (Table 5 of the paper)."""

    n: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None

    def apply(self, sampling: Sampling) -> Sampling:
        """``sampling`` with every field this override sets replaced."""
        updates = {k: v for k, v in self.model_dump().items() if v is not None}
        return replace(sampling, **updates)


class BenchmarkConfig(SamplingOptions):
    """Options every benchmark accepts in its recipe table.

    ``path`` (a JSONL/JSON/Parquet/CSV file, or a folder of them) overrides the hub dataset;
    ``dataset``/``config``/``split``/``revision`` override the spec; ``limit`` keeps the first
    items. The sampling fields of :class:`SamplingOptions` override the defaults.
    """

    #: Options naming local files or folders (relative to the recipe): ``jre recipe check``
    #: and ``jre run`` report a missing one before any stage starts.
    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str | None = None
    dataset: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None
    limit: int | None = Field(default=None, gt=0)


#: A benchmark's own config model (a :class:`BenchmarkConfig`).
BenchConfigT = TypeVar("BenchConfigT", bound=BenchmarkConfig)


@dataclass
class LoadedData:
    """Items plus where they came from, for the results file."""

    items: list[Item]
    source: dict[str, Any] = field(default_factory=dict)


class Benchmark(Plugin, Generic[BenchConfigT]):
    """A benchmark plugin: where its items come from, how to prompt, extract and score.

    Generic over its config model: ``class GPQAJa(Benchmark[GPQAJaConfig])`` types the
    ``config`` every method receives."""

    kind: ClassVar[str] = "benchmark"
    config_model: ClassVar[type[BenchmarkConfig] | None] = BenchmarkConfig
    dataset: ClassVar[DatasetSpec | None] = None
    fields: ClassVar[tuple[str, ...]] = ()
    id_field: ClassVar[str | None] = None
    sampling: ClassVar[Sampling] = Sampling(n=1, temperature=0.6, top_p=0.95, max_tokens=32768)
    metric: ClassVar[str] = "accuracy"
    #: The column heading in report tables (the reference study's abbreviation, e.g.
    #: ``"MPX-Ja"``); ``None`` heads the column with :attr:`name`.
    short_name: ClassVar[str | None] = None
    # True when the score is a corpus statistic (BLEU) rather than a mean over items.
    corpus_level: ClassVar[bool] = False
    # User turns per conversation; above 1, :meth:`turn_prompt` builds each later turn.
    turns: ClassVar[int] = 1
    # True when an LLM judge scores the answers (see jre.judge): the benchmark then
    # implements judge_options / judge_prompts / judge_jobs / category instead of extract
    # and score.
    judged: ClassVar[bool] = False

    def bind(self, config: BenchConfigT, base_dir: Path | None = None) -> Benchmark:
        """The benchmark a recipe entry runs: ``self``, or (for a plugin that stands for many
        benchmarks, like the lm-eval bridge) an object for the one ``config`` names. Its
        :attr:`name` names the results folder."""
        return self

    # -- data -------------------------------------------------------------------------

    def spec(self, config: BenchConfigT) -> DatasetSpec | None:
        """The dataset spec with the recipe's overrides applied."""
        spec = self.dataset
        if config is None:
            return spec
        overrides: dict[str, Any] = {k: getattr(config, k, None) for k in ("config", "split", "revision")}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        name = getattr(config, "dataset", None)
        if spec is None:
            return DatasetSpec(name, **overrides) if name else None
        return replace(spec, **({"id": name} if name else {}), **overrides)

    def load(self, config: BenchConfigT, base_dir: Path | None = None) -> LoadedData:
        """Rows from the local ``path`` or the hub, checked for :attr:`fields`, as items."""
        path = getattr(config, "path", None)
        if path:
            local = Path(path).expanduser()
            if not local.is_absolute() and base_dir is not None:
                local = base_dir / local
            rows = read_local_rows(local)
            where = str(local)

            source = {"id": where, "config": None, "split": None,
                      "revision": "sha256:" + file_hash(local)[:16]}
        else:
            spec = self.spec(config)
            if spec is None:
                raise UserError(f"benchmark {self.name!r} has no dataset; set `path`")
            rows, revision = read_hub_rows(spec)
            where = spec.id
            source = {"id": spec.id, "config": spec.config, "split": spec.split,
                      "revision": revision}
        check_fields(rows, self.fields, where)
        items = self.items(rows, config)
        limit = getattr(config, "limit", None)
        if limit:
            items = items[:limit]
        return LoadedData(items=items, source=source)

    def items(self, rows: list[dict[str, Any]], config: BenchConfigT) -> list[Item]:
        """Rows → items (ids from :attr:`id_field`, else the row index). Override to
        derive fields, e.g. shuffled choices."""
        items = []
        for index, row in enumerate(rows):
            key = row.get(self.id_field) if self.id_field else None
            items.append(Item(id=str(key if key is not None else index), data=dict(row)))
        return items

    # -- generation -------------------------------------------------------------------

    def sampling_for(self, config: BenchConfigT, *overrides: SamplingOptions | None) -> Sampling:
        """Default sampling, then each override in turn, then the benchmark's own options."""
        sampling = replace(self.sampling)
        for override in (*overrides, config):
            if isinstance(override, SamplingOptions):
                sampling = SamplingOptions.model_validate(
                    {k: getattr(override, k) for k in SamplingOptions.model_fields}).apply(sampling)
        return sampling

    def prompt(self, item: Item, config: BenchConfigT) -> Messages:
        """The zero-shot chat messages for ``item``."""
        raise NotImplementedError

    def turn_prompt(self, item: Item, config: BenchConfigT, turn: int, history: Messages) -> Messages:
        """The messages of user turn ``turn`` (2, 3...): ``history`` (the conversation so
        far, earlier answers without their reasoning trace) plus the next user message."""
        raise NotImplementedError

    # -- scoring ----------------------------------------------------------------------

    def extract(self, text: str, item: Item, config: BenchConfigT) -> Any:
        """The answer in ``text`` (``None`` when there is none)."""
        raise NotImplementedError

    def score(self, answer: Any, item: Item, config: BenchConfigT) -> Any:
        """One sample's score: a float in [0, 1], or a JSON value :meth:`aggregate` reduces."""
        raise NotImplementedError

    def score_many(self, answers: Sequence[Any], item: Item, config: BenchConfigT) -> list[Any]:
        """Scores of several answers to one item (override to batch, e.g. in a sandbox); an
        element may be a :class:`Scored` to keep a status with the score."""
        return [self.score(a, item, config) for a in answers]

    def item_metrics(self, scores: Sequence[Any]) -> dict[str, float]:
        """Metrics of one item from its samples' scores (default: mean score)."""
        return {self.metric: sum(float(s or 0.0) for s in scores) / len(scores) if scores else 0.0}

    def aggregate(self, per_item: Sequence[Sequence[Any]]) -> dict[str, float]:
        """Benchmark metrics from per-item sample scores (default: mean of :meth:`item_metrics`).

        The result must contain :attr:`metric`; corpus-level benchmarks override this.
        """
        totals: dict[str, float] = {}
        for scores in per_item:
            for key, value in self.item_metrics(scores).items():
                totals[key] = totals.get(key, 0.0) + value
        n = max(len(per_item), 1)
        return {key: value / n for key, value in totals.items()} or {self.metric: 0.0}

    def result_extras(self, config: BenchConfigT) -> dict[str, Any]:
        """Extra fields for results.json (a BLEU signature, the sandbox level...)."""
        return {}

    def reference(self, item: Item) -> Any:
        """The gold answer shown in the details file (``None`` if not meaningful)."""
        return None


# --- local and hub rows ---------------------------------------------------------------

def read_local_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL/JSON/Parquet/CSV file, or of every such file in a folder (sorted)."""
    if not path.exists():
        raise UserError("no such dataset file or folder", where=str(path))
    files = sorted(p for p in path.iterdir() if p.suffix in LOCAL_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise UserError(f"no {'/'.join(LOCAL_SUFFIXES)} files in the folder", where=str(path))
    rows: list[dict[str, Any]] = []
    for file in files:
        rows.extend(_read_file(file))
    return rows


def _read_file(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix
    try:
        if suffix == ".jsonl":
            return list(iter_rows([path]))
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):  # {"data": [...]} or {"split": [...]}
                data = next((v for v in data.values() if isinstance(v, list)), [data])
            return list(data)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        if suffix == ".csv":
            import csv

            with open(path, encoding="utf-8", newline="") as fh:
                return list(csv.DictReader(fh))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise UserError(f"cannot read dataset file: {exc}", where=str(path)) from None
    raise UserError(f"unsupported dataset file type {suffix!r}; use one of {LOCAL_SUFFIXES}",
                    where=str(path))


def read_hub_rows(spec: DatasetSpec) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of a hub dataset split through ``datasets``, and the revision actually read."""
    try:
        import datasets

        ds = datasets.load_dataset(spec.id, spec.config, split=spec.split, revision=spec.revision)
    except Exception as exc:  # offline, unknown id/config/split: one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot load dataset: {first}",
                        where=f"{spec.id}[{spec.config or ''}:{spec.split}]") from None
    revision = spec.revision
    try:  # the commit the revision (or "main") points at, so the results pin what was read
        from huggingface_hub import HfApi

        revision = HfApi().dataset_info(spec.id, revision=spec.revision).sha or revision
    except Exception:  # offline with a cached copy: keep what the recipe said
        pass
    return [dict(row) for row in ds], revision


def check_fields(rows: list[dict[str, Any]], fields: Sequence[str], where: str) -> None:
    """A row without one of ``fields`` is a user error naming the field and the row."""
    if not rows:
        raise UserError("the dataset has no rows", where=where)
    for index, row in enumerate(rows):
        missing = [f for f in fields if f not in row]
        if missing:
            raise UserError(f"row {index} has no field {missing[0]!r} "
                            f"(fields: {', '.join(map(str, row)) or 'none'})", where=where)
