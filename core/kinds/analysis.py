"""Analyses: results of many runs plus a factor table in; tables, figures and a summary out.

The ``analyze`` stage gathers an :class:`AnalysisInputs` (one long results table with a row
per run × benchmark, a factor table with a row per run — or several rows for a mixed
experiment, whose factors are averaged — and the data files behind each run), hands it to
each analysis plugin's :meth:`Analysis.run`, and writes the :class:`AnalysisOutput` under
``<run>/analyze/<analysis>/`` next to a copy of the inputs (``inputs/``), so that anyone can
rerun the analysis from that folder alone (``rerun.toml`` there is a ready recipe).

Results table columns (:data:`RESULT_COLUMNS`): ``run, benchmark, short_name, metric, score, ci95_lo,
ci95_hi, failure_rate, failure_rate_per_question, japanese_trace_share, mean_output_tokens, n_items,
n_samples, answer_policy, score_trace, score_empty, score_whole, temperature, top_p, max_tokens,
details``. Factor table: ``run`` plus one column per factor.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic

from jre.kinds.base import ConfigT, Plugin

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from jre.plugin_manager import PluginSet

#: Columns of the long results table, one row per (run, benchmark).
RESULT_COLUMNS = ("run", "benchmark", "short_name", "metric", "score", "ci95_lo", "ci95_hi", "failure_rate",
                  "failure_rate_per_question", "japanese_trace_share", "mean_output_tokens", "n_items",
                  "n_samples", "answer_policy",
                  "score_trace", "score_empty", "score_whole", "temperature", "top_p", "max_tokens", "details")


def result_row(run: str, results: Mapping[str, Any], details: str | None = None) -> dict[str, Any]:
    """One results-table row from an eval ``results.json`` object of run ``run``."""
    ci = results.get("ci95") or [None, None]
    by_policy = results.get("scores_by_policy") or {}
    sampling = results.get("sampling") or {}
    return {
        "run": str(run), "benchmark": results.get("benchmark"),
        "short_name": results.get("short_name"), "metric": results.get("metric"),
        "score": results.get("score"), "ci95_lo": ci[0], "ci95_hi": ci[1],
        "failure_rate": results.get("failure_rate"),
        "failure_rate_per_question": results.get("failure_rate_per_question"),
        "japanese_trace_share": results.get("japanese_trace_share"),
        "mean_output_tokens": results.get("mean_output_tokens"),
        "n_items": results.get("n_items"), "n_samples": results.get("n_samples"),
        "answer_policy": results.get("answer_policy"),
        "score_trace": by_policy.get("trace"), "score_empty": by_policy.get("empty"),
        "score_whole": by_policy.get("whole"), "temperature": sampling.get("temperature"),
        "top_p": sampling.get("top_p"), "max_tokens": sampling.get("max_tokens"), "details": details,
    }


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The results table from rows (missing columns become empty)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame["run"] = frame["run"].astype(str)
    return frame


def factor_matrix(factors: pd.DataFrame) -> pd.DataFrame:
    """One row per run (index ``run``): numeric factors, averaged over a run's rows.

    A mixed experiment lists one row per component (the paper's experiment 10 mixes R1 and
    OSS STEM data) and gets the mean of each factor, as Appendix D does. Booleans count as
    0/1; non-numeric factor columns are dropped.
    """
    import pandas as pd

    if factors.empty:
        return pd.DataFrame(index=pd.Index([], name="run"))
    frame = factors.copy()
    frame["run"] = frame["run"].astype(str)
    for column in frame.columns:
        if column == "run":
            continue
        if frame[column].dtype == bool:
            frame[column] = frame[column].astype(float)
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    numeric = [c for c in frame.columns if c != "run" and frame[c].notna().any()]
    order = list(dict.fromkeys(frame["run"]))
    return frame.groupby("run", sort=False)[numeric].mean().reindex(order)


@dataclass
class AnalysisInputs:
    """Everything an analysis may use; all of it is written next to the analysis output.

    ``datasets`` maps a dataset name (``<run>/<synth dataset>`` or ``<run>/mix``) to its data
    files (synth JSONL shards of triples, or mix Parquet files); ``base_model`` is the model
    before training (for perplexities and token counts); ``runs`` maps a run id to its run
    folder when the results came from run folders; ``plugins`` is the plugin set of the run
    (an analysis that reloads benchmarks looks them up there; not written to disk).
    """

    results: pd.DataFrame
    factors: pd.DataFrame
    datasets: dict[str, list[Path]] = field(default_factory=dict)
    base_model: str | None = None
    runs: dict[str, Path] = field(default_factory=dict)
    plugins: PluginSet | None = None

    def write(self, folder: Path) -> None:
        """Write ``results.csv``, ``factors.csv`` and ``inputs.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.results.to_csv(folder / "results.csv", index=False)
        self.factors.to_csv(folder / "factors.csv", index=False)
        meta = {"base_model": self.base_model,
                "datasets": {k: [str(p) for p in v] for k, v in self.datasets.items()},
                "runs": {k: str(v) for k, v in self.runs.items()}}
        (folder / "inputs.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")

    @classmethod
    def read(cls, results_csv: Path, factors_csv: Path | None = None,
             meta_json: Path | None = None) -> AnalysisInputs:
        """Inputs from CSV files as :meth:`write` leaves them (``factors_csv`` optional)."""
        import pandas as pd

        results = pd.read_csv(results_csv, dtype={"run": str})
        for column in RESULT_COLUMNS:
            if column not in results.columns:
                results[column] = None
        factors = (pd.read_csv(factors_csv, dtype={"run": str}) if factors_csv
                   else pd.DataFrame({"run": pd.Series(dtype=str)}))
        meta: dict[str, Any] = {}
        if meta_json and meta_json.exists():
            meta = json.loads(meta_json.read_text(encoding="utf-8"))
        return cls(results=results, factors=factors,
                   datasets={k: [Path(p) for p in v] for k, v in meta.get("datasets", {}).items()},
                   base_model=meta.get("base_model"),
                   runs={k: Path(v) for k, v in meta.get("runs", {}).items()})


