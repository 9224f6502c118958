"""The train stage end to end on a tiny Qwen3 model: learning, resume after SIGKILL, LoRA,
launch commands and ZeRO config, and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_jre
from jre.records import Triple, stable_id


def write_triples(path: Path, n: int, *, seed: int = 0) -> Path:
    """``n`` arithmetic triples (half English, half Japanese instructions) as Triple JSONL."""
    import random

    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            ja = i % 2 == 1
            t = Triple(id=stable_id("arith", i), instruction=(f"{a} + {b} は？" if ja else f"What is {a} + {b}?"),
                       trace=f"{a} + {b} = {a + b}.",
                       response=(f"答えは{a + b}です。" if ja else f"The answer is {a + b}."),
                       lang_in="ja" if ja else "en", lang_trace="en", domain="stem", source="arith", teacher="fixture",
                       finish_reason="stop")
            fh.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
    return path


def write_recipe(tmp: Path, model: Path, *, count: int, train: str, name: str = "sft") -> Path:
    triples = write_triples(tmp / "triples.jsonl", count)
    recipe = tmp / f"{name}.toml"
    recipe.write_text(f"""schema_version = 1
name = "{name}"
run_dir = "{tmp / 'run'}"
[mix]
dedupe = "none"  # arithmetic questions repeat; every sample is an example here
[[mix.components]]
name = "arith"
count = {count}
source = "{triples}"
[train]
base_model = "{model}"
{train}
""", encoding="utf-8")
    return recipe


def mix_in_process(recipe_path: Path) -> None:
    """Run the mix stage in this process (quicker than a subprocess for error-path tests)."""
    from rich.console import Console

    from jre.recipe import load_recipe
    from jre.stages import StageContext
    from jre.stages.mix import run
    from jre.store import RunStore

    recipe = load_recipe(recipe_path)
    run(StageContext(recipe=recipe, store=RunStore.for_recipe(recipe), console=Console(quiet=True)))


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_tiny_sft_learns_the_think_format(tmp_path, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe = write_recipe(tmp_path, tiny_model, count=300, train="""
learning_rate = 3e-3
epochs = 4
global_batch_size = 8
micro_batch_size = 8
max_length = 128
packing = true
warmup_ratio = 0.05
logging_steps = 5
save_steps = 1000
""")
    proc = run_jre("run", str(recipe))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run" / "train"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.5 * losses[0]
    steps = [r for r in log if "loss" in r]
    assert all(r["tokens_per_s"] > 0 and 0 <= r["padding_share"] < 0.5 and r["examples_per_step"] > 8 for r in steps)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["examples"] == 300
    # The terminal gets jre's rounded lines, not the Trainer's bar or raw log dicts.
    assert "{'loss'" not in proc.stderr and "it/s]" not in proc.stderr
    lines = re.findall(r"^train: step (\d+)/(\d+), loss ([\d.]+), lr [\d.e+-]+", proc.stderr, re.M)
    assert len(lines) == len(steps) and all(len(loss.split(".")[-1]) <= 4 for _, _, loss in lines)
    assert re.search(r"^train: \d+ steps, loss [\d.]+ → [\d.]+;", proc.stderr, re.M)
    assert manifest["counts"]["examples_per_row"] > 2 and manifest["counts"]["packed_rows"] < 150

    tok = AutoTokenizer.from_pretrained(run / "model")
    model = AutoModelForCausalLM.from_pretrained(run / "model")
    prompts = ["What is 2 + 5?", "4 + 3 は？", "What is 6 + 1?"]
    for question in prompts:
        text = tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                       add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=40, do_sample=False)
        completion = tok.decode(out[0, ids["input_ids"].shape[1]:])
        assert completion.startswith("<think>"), completion
        head, sep, answer = completion.partition("</think>")
        assert sep and "=" in head, completion
        assert answer.strip().replace("<|im_end|>", "").strip(), completion


def _train_args(save_steps: int) -> str:
    return f"""
