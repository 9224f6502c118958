"""The ``report`` stage: the analyses of a run (or study) as Markdown and one HTML file.

Reads ``<run>/analyze/*/result.json`` with their tables, figures and inputs, and writes
``<run>/report/report.md`` (figures as PNG files next to it) and ``<run>/report/report.html``
(self-contained: CSS inline, figures embedded as base64 PNG). The report opens with the
experiments, the methods and the factor table (Table 1 of the reference study, with any
per-run columns an analysis adds); every other section is one an analysis declared
(:class:`jre.kinds.analysis.ReportSection`), sorted by its order key, with the figures no
section places in one figures section.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jre.errors import UserError
from jre.kinds.analysis import FIGURES_ORDER, OPENING_ORDER, ReportSection, default_sections, markdown_table
from jre.plugin_manager import PluginSet
from jre.recipe import Recipe
from jre.stages import Stage, StageContext
from jre.study import selected_experiments

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;
color:#1d2330;line-height:1.45;padding:0 1rem}
h1{border-bottom:2px solid #3056d3;padding-bottom:.3rem}h2{margin-top:2.2rem;color:#22346b}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.82rem;max-width:100%}
th,td{border:1px solid #c9cfdb;padding:.25rem .45rem;text-align:right}th{white-space:normal}
td{white-space:nowrap}td.text{text-align:left;white-space:normal}
.caveat{border-left:4px solid #c98a00;background:#fff8e6;padding:.5rem .8rem}
th{background:#eef1f8}td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafbfd}figure{margin:1rem 0}img{max-width:100%;border:1px solid #dde}
figcaption{font-size:.85rem;color:#556}pre,.summary{background:#f6f7fa;padding:.6rem .8rem;
border-radius:4px;font-size:.85rem;white-space:pre-wrap}.note{color:#8a5a00}
"""


@dataclass
class AnalysisResult:
    """One analysis folder as the report reads it."""

    name: str
    folder: Path
    summary: str
    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    sections: list[ReportSection] = field(default_factory=list)
    factor_columns: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_analyses(run_root: Path) -> dict[str, AnalysisResult]:
    """Every analysis written under ``<run_root>/analyze/``, by name."""
    import pandas as pd

    found: dict[str, AnalysisResult] = {}
    for result_json in sorted((run_root / "analyze").glob("*/result.json")):
        data = json.loads(result_json.read_text(encoding="utf-8"))
        folder = result_json.parent
        tables = {}
        for name in data.get("tables", []):
            path = folder / "tables" / f"{name}.csv"
            try:
                tables[name] = pd.read_csv(path, dtype={"run": str}, keep_default_na=True)
            except pd.errors.EmptyDataError:
                tables[name] = pd.DataFrame()
        figures = {name: folder / "figures" / f"{name}.png" for name in data.get("figures", [])}
        report = data.get("report") or {}
        # Results written before analyses declared sections: one section per table.
        sections = ([ReportSection(**s) for s in report["sections"]] if "sections" in report
                    else default_sections(folder.name, list(tables), (data.get("data") or {}).get("report_tables")))
        # Keyed by folder: the analysis's id, which is its plugin name unless the recipe set one.
        found[folder.name] = AnalysisResult(
            name=folder.name, folder=folder, summary=data.get("summary", ""), tables=tables,
            figures=figures, sections=sections, factor_columns=report.get("factor_columns") or {})
    return found


def local_paths(text: str, run_root: Path) -> str:
    """``text`` with paths inside the run folder made relative to it and other absolute
    paths cut to their last part, so a report shows nothing of the machine it ran on."""
    root = str(run_root.resolve())
    text = text.replace(root + "/", "").replace(root, ".")
    return re.sub(r"(?<![\w.:])/(?:[^\s/()\[\],;:'\"]+/)+([^\s/()\[\],;:'\"]+)", r"…/\1", text)


