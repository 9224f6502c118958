"""The ten Table-1 recipes load, dry-run, and say what Table 1 and Appendix C say."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_jre

PAPER = Path(__file__).resolve().parents[1] / "recipes" / "paper"

# Table 1: (component, language) → (examples, teacher); strip-trace components.
TABLE1 = {
    1: {("stem", "en"): (500_000, "oss")},
    2: {("stem", "ja"): (500_000, "oss")},
    3: {("stem", "en"): (1_500_000, "r1")},
    4: {("stem", "en"): (500_000, "r1")},
    5: {("stem", "en"): (500_000, "r1"), ("chat", "ja"): (100_000, "oss")},
    6: {("stem", "en"): (500_000, "r1"), ("chat", "en"): (100_000, "oss")},
    7: {("stem", "en"): (500_000, "r1"), ("chat", "ja"): (100_000, "oss")},
    8: {("chat", "en"): (50_000, "oss"), ("chat", "ja"): (50_000, "oss")},
    9: {("stem", "en"): (500_000, "oss-h")},
    10: {("stem", "en"): (250_000, "r1"), ("stem", "ja"): (250_000, "oss"),
         ("chat", "en"): (50_000, "oss"), ("chat", "ja"): (50_000, "oss")},
}
FACTORS = {1: (0, 1, 2.74, 2300), 2: (0, 1, 2.40, 2100), 3: (0, 0, 2.00, 9300), 4: (0, 0, 2.00, 9300),
           5: (1, 0, 2.00, 9300), 6: (1, 0, 2.00, 9300), 7: (1, 0, 2.00, 9300), 9: (0, 1, 2.00, 7700),
           10: (1, 0.5, 2.20, 5700)}


@pytest.mark.parametrize("n", range(1, 11))
def test_recipe_matches_table1(n):
    from jre.recipe import load_recipe

    recipe = load_recipe(PAPER / f"exp{n:02d}.toml")
    mix = recipe.mix.config
    got = {}
    for comp in mix.components:
        for lang, _spec, count in comp.slots():
            teacher = comp.teacher[lang] if isinstance(comp.teacher, dict) else comp.teacher
            got[(comp.name, lang)] = (count, teacher)
        assert comp.strip_trace == (n == 7 and comp.name == "chat")
    assert got == TABLE1[n]
    t = recipe.train
    assert (t.learning_rate, t.epochs, t.global_batch_size, t.max_length, t.packing) == (1.5e-5, 1, 64, 32768, False)
    f = recipe.factors
    if n == 8:
        assert f == {"chat": 1}
    else:
        assert (f["chat"], f["stem_teacher_oss"], f["ppl"], f["trace_len"]) == pytest.approx(FACTORS[n])


def test_all_ten_dry_run(capsys):
    from jre.pipeline import run_recipe

    for n in range(1, 11):
        run_recipe(PAPER / f"exp{n:02d}.toml", dry_run=True)
        out = capsys.readouterr().out
        for (comp, lang), (count, teacher) in TABLE1[n].items():
            assert f"{count:,} {lang} ← " in out and f"(teacher {teacher})" in out
        assert "global batch 64" in out and "context 32,768" in out


def test_dry_run_through_the_cli():
    proc = run_jre("run", str(PAPER / "exp07.toml"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "100,000 ja ← ../../runs/paper-synth/synth/chat_oss_ja (teacher oss); instruction + response only (trace stripped)" in proc.stdout
    assert "total 600,000 examples" in proc.stdout


def test_shared_synthesis_recipe_writes_every_source_the_experiments_read():
    import re

    from jre.recipe import load_recipe

    synth = load_recipe(PAPER / "synth.toml")
    datasets = set(synth.synth.datasets)
    assert datasets == {"stem_r1_en", "stem_oss_en", "stem_oss_ja", "stem_oss_h_en",
                        "chat_oss_en", "chat_oss_ja"}
    store_root = (PAPER / synth.run_dir).resolve()
    for number in range(1, 11):
        text = (PAPER / f"exp{number:02d}.toml").read_text()
        for source in re.findall(r'"(\.\./\.\./runs/paper-synth/synth/\w+)"', text):
            resolved = (PAPER / source).resolve()
            assert resolved.parent == store_root / "synth" and resolved.name in datasets, source
    proc = run_jre("run", str(PAPER / "synth.toml"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "synth stem_r1_en: teacher replay, nemotron seeds ×1,500,000" in proc.stdout
    assert "synth chat_oss_ja: teacher oss, translated from chat_oss_en" in proc.stdout


def test_dry_run_reads_no_benchmark_data():
    # lm-eval tasks would load their datasets when bound; a dry run must not.
    proc = run_jre("run", str(PAPER / "exp09.toml"), "--dry-run",
                   env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert 'eval lm_eval {"n": 16, "task": "aime24"} on vllm: N=16' in proc.stdout
