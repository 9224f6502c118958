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
FLAGS = ["--headless", "--no-sandbox", "--window-size=1280,900", "--hide-scrollbars", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

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
    wideTables: [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right > window.innerWidth).length,
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
        '            { name = "compare", baseline = "concise" }]\n\n[report]\ntitle = "Fixture study"\n')
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