def methods(analyses: dict[str, AnalysisResult], run_root: Path) -> str:
    """How the numbers were made: base model, and per benchmark the metric, items, samples,
    decoding and answer policy (from the results table the analyses saw)."""
    import pandas as pd

    lines = []
    for result in analyses.values():
        meta_path = result.folder / "inputs" / "inputs.json"
        results_path = result.folder / "inputs" / "results.csv"
        if not results_path.exists():
            continue
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        if meta.get("base_model"):
            lines.append(f"Base model (before training): {Path(str(meta['base_model'])).name}.")
        try:
            results = pd.read_csv(results_path)
        except pd.errors.EmptyDataError:
            return "\n".join(lines)
        lines.append(f"{results['run'].nunique()} run(s); per benchmark (as evaluated):")
        for bench, rows in results.groupby("benchmark", sort=False):
            row = rows.iloc[0]

            def show(column: str, fmt: str = "{}", row: Any = row) -> str:  # row bound now: no late binding
                return _shown(row.get(column), fmt)

            lines.append(f"- {bench}: metric {show('metric')}, {show('n_items', '{:.0f}')} questions, "
                         f"{show('n_samples', '{:.0f}')} samples in all, temperature {show('temperature')}, "
                         f"top-p {show('top_p')}, max tokens {show('max_tokens', '{:.0f}')}, answers of "
                         f"unclosed traces taken from: {show('answer_policy')}")
        return "\n".join(lines)
    return "\n".join(lines) or "the analyses kept no results table"


def _shown(value: Any, fmt: str) -> str:
    """A results cell as text, ``?`` where it is missing or NaN."""
    return "?" if value is None or (isinstance(value, float) and value != value) else fmt.format(value)


def group_components(factors: Any) -> Any:
    """Table 1 with a mixed run's component rows kept together and numbered."""
    if factors is None or "run" not in factors.columns or not factors["run"].duplicated().any():
        return factors
    order = list(dict.fromkeys(factors["run"]))
    grouped = factors.assign(__order=factors["run"].map(order.index)).sort_values("__order", kind="stable")
    counts = grouped.groupby("run")["run"].transform("size")
    index = grouped.groupby("run").cumcount() + 1
    grouped["run"] = [f"{r} ({i}/{n})" if n > 1 else r for r, i, n in zip(grouped["run"], index, counts)]
    return grouped.drop(columns="__order").reset_index(drop=True)


def factor_table(analyses: dict[str, AnalysisResult]) -> Any:
    """The factor table the analyses saw (their ``inputs/factors.csv``), or None."""
    import pandas as pd

    for result in analyses.values():
        path = result.folder / "inputs" / "factors.csv"
        if path.exists():
            try:
                return pd.read_csv(path, dtype={"run": str})
            except pd.errors.EmptyDataError:
                return None
    return None


def with_measured(factors: Any, analyses: dict[str, AnalysisResult]) -> Any:
    """Table 1 with the per-run columns the analyses add (``factor_columns`` of their
    output, e.g. each run's measured length and PPL of its training mix)."""
    if factors is None or "run" not in factors.columns:
        return factors
    factors = factors.copy()
    for result in analyses.values():
        for label, by_run in result.factor_columns.items():
            if by_run:
                factors[label] = [by_run.get(str(run)) for run in factors["run"]]
    return factors


