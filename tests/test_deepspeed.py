"""DeepSpeed for real on CPU (gloo): ZeRO-3 over two torchrun processes against a plain run,
resumed after SIGKILL, and the ``deepspeed``, ``accelerate`` and no-launcher paths.

Every run trains the tiny model for the same 8 optimizer steps of global batch 4 on the same
mix, so each one must end at the plain single-process run's weights. The optimizer is
transformers' torch AdamW (the generated config names none), so no DeepSpeed op is compiled
except its CPU shared-memory collective, built once into the torch extensions cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_jre
from test_train import mix_in_process, write_recipe

pytest.importorskip("deepspeed", reason="the DeepSpeed tests need the jre[deepspeed] extra (in jre[test])")

STEPS = 8
# CPU and gloo on every machine, a GPU one included: the comparison is exact only in float32.
CPU = {"CUDA_VISIBLE_DEVICES": ""}
TRAIN = f"""
learning_rate = 1e-3
max_steps = {STEPS}
global_batch_size = 4
micro_batch_size = 2
max_length = 128
logging_steps = 1
save_steps = 4
save_total_limit = 4
seed = 7
dtype = "float32"
"""


def _recipe(root: Path, model: Path, name: str, extra: str = "") -> Path:
    folder = root / name
    folder.mkdir()
    recipe = write_recipe(folder, model, count=48, name=name, train=TRAIN + extra)
    mix_in_process(recipe)
    return recipe


def _weights(recipe: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(recipe.parent / "run" / "train" / "model" / "model.safetensors"))


def _manifest(recipe: Path) -> dict:
    return json.loads((recipe.parent / "run" / "train" / "manifest.json").read_text())


def _zero(stage: int, launcher: str, nproc: int = 2) -> str:
    return f"""[train.deepspeed]
stage = {stage}
[train.launch]
launcher = "{launcher}"
nproc_per_node = {nproc}
master_port = {29400 + stage * 10 + nproc + len(launcher)}
"""


@pytest.fixture(scope="module")
def plain(tmp_path_factory, tiny_model) -> tuple[Path, dict]:
    """The reference: the same training in one process without DeepSpeed."""
    root = tmp_path_factory.mktemp("ds")
    recipe = _recipe(root, tiny_model, "plain")
    proc = run_jre("train", str(recipe), env=CPU)
    assert proc.returncode == 0, proc.stderr[-3000:]
    weights = _weights(recipe)
    base = _weights_of(tiny_model)
    assert max((weights[k] - base[k]).abs().max().item() for k in base) > 1e-3  # training moved them
    return root, weights


def _weights_of(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


def _assert_same_weights(a: dict, b: dict) -> None:
    import torch

    # A ZeRO-2 save also writes the output embedding it shares with the input embedding.
    assert set(b) - set(a) <= {"lm_head.weight"} and set(a) <= set(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=2e-5, msg=key)
    if "lm_head.weight" in b and "lm_head.weight" not in a:
        torch.testing.assert_close(b["lm_head.weight"], a["model.embed_tokens.weight"])


def _kill_tree(pid: int) -> None:
    """SIGKILL ``jre train``, torchrun and every worker at once (torchrun starts each worker in
    a session of its own, so killing the process group would leave them running)."""
    import psutil

    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def test_zero3_two_processes_resumed_after_sigkill_matches_the_plain_run(plain, tiny_model):
    root, reference = plain
    recipe = _recipe(root, tiny_model, "zero3", _zero(3, "torchrun"))
    log = recipe.parent / "run" / "train" / "log.jsonl"
    output = open(recipe.parent / "first-run.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", "from jre.cli import main; main()", "train", str(recipe)],
                            stdout=output, stderr=output, env={**os.environ, **CPU})
    killed_at = None
    try:
        deadline = time.time() + 400
        while time.time() < deadline and proc.poll() is None:
            if log.exists():
                steps = [json.loads(x).get("step", 0) for x in log.read_text().splitlines() if x.endswith("}")]
                if steps and max(steps) >= 5:  # checkpoint-4 is complete once step 5 is logged
                    _kill_tree(proc.pid)
                    killed_at = max(steps)
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and killed_at is None:
            _kill_tree(proc.pid)
        proc.wait()
        output.close()
    assert killed_at is not None and killed_at < STEPS, \
        "the run ended before it could be killed: " + (recipe.parent / "first-run.log").read_text()[-3000:]
    assert not (recipe.parent / "run" / "train" / "model").exists()

    resumed = run_jre("train", str(recipe), env=CPU)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    counts = _manifest(recipe)["counts"]
    assert counts["resumed_from"] == "checkpoint-4" and counts["world_size"] == 2
    assert counts["steps"] == STEPS and counts["gradient_accumulation"] == 1
    config = json.loads((recipe.parent / "run" / "train" / "deepspeed.json").read_text())
    assert config["zero_optimization"]["stage"] == 3
    # ZeRO-3 checkpoints hold partitioned optimizer states, one file per rank.
    checkpoint = recipe.parent / "run" / "train" / "checkpoints" / counts["resumed_from"]
    assert len(list(checkpoint.glob("global_step*/*optim_states.pt"))) == 2
    _assert_same_weights(reference, _weights(recipe))


@pytest.mark.parametrize("launcher, stage", [("deepspeed", 3), ("accelerate", 2)])
def test_launchers_start_two_deepspeed_workers(plain, tiny_model, launcher, stage):
    import torch

    if launcher == "deepspeed" and torch.cuda.is_available():
        pytest.skip("the deepspeed launcher sets CUDA_VISIBLE_DEVICES itself; this CPU comparison needs no GPU")
    root, reference = plain
    recipe = _recipe(root, tiny_model, f"{launcher}-zero{stage}", _zero(stage, launcher))
    proc = run_jre("train", str(recipe), env=CPU)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"train: launching {launcher}" in proc.stderr
    counts = _manifest(recipe)["counts"]
    assert counts["world_size"] == 2 and counts["steps"] == STEPS
    _assert_same_weights(reference, _weights(recipe))


def test_deepspeed_without_a_launcher_trains_in_one_process(plain, tiny_model):
    root, reference = plain
    recipe = _recipe(root, tiny_model, "alone", "[train.deepspeed]\nstage = 3\n")
    from jre.recipe import load_recipe

    assert load_recipe(recipe).train.launch.launcher == "none"  # the recipe check passes it
    proc = run_jre("train", str(recipe), env=CPU)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    counts = _manifest(recipe)["counts"]
    assert counts["world_size"] == 1 and counts["gradient_accumulation"] == 2
    _assert_same_weights(reference, _weights(recipe))