learning_rate = 1e-3
max_steps = 24
global_batch_size = 4
micro_batch_size = 2
max_length = 128
lr_scheduler = "cosine"
logging_steps = 1
save_steps = {save_steps}
save_total_limit = 3
seed = 7
"""


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, tiny_model):
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    full_dir.mkdir(), cut_dir.mkdir()
    full = write_recipe(full_dir, tiny_model, count=120, train=_train_args(6))
    cut = write_recipe(cut_dir, tiny_model, count=120, train=_train_args(6))
    assert run_jre("mix", str(cut)).returncode == 0

    proc = subprocess.Popen([sys.executable, "-c", "from jre.cli import main; main()", "train", str(cut)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    log = cut_dir / "run" / "train" / "log.jsonl"
    deadline = time.time() + 120
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if log.exists():
            steps = [json.loads(line).get("step", 0) for line in log.read_text().splitlines() if line.endswith("}")]
            if steps and max(steps) >= 8:
                proc.send_signal(signal.SIGKILL)
                killed_at = max(steps)
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None and killed_at < 24, "the run finished before it could be killed"
    assert not (cut_dir / "run" / "train" / "model").exists()

    resumed = run_jre("train", str(cut))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    manifest = json.loads((cut_dir / "run" / "train" / "manifest.json").read_text())
    assert manifest["counts"]["resumed_from"] == "checkpoint-6"
    assert "resuming from checkpoint-6 (step 6)" in resumed.stderr
    done = run_jre("run", str(full))
    assert done.returncode == 0, done.stderr[-3000:]

    a, b = _weights(full_dir / "run" / "train" / "model"), _weights(cut_dir / "run" / "train" / "model")
    assert a.keys() == b.keys()
    import torch

    base = _weights(Path(tiny_model))
    moved = max((a[k] - base[k]).abs().max().item() for k in base if k in a)
    assert moved > 1e-3  # training changed the weights, so the comparison below means something
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_lora_with_checkpointing_trains_adapters_and_saves_a_merged_model(tmp_path, tiny_model):
    recipe = write_recipe(tmp_path, tiny_model, count=40, train="""
learning_rate = 1e-2
max_steps = 6
global_batch_size = 4
micro_batch_size = 4
max_length = 128
gradient_checkpointing = true
logging_steps = 1
[train.lora]
r = 4
alpha = 8
dropout = 0.0
""")
    proc = run_jre("run", str(recipe))
    assert proc.returncode == 0, proc.stderr[-3000:]
    model_dir = tmp_path / "run" / "train" / "model"
    merged, base = _weights(model_dir), _weights(Path(tiny_model))
    assert not any("lora" in k for k in merged)
    changed = [k for k in base if (merged[k] - base[k]).abs().max().item() > 0]
    assert changed and all(k.endswith("proj.weight") for k in changed)  # only adapted linears moved
    assert "model.embed_tokens.weight" not in changed
    log = [json.loads(x) for x in (tmp_path / "run" / "train" / "log.jsonl").read_text().splitlines()]
    assert any(r.get("padding_share", 0) > 0 for r in log)  # padded batches report their padding


def test_deepspeed_config_and_launch_commands(tmp_path, tiny_model):
    recipe = write_recipe(tmp_path, tiny_model, count=8, train="""
