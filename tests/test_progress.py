"""The stage progress display: live on a terminal, greppable lines in logs, and a local
model's batch in flight shows its tokens so a long batch does not look frozen."""

from __future__ import annotations

import io
import warnings

from rich.console import Console

from jre.console import StageProgress
from jre.plugin_manager import get_plugins
from jre.records import ChatRequest, Sampling


def test_logs_get_plain_lines_with_the_status_and_a_final_count():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, soft_wrap=True)
    with StageProgress(console, "eval arith_en", total=32, done=24, log_every=0) as bar:
        bar.update(0, "batch of 8: token 57/128")
        bar.update(8, "")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("eval arith_en: 24/32  batch of 8: token 57/128  (0:00 elapsed)")
    assert lines[-1].startswith("eval arith_en: 32/32  (0:00 elapsed)")


def test_logs_are_throttled():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, soft_wrap=True)
    with StageProgress(console, "synth c_en", total=1000, log_every=3600) as bar:
        for _ in range(1000):
            bar.update(1, "1.0 req/s")
    assert out.getvalue() == ""  # no line within the interval, and none owed at the end


def test_terminal_shows_a_live_bar():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with StageProgress(console, "eval gpqa_ja", total=4) as bar:
        bar.update(4, "done")
    assert "eval gpqa_ja" in out.getvalue() and "4/4" in out.getvalue()


def test_hf_engine_reports_each_decoding_step(tiny_model):
    engine = get_plugins().get("engine", "hf")
    client = engine.load(engine.parse_config({"model": str(tiny_model), "batch_size": 2}))
    steps: list[tuple[int, int]] = []
    client.on_step = lambda step, most: steps.append((step, most))
    requests = [ChatRequest(id=f"q{i}", messages=[{"role": "user", "content": "2+2" + "?" * i}],
                            sampling=Sampling(temperature=0.0, max_tokens=6)) for i in range(2)]
    [(_, [gen]), _] = list(client.generate(requests))
    assert steps and steps[0] == (1, 6)
    assert [s for s, _ in steps] == list(range(1, len(steps) + 1))
    assert len(steps) >= gen.completion_tokens  # one call per decoding step of the batch


def test_library_bars_are_silenced_even_when_already_imported(monkeypatch):
    import datasets
    import huggingface_hub
    from transformers.utils import logging as transformers_logging

    from jre.console import stage_console

    for name in ("HF_DATASETS_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(name, raising=False)  # as in a process whose libraries came first
    huggingface_hub.utils.enable_progress_bars()
    transformers_logging.enable_progress_bar()
    with warnings.catch_warnings():  # datasets refuses while its switch was set at import
        warnings.simplefilter("ignore")
        datasets.enable_progress_bars()
    stage_console()
    assert huggingface_hub.utils.are_progress_bars_disabled()
    assert not transformers_logging.is_progress_bar_enabled()
    assert not datasets.is_progress_bar_enabled()


def test_stage_console_prints_brackets_as_written(capsys):
    from jre.console import stage_console

    stage_console().print("checked against the [eval] benchmarks; (install jre[vllm])")
    assert "the [eval] benchmarks; (install jre[vllm])" in capsys.readouterr().err
