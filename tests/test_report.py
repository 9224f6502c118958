"""``jre report``: Markdown and one self-contained HTML that a real browser renders whole."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_jre

RUNS = Path(__file__).parent / "fixtures" / "analysis" / "experiments"
FLAGS = ["--headless", "--no-sandbox", "--window-size=1280,900", "--hide-scrollbars", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

# Injected into a copy of the report: records script errors and, after load, what rendered.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = {tables: document.querySelectorAll('table').length,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
    images: imgs.length, decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
    errors: window.__errors, viewport: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    wideTables: [...document.querySelectorAll('table')]
      .filter(t => t.getBoundingClientRect().right > window.innerWidth).length,
    figureWidths: imgs.map(i => i.getBoundingClientRect().width)};
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    runs = ", ".join(json.dumps(str(RUNS / n)) for n in ("concise", "verbose", "notrace", "english"))
    recipe = tmp / "study.toml"
    recipe.write_text(
        'schema_version = 1\nname = "fx"\n'
        f'run_dir = "{tmp / "run"}"\n\n[analyze]\nruns = [{runs}]\n'
        'analyses = ["scores", "failure_rate", { name = "aicc", factors = ["verbose", "trace", "ja_share"] },\n'
        '            { name = "compare", baseline = "concise" }, "findings"]\n\n[report]\ntitle = "Fixture study"\n')
    result = run_jre("run", str(recipe))
    assert result.returncode == 0, result.stderr
    return tmp / "run" / "report"


def test_markdown_has_every_table_and_figure(report):
    text = (report / "report.md").read_text()
    for heading in ("Table 1 · Experiment factors", "Table 2 · Scores",
                    "Table 3 · Reasoning failure rates", "Table 4 · AICc selection"):
        assert f"## {heading}" in text
    images = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", text)
    assert len(images) == 3  # score vs failure, AICc selection, deltas
    for image in images:
        assert (report / image).read_bytes().startswith(b"\x89PNG")
    assert "| verbose | 1 | 1 | 0.5" in text or "| verbose | 1 | 1 | 0.500" in text
    # A scientist's report: methods with the decoding, intervals and metrics in Table 2,
    # multiple-comparison correction, and no path of this machine.
    assert "## Methods" in text and "temperature" in text and "max tokens" in text
    assert re.search(r"\| arith_en \(accuracy\) \|", text) and re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text)
    assert "Holm p" in text and "runner-up" in text
    assert str(RUNS.resolve()) not in text and "/tmp/" not in text
    # What the study found opens the report, in words, before the tables.
    headings = re.findall(r"^## (.*)$", text, re.M)
    assert headings[:3] == ["Findings", "Methods", "Table 1 · Experiment factors"], headings
    findings = text.split("## Findings")[1].split("## Methods")[0]
    assert "- trace 0 → 1 (notrace → concise) on arith_en: score rose 0.333 → 0.625" in findings


def test_html_is_self_contained(report):
    page = (report / "report.html").read_text()
    assert not re.search(r'src="(?!data:)', page) and "<link" not in page
    assert page.count('src="data:image/png;base64,') == 3


def test_html_renders_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (make test installs Debian's chromium); "
                    "the HTML report was not rendered")
    page = (report / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("<head>", "<head>" + PROBE, 1))
    result = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                             "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert match, "the page did not finish loading"
    import html

    seen = json.loads(html.unescape(match.group(1)))
    assert seen["errors"] == []
    assert seen["images"] == 3 and seen["decoded"] == 3
    assert seen["tables"] >= 5  # Tables 1-4 and the compare deltas at least
    for heading in ("Methods", "Table 1 · Experiment factors", "Table 2 · Scores",
                    "Table 3 · Reasoning failure rates (per sample)", "Table 4 · AICc selection of experiment factors",
                    "Table 4b · Coefficients", "compare · summary", "Figures"):
        assert any(h.startswith(heading) for h in seen["headings"]), (heading, seen["headings"])
    # At 1280 px nothing scrolls sideways, and every figure is drawn at a readable size.
    assert seen["viewport"] == 1280 and seen["pageWidth"] <= 1280 and seen["wideTables"] == 0, seen
    assert all(width >= 300 for width in seen["figureWidths"]), seen["figureWidths"]


def test_report_without_analyses_is_a_user_error(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'schema_version = 1\nname = "x"\nrun_dir = "{tmp_path / "run"}"\n[report]\n')
    result = run_jre("report", str(recipe))
    assert result.returncode == 2
    assert "no analyses to report on" in result.stderr


# A third-party analysis in its own distribution: one section placed between Tables 2 and 3
# with a figure of its own, a per-run column for Table 1, and a second analysis that
# declares nothing (its table still reaches the report, after the shared figures).
THIRD_PARTY_ANALYSIS = """
from jre import hookimpl
from jre.kinds import Analysis
from jre.kinds.analysis import AnalysisOutput, ReportSection, figure_png, pyplot

class Spread(Analysis):
    name = "spread"
    description = "max - min score per run"

    def run(self, config, inputs):
        import pandas as pd

        by_run = inputs.results.groupby("run")["score"]
        table = pd.DataFrame({"run": list(by_run.groups), "spread": list(by_run.max() - by_run.min())})
        plt = pyplot()
        fig, ax = plt.subplots()
        ax.bar(table["run"], table["spread"])
        return AnalysisOutput(
            summary="Spread of scores per run.", tables={"spread": table},
            figures={"spread_bars": figure_png(fig)},
            sections=[ReportSection("Table 2c · Score spread", table="spread", figure="spread_bars",
                                    order=25, summary=True)],
            factor_columns={"spread": dict(zip(table["run"], table["spread"]))})

class Plain(Analysis):
    name = "plain"
    description = "a table and nothing said about the report"

    def run(self, config, inputs):
        import pandas as pd

        runs = pd.DataFrame({"runs": [inputs.results["run"].nunique()]})
        return AnalysisOutput(summary="Runs counted.", tables={"count": runs})

@hookimpl
def register_analyses(register):
    register(Spread())
    register(Plain())
"""


def test_third_party_analysis_declares_its_report_sections(tmp_path):
    from plugin_dists import env_with, make_dist

    root = make_dist(tmp_path / "dist", "jre-spread", "jre_spread", THIRD_PARTY_ANALYSIS)
    runs = ", ".join(json.dumps(str(RUNS / n)) for n in ("concise", "verbose"))
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'schema_version = 1\nname = "tp"\nrun_dir = "{tmp_path / "run"}"\n\n[analyze]\n'
                      f'runs = [{runs}]\nanalyses = ["scores", "failure_rate", "spread", "plain"]\n\n[report]\n')
    result = run_jre("run", str(recipe), env=env_with(root))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "run" / "report" / "report.md").read_text()
    headings = re.findall(r"^## (.*)$", text, re.M)
    assert [h.split(" · ")[0] for h in headings] == [
        "Methods", "Table 1", "Table 2", "Table 2c", "Table 3", "Figures", "plain"], headings
    spread = text.split("## Table 2c · Score spread")[1].split("## Table 3")[0]
    assert "Spread of scores per run." in spread and "| run | spread |" in spread
    assert "![spread: spread bars](figures/spread-spread_bars.png)" in spread  # placed, not in Figures
    figures = text.split("## Figures")[1].split("## plain")[0]
    assert "spread bars" not in figures and "score vs failure" in figures
    table1 = text.split("## Table 1")[1].split("## Table 2")[0]
    assert re.search(r"^\| run \|.*\| spread \|$", table1, re.M)
    assert "## plain · count" in text and "Runs counted." in text.split("## plain · count")[1]