global_batch_size = 64
micro_batch_size = 2
[train.deepspeed]
stage = 3
offload_optimizer = "cpu"
extra = { zero_optimization = { sub_group_size = 1000000 } }
[train.launch]
launcher = "torchrun"
nproc_per_node = 8
nnodes = 2
node_rank = 1
master_addr = "10.0.0.1"
""")
    proc = run_jre("train", str(recipe), "--print-launch")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("torchrun --nnodes=2 --nproc_per_node=8 --node_rank=1 --master_addr=10.0.0.1")
    assert f"-m jre.lib.train.worker {recipe.resolve()} --run-dir {(tmp_path / 'run').resolve()}" in line
    ds = json.loads((tmp_path / "run" / "train" / "deepspeed.json").read_text())
    zero = ds["zero_optimization"]
    assert zero["stage"] == 3 and zero["offload_optimizer"]["device"] == "cpu"
    assert zero["sub_group_size"] == 1000000 and zero["stage3_gather_16bit_weights_on_model_save"] is True
    assert ds["train_micro_batch_size_per_gpu"] == "auto" and ds["bf16"] == {"enabled": "auto"}

    for launcher, head in (("accelerate", "accelerate launch --multi_gpu --num_machines 2 --num_processes 16"),
                           ("deepspeed", "deepspeed --num_nodes 2 --num_gpus 8")):
        recipe.write_text(recipe.read_text().replace('launcher = "torchrun"', f'launcher = "{launcher}"')
                          .replace('launcher = "accelerate"', f'launcher = "{launcher}"'))
        proc = run_jre("train", str(recipe), "--print-launch")
        assert proc.returncode == 0 and proc.stdout.startswith(head), proc.stdout + proc.stderr
        assert "jre.lib.train.worker" in proc.stdout
    plan = run_jre("run", str(recipe), "--dry-run")
    assert "DeepSpeed ZeRO-3" in plan.stdout and "launch: deepspeed" in plan.stdout


@pytest.mark.parametrize("train, field, words", [
    ('max_length = 128\n', "train.base_model", "unknown base model"),
    ('max_length = 16\n', "train.max_length", "smaller than"),
    ('max_length = 24\noverlength = "drop"\n', "train.overlength", "no training example is left"),
    ('global_batch_size = 6\nmicro_batch_size = 4\n', "train.global_batch_size", "not a multiple"),
])
def test_bad_train_input_is_one_line(tmp_path, tiny_model, train, field, words):
    model = tmp_path / "no-such-model" if "128" in train else tiny_model
    recipe = write_recipe(tmp_path, model, count=8, train=train)
    mix_in_process(recipe)
    proc = run_jre("train", str(recipe))
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert field in last and words in last
    assert "Traceback" not in proc.stderr


def test_train_without_mix_dataset_is_one_line(tmp_path, tiny_model):
    recipe = write_recipe(tmp_path, tiny_model, count=8, train="")
    proc = run_jre("train", str(recipe))
    assert proc.returncode == 2 and "run `jre mix` first" in proc.stderr


def test_checkpoints_of_another_config_are_not_resumed(tmp_path, tiny_model):
    recipe = write_recipe(tmp_path, tiny_model, count=24,
                          train=_train_args(2).replace("max_steps = 24", "max_steps = 4"))
    mix_in_process(recipe)
    assert run_jre("train", str(recipe)).returncode == 0
    checkpoints = tmp_path / "run" / "train" / "checkpoints"
    assert (checkpoints / "checkpoint-4").is_dir()
    # Same config again after a crash would resume; a changed config must start afresh.
    recipe.write_text(recipe.read_text().replace("learning_rate = 1e-3", "learning_rate = 2e-3"))
    again = run_jre("train", str(recipe))
    assert again.returncode == 0, again.stderr[-3000:]
    manifest = json.loads((tmp_path / "run" / "train" / "manifest.json").read_text())
    assert manifest["counts"]["resumed_from"] is None
    assert manifest["counts"]["steps"] == 4
    assert "starting at step 0: the checkpoints of the previous attempt (step 4) were written for " \
           "other train settings" in again.stderr


def test_checkpoints_on_a_time_interval_and_a_restart_from_zero_is_explained(tmp_path, tiny_model):
    # save_steps far away: only the clock (a few milliseconds here) can ask for checkpoints.
    recipe = write_recipe(tmp_path, tiny_model, count=24, train=_train_args(1000).replace(
        "max_steps = 24", "max_steps = 3") + "save_minutes = 0.0001\n")
    mix_in_process(recipe)
    first = run_jre("train", str(recipe))
    assert first.returncode == 0, first.stderr[-3000:]
    assert "; starting at step 0\n" in first.stderr
    train = tmp_path / "run" / "train"
    assert sorted(p.name for p in (train / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-1", "checkpoint-2", "checkpoint-3"]
    # As after a kill before the first checkpoint: the log has steps, no checkpoint exists.
    shutil.rmtree(train / "checkpoints" / "checkpoint-1")
    shutil.rmtree(train / "checkpoints" / "checkpoint-2")
    shutil.rmtree(train / "checkpoints" / "checkpoint-3")
    shutil.rmtree(train / "model")
    (train / "manifest.json").unlink()
    again = run_jre("train", str(recipe))
    assert again.returncode == 0, again.stderr[-3000:]
    assert ("starting at step 0: the previous attempt reached step 3 but stopped before its first "
            "checkpoint (one is written every 1000 steps or 0.0001 minutes)") in again.stderr
