"""The lm-eval bridge against lm-eval itself.

One local ``generate_until`` task (few-shot examples from a train split, a ``gen_prefix``,
a regex filter, exact_match and chrF) runs through ``lm_eval.simple_evaluate`` with its own
``hf`` model and through ``jre eval`` (the bridge, the ``hf`` engine), on the same tiny
model from :mod:`jre.tiny`. Prompts must be identical text, and with lm-eval given the same
think-end token (``think_end_token``) the filtered answers and the metrics must be equal.

The tiny model's generation config bans the special tokens lm-eval's decoding would drop
(so both sides decode the same text) and, by a bigram bias, makes it close a trace
(``</think>``) mid-output in some answers and not in others.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES / "eval"))

import evalkit  # noqa: E402

lm_eval = pytest.importorskip("lm_eval")


@pytest.fixture(scope="module")
def parity_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer, GenerationConfig

    model = tmp_path_factory.mktemp("parity") / "model"
    shutil.copytree(tiny_model, model)
    tok = AutoTokenizer.from_pretrained(model)
    special = {t: tok.convert_tokens_to_ids(t) for t in ("<think>", "</think>", "<|im_start|>", "<|endoftext|>")}
    config = GenerationConfig.from_pretrained(model)
    config.bad_words_ids = [[special["<think>"]], [special["<|im_start|>"]], [special["<|endoftext|>"]]]
    config.sequence_bias = [[[tok.encode("、")[-1], special["</think>"]], 10.0]]
    config.no_repeat_ngram_size = 1  # at most one </think>
    config.save_pretrained(model)
    return model


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tasks")
    fixture = FIXTURES / "lm_eval_parity"
    yaml = (fixture / "task.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace("TRAIN_FILE", str(fixture / "train.jsonl")).replace("TEST_FILE", str(fixture / "test.jsonl"))
    (folder / "jre_parity.yaml").write_text(yaml, encoding="utf-8")
    return folder


def _lm_eval(model: Path, task_dir: Path) -> dict:
    from lm_eval.tasks import TaskManager
    from transformers import AutoTokenizer

    end = AutoTokenizer.from_pretrained(model).convert_tokens_to_ids("</think>")
    return lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model},dtype=float32,think_end_token={end}",
        tasks=["jre_parity"], task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        apply_chat_template=True, fewshot_as_multiturn=True, batch_size=1, device="cpu",
        log_samples=True)


def _jre(model: Path, task_dir: Path, folder: Path) -> tuple[dict, list[dict]]:
    recipe = evalkit.write_recipe(
        folder, [{"name": "lm_eval", "task": "jre_parity", "include_path": str(task_dir),
                  "include_defaults": False, "task_sampling": True}],
        {"name": "hf", "model": str(model), "batch_size": 1, "device": "cpu"}, bootstrap=0)
    evalkit.run_eval(recipe)
    return evalkit.results(folder, "lm_eval-jre_parity"), evalkit.details(folder, "lm_eval-jre_parity")


def test_bridge_matches_lm_eval(parity_model: Path, task_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from jre.plugins.engines.hf import render_prompt

    theirs = _lm_eval(parity_model, task_dir)
    ours, details = _jre(parity_model, task_dir, tmp_path)
    samples = {str(s["doc_id"]): s for s in theirs["samples"]["jre_parity"]}
    rows = {d["item_id"]: d for d in details}
    assert sorted(samples) == sorted(rows) and len(rows) == 6

    tokenizer = AutoTokenizer.from_pretrained(parity_model)
    for item_id, row in rows.items():
        context, gen_kwargs = samples[item_id]["arguments"][0]
        # Identical prompt text: system description, 2 seeded few-shot turns, gen_prefix.
        assert render_prompt(tokenizer, row["messages"], {}) == context
        assert row["messages"][-1] == {"role": "assistant", "content": "Answer:"}
        assert len([m for m in row["messages"] if m["role"] == "user"]) == 3
        # Identical extracted answers.
        assert samples[item_id]["filtered_resps"] == [row["answer"]], item_id
    # Both shapes occur: a trace closed mid-output, and no trace at all.
    closed_mid = [r for r in rows.values() if "</think>" in r["text"]]
    assert closed_mid and len(closed_mid) < len(rows)
    # Identical metrics.
    metrics = theirs["results"]["jre_parity"]
    assert ours["metrics"]["exact_match"] == pytest.approx(metrics["exact_match,first_word"])
    assert ours["metrics"]["chrf"] == pytest.approx(metrics["chrf,first_word"])
    assert 0 < ours["metrics"]["exact_match"] < 1 and ours["metrics"]["chrf"] > 0
    assert ours["lm_eval"]["fewshot_seed"] == 1234


def test_fewshot_examples_are_seeded(task_dir: Path) -> None:
    """Two bindings give the same prompts, and another seed gives other examples."""
    from jre.plugin_manager import get_plugins

    plugin = get_plugins().get("benchmark", "lm_eval")

    def prompts(seed: int) -> list:
        config = plugin.parse_config({"task": "jre_parity", "include_path": str(task_dir),
                                      "include_defaults": False, "fewshot_seed": seed})
        bound = plugin.bind(config)
        data = bound.load(config)
        return [bound.prompt(item, config) for item in data.items]

    first = prompts(1234)
    assert prompts(1234) == first
    assert prompts(7) != first