def _html_table(table: Any, precision: int) -> str:
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float):
            return f"{value:.{precision}f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    def td(value: Any) -> str:  # prose reads from the left, numbers line up on the right
        prose = isinstance(value, str) and len(value) > 24 and " " in value
        return f'<td class="text">{cell(value)}</td>' if prose else f"<td>{cell(value)}</td>"

    rows = "".join("<tr>" + "".join(td(v) for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def build_report(run_root: Path, title: str, precision: int = 3, *, caveat: str | None = None,
                 experiments: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` under ``<run_root>/report/``; return both paths.

    ``caveat`` stands under the title; ``experiments`` (run → description) opens the report.
    Paths of this machine never appear: they are shown relative to the run folder.
    """
    analyses = read_analyses(run_root)
    if not analyses:
        raise UserError("no analyses to report on; run the analyze stage first",
                        where=str(run_root / "analyze"))
    out = run_root / "report"
    figures_dir = out / "figures"
    shutil.rmtree(figures_dir, ignore_errors=True)
    figures_dir.mkdir(parents=True)
    md: list[str] = [f"# {title}", ""]
    body: list[str] = [f"<h1>{html.escape(title)}</h1>"]
    if caveat:
        md.extend([f"> {caveat}", ""])
        body.append(f'<p class="caveat">{html.escape(caveat)}</p>')

    def section(heading: str, table: Any, summary: str = "", note: str = "") -> None:
        summary = local_paths(summary, run_root)
        table = None if table is None else table.map(
            lambda v: local_paths(v, run_root) if isinstance(v, str) else v)
        md.extend([f"## {heading}", ""])
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if summary:
            md.extend([summary, ""])
            body.append(f'<div class="summary">{html.escape(summary)}</div>')
        if table is not None and len(table.columns):
            md.extend([markdown_table(table, f".{precision}f"), ""])
            body.append(_html_table(table, precision))
        elif note:
            md.extend([f"_{note}_", ""])
            body.append(f'<p class="note">{html.escape(note)}</p>')

    def figure(result: AnalysisResult, name: str) -> None:
        path = result.figures.get(name)
        if path is None or not path.exists():
            return
        target = figures_dir / f"{result.name}-{name}.png"
        shutil.copyfile(path, target)
        caption = f"{result.name}: {name.replace('_', ' ')}"
        md.extend([f"![{caption}](figures/{target.name})", ""])
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def figures_section(loose: list[tuple[AnalysisResult, str]]) -> None:
        md.extend(["## Figures", ""])
        body.append("<h2>Figures</h2>")
        for result, name in loose:
            figure(result, name)

    # Every declared section of every analysis, in order (ties: analyses by id, then as
    # listed); the figures no section places share one section.
    placed: list[tuple[float, int, AnalysisResult, ReportSection]] = []
    for result in analyses.values():
        for declared in result.sections:
            placed.append((declared.order, len(placed), result, declared))
    placed.sort(key=lambda entry: (entry[0], entry[1]))
    claimed = {(result.name, s.figure) for _, _, result, s in placed if s.figure}
    loose = [(result, name) for result in analyses.values() for name in result.figures
             if (result.name, name) not in claimed]

    def analysis_section(result: AnalysisResult, declared: ReportSection) -> None:
        heading = declared.heading.replace("{analysis}", result.name)
        table = result.tables.get(declared.table) if declared.table else None
        section(heading, table, result.summary if declared.summary else "", note=declared.note)
        if declared.figure:
            figure(result, declared.figure)

    # Sections placed before the report's own opening ones (a study's findings) lead.
    for order, _, result, declared in placed:
        if order < OPENING_ORDER:
            analysis_section(result, declared)
    if experiments:
        import pandas as pd

        section("Experiments", pd.DataFrame({"run": list(experiments), "description": list(experiments.values())}))
    section("Methods", None, methods(analyses, run_root))
    factors = with_measured(factor_table(analyses), analyses)
    mixed = factors is not None and "run" in factors.columns and factors["run"].duplicated(keep=False).any()
    section("Table 1 · Experiment factors", group_components(factors),
            "A run listed more than once mixes several datasets: one row per component; the "
            "analyses use the mean of its components' factors." if mixed else "",
            note="no factor table was given to the analyses")
    figures_done = False
    for order, _, result, declared in placed:
        if order < OPENING_ORDER:
            continue
        if order > FIGURES_ORDER and not figures_done:
            figures_section(loose)
            figures_done = True
        analysis_section(result, declared)
    if not figures_done:
        figures_section(loose)
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text("\n".join(md).rstrip() + "\n", encoding="utf-8")
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
    html_path.write_text(page, encoding="utf-8")
    return md_path, html_path


def run(ctx: StageContext) -> None:
    section = ctx.recipe.report
    assert section is not None
    recipe = ctx.recipe
    experiments = None
    if recipe.study is not None:
        _, names = selected_experiments(recipe.study, str(recipe.path))
        experiments = {name: recipe.study.experiments[name].description for name in names}
    md_path, html_path = build_report(ctx.store.root, section.title or recipe.name, section.precision,
                                      caveat=section.caveat, experiments=experiments)
    ctx.console.print(f"report: {html_path} (Markdown: {md_path})")


def plan(recipe: Recipe, plugins: PluginSet) -> list[str]:
    return ["report.md and report.html from the analyses under analyze/"]


STAGE = Stage(name="report", run=run, plan=plan,
              help="Write the Markdown and HTML report of RECIPE_FILE's analyses.")