#: Where the report places sections by ``order``: sections below OPENING_ORDER stand first,
#: right under the title (a study's findings); then the report's own opening sections
#: (experiments, methods, the factor table at FACTORS_ORDER); the shared figures section at
#: FIGURES_ORDER, and sections an analysis does not place at DEFAULT_ORDER, after the figures.
SUMMARY_ORDER, OPENING_ORDER, FACTORS_ORDER, FIGURES_ORDER, DEFAULT_ORDER = 0.0, 1.0, 10.0, 50.0, 60.0


@dataclass
class ReportSection:
    """One section of the report, as an analysis asks for it.

    It shows ``table`` (a name in the output's ``tables``) or ``figure`` (a name in its
    ``figures``) under ``heading``; sections of all analyses are sorted by ``order`` (ties:
    analyses by id, then as listed). ``summary`` puts the analysis summary above the table;
    ``note`` stands in for a table that came out empty. Figures no section names go to the
    report's shared figures section.
    """

    heading: str
    table: str | None = None
    figure: str | None = None
    order: float = DEFAULT_ORDER
    summary: bool = False
    note: str = ""


def default_sections(analysis: str, tables: Sequence[str], report_tables: Sequence[str] | None = None
                     ) -> list[ReportSection]:
    """Sections for an analysis that declares none: one per table (``report_tables`` when
    given, else all) headed ``<analysis> · <table>``, the summary above the first; an
    analysis without tables gets one section with its summary."""
    shown = [name for name in (report_tables if report_tables is not None else tables) if name in tables]
    if not tables:
        return [ReportSection(heading=analysis, summary=True)]
    return [ReportSection(heading=f"{analysis} · {name}", table=name, summary=i == 0)
            for i, name in enumerate(shown)]


@dataclass
class AnalysisOutput:
    """What an analysis found: a short Markdown ``summary``, named tables, PNG figures, data,
    and how it reaches the report.

    ``tables`` are pandas DataFrames (written as CSV and Markdown); ``figures`` are PNG bytes
    (see :func:`figure_png`); ``data`` is anything JSON-serialisable. ``sections`` place
    tables and figures in the report (:class:`ReportSection`; none declared: one section per
    table); ``factor_columns`` add per-run columns to the report's factor table
    (column label → run id → value), e.g. a length measured on each run's training mix.
    """

    summary: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    sections: list[ReportSection] = field(default_factory=list)
    factor_columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, folder: Path, *, analysis: str, config: Any = None) -> Path:
        """Write ``result.json``, ``summary.md``, ``tables/*.csv|md``, ``figures/*.png``."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "tables").mkdir(exist_ok=True)
        (folder / "figures").mkdir(exist_ok=True)
        for name, table in self.tables.items():
            table.to_csv(folder / "tables" / f"{name}.csv", index=False)
            (folder / "tables" / f"{name}.md").write_text(markdown_table(table) + "\n",
                                                           encoding="utf-8")
        for name, png in self.figures.items():
            (folder / "figures" / f"{name}.png").write_bytes(png)
        (folder / "summary.md").write_text(self.summary + "\n", encoding="utf-8")
        sections = self.sections or default_sections(folder.name, list(self.tables))
        result = {"analysis": analysis, "config": config, "summary": self.summary,
                  "tables": sorted(self.tables), "figures": sorted(self.figures),
                  "data": self.data,
                  "report": {"sections": [asdict(s) for s in sections],
                             "factor_columns": self.factor_columns}}
        path = folder / "result.json"
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n",
                        encoding="utf-8")
        return path


def mix_by_run(table: pd.DataFrame, column: str) -> dict[str, Any]:
    """``column`` of the rows of ``table`` whose ``dataset`` is a run's training mix
    (``<run>/mix``, as :class:`AnalysisInputs` names it), keyed by run id."""
    if "dataset" not in table.columns or column not in table.columns:
        return {}
    return {str(d)[: -len("/mix")]: v for d, v in zip(table["dataset"], table[column])
            if str(d).endswith("/mix")}


def markdown_table(table: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table (floats with ``floatfmt``, NaN as an empty cell)."""
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float):
            return format(value, floatfmt)
        return str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def figure_png(fig: Any, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class Analysis(Plugin, Generic[ConfigT]):
    """An analysis plugin turns evaluation results and recipe factors into findings.

    Implement :meth:`run`; it must not write files itself (the stage writes the output and
    the inputs side by side).
    """

    kind: ClassVar[str] = "analysis"

    def run(self, config: ConfigT | None, inputs: AnalysisInputs) -> AnalysisOutput:
        """Analyse ``inputs`` and return tables, figures and a short summary."""
        raise NotImplementedError
