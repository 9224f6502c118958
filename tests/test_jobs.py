"""``jre jobs``: SLURM and PBS scripts as text, checked by ``bash -n``, and the synthesis
array + merge scripts run for real (by hand, as a scheduler would run each task)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import run_jre

FIXTURES = Path(__file__).parent / "fixtures" / "synth"
JRE = str(Path(sys.executable).parent / "jre")


def _recipe(tmp_path: Path, *, train: bool = True) -> Path:
    recipe = tmp_path / "study.toml"
    text = f"""schema_version = 1
name = "cluster"
run_dir = "run"
[synth.datasets.replayed]
teacher = {{ name = "replay", label = "r1" }}
seeds = {{ loader = "nemotron", path = "{FIXTURES / 'nemotron'}" }}
[mix]
dedupe = "none"
[[mix.components]]
name = "r"
count = 8
source = "replayed"
"""
    if train:
        text += """[train]
base_model = "Qwen/Qwen3-8B-Base"
[train.deepspeed]
stage = 3
[eval]
benchmarks = ["arith_en"]
[eval.engine]
name = "vllm"
tensor_parallel_size = 4
"""
    recipe.write_text(text, encoding="utf-8")
    return recipe


def _jobs(tmp_path: Path, recipe: Path, scheduler: str, *extra: str) -> dict[str, str]:
    out = tmp_path / f"jobs-{scheduler}"
    result = run_jre("jobs", str(recipe), "--scheduler", scheduler, "--out", str(out), *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = {p.name: p.read_text() for p in sorted(out.iterdir())}
    for name in files:
        check = subprocess.run(["bash", "-n", str(out / name)], capture_output=True, text=True)
        assert check.returncode == 0, f"{name}: {check.stderr}"
    return files


def test_slurm_scripts_for_synth_train_and_eval(tmp_path):
    recipe = _recipe(tmp_path)
    files = _jobs(tmp_path, recipe, "slurm", "--shards", "8", "--replicas-per-node", "4", "--gpus-per-replica",
                  "2", "--nodes", "4", "--gpus-per-node", "8", "--eval-gpus", "4", "--queue", "gpu",
                  "--setup", "source .venv/bin/activate", "--directive", "--exclusive")
    assert set(files) == {"synth.sbatch", "synth-merge.sbatch", "train.sbatch", "eval.sbatch", "submit.sh"}
    synth = files["synth.sbatch"]
    assert "#SBATCH --array=0-1" in synth and "#SBATCH --gpus-per-node=8" in synth
    assert "#SBATCH --partition=gpu" in synth and "#SBATCH --exclusive" in synth
    assert 'TASK="${SLURM_ARRAY_TASK_ID:-0}"' in synth and f'synth {recipe} --shard "$shard/$SHARDS"' in synth
    assert "CUDA_VISIBLE_DEVICES=$(seq -s, $((r * 2)) $((r * 2 + 1)))" in synth
    assert f"cd {tmp_path}\nsource .venv/bin/activate\n" in synth
    merge = files["synth-merge.sbatch"]
    assert f'"$JRE" synth {recipe}\n"$JRE" mix {recipe}\n' in merge and "--gpus" not in merge
    train = files["train.sbatch"]
    assert "#SBATCH --nodes=4" in train and "#SBATCH --ntasks-per-node=1" in train
    assert "torchrun --nnodes=4 --nproc_per_node=8 --rdzv_backend=c10d" in train
    assert f'--rdzv_endpoint="$MASTER_ADDR:$MASTER_PORT" --rdzv_id="$JOB_ID" -m jre.lib.train.worker {recipe}' in train
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in train and "srun --kill-on-bad-exit=1" in train
    assert "#SBATCH --gpus-per-node=4" in files["eval.sbatch"] and f'"$JRE" eval {recipe}' in files["eval.sbatch"]
    submit = files["submit.sh"].splitlines()
    order = [line.split()[-1].rstrip(")") for line in submit if line.startswith("prev=$(sbatch")]
    assert order == ["synth.sbatch", "synth-merge.sbatch", "train.sbatch", "eval.sbatch"]
    assert all("--dependency=afterok:$prev" in line for line in submit if line.startswith("prev=$(sbatch"))


def test_pbs_scripts_for_synth_train_and_eval(tmp_path):
    recipe = _recipe(tmp_path)
    files = _jobs(tmp_path, recipe, "pbs", "--shards", "4", "--nodes", "2", "--gpus-per-node", "8",
                  "--queue", "rt_HF", "--directive", "-P gXX00", "--setup", "module load cuda")
    assert set(files) == {"synth.pbs", "synth-merge.pbs", "train.pbs", "eval.pbs", "submit.sh"}
    synth = files["synth.pbs"]
    assert "#PBS -J 0-3" in synth and "#PBS -l select=1:mpiprocs=1:ngpus=1" in synth
    assert "#PBS -q rt_HF" in synth and "#PBS -P gXX00" in synth
    assert 'TASK="${PBS_ARRAY_INDEX:-0}"' in synth
    train = files["train.pbs"]
    assert "#PBS -l select=2:mpiprocs=1:ngpus=8" in train and 'sort -u "$PBS_NODEFILE"' in train
    assert "pbs_tmrsh" in train and "module load cuda; exec torchrun --nnodes=2 --nproc_per_node=8" in train
    assert "afterokarray" in files["submit.sh"] and "qsub" in files["submit.sh"]


def test_one_shard_is_no_pbs_array_and_bad_counts_are_one_line(tmp_path):
    recipe = _recipe(tmp_path, train=False)
    files = _jobs(tmp_path, recipe, "pbs")
    assert "#PBS -J" not in files["synth.pbs"] and set(files) == {"synth.pbs", "synth-merge.pbs", "submit.sh"}
    bad = run_jre("jobs", str(recipe), "--scheduler", "slurm", "--shards", "6", "--replicas-per-node", "4",
                  cwd=tmp_path)
    assert bad.returncode == 2 and "not a multiple" in bad.stderr.strip().splitlines()[-1]
    assert "Traceback" not in bad.stderr


def test_synth_array_tasks_and_merge_run_for_real(tmp_path):
    """Each array task and then the merge job, run with bash as the scheduler would."""
    recipe = _recipe(tmp_path, train=False)
    out = tmp_path / "jobs-slurm"
    assert run_jre("jobs", str(recipe), "--scheduler", "slurm", "--out", str(out), "--shards", "4",
                   "--replicas-per-node", "2", "--gpus-per-replica", "0", cwd=tmp_path).returncode == 0
    env = {**os.environ, "JRE": JRE}
    for task in ("0", "1"):
        done = subprocess.run(["bash", str(out / "synth.sbatch")], env={**env, "SLURM_ARRAY_TASK_ID": task},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    synth = tmp_path / "run" / "synth" / "replayed"
    workers = sorted(p.name for p in (synth / "shards").iterdir())
    assert workers == [f"worker-{i:03d}-of-004.jsonl" for i in range(4)]
    parts = [json.loads((synth / f"part-{i:03d}-of-004" / "manifest.json").read_text()) for i in range(4)]
    assert all(p["status"] == "complete" for p in parts)
    per_worker = [len((synth / "shards" / w).read_text().splitlines()) for w in workers]
    assert all(n > 0 for n in per_worker)
    assert not (synth / "manifest.json").exists()  # no dataset manifest before the merge

    merged = subprocess.run(["bash", str(out / "synth-merge.sbatch")], env=env, capture_output=True, text=True,
                            timeout=300)
    assert merged.returncode == 0, merged.stderr[-2000:]
    manifest = json.loads((synth / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["triples"] == sum(per_worker) == 32
    assert "0 to do" in merged.stderr  # the merge generated nothing
    assert json.loads((tmp_path / "run" / "mix" / "manifest.json").read_text())["status"] == "complete"


def test_cluster_docs_recipe_fragment_is_a_valid_recipe(tmp_path):
    """docs/cluster.md's endpoint-pool table checks as part of a recipe."""
    import re

    from jre.recipe import load_recipe

    docs = (Path(__file__).resolve().parents[1] / "docs" / "cluster.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", docs, re.S)
    assert blocks
    for i, block in enumerate(blocks):
        recipe = tmp_path / f"cluster{i}.toml"
        recipe.write_text(f'schema_version = 1\nname = "cluster"\n{block}', encoding="utf-8")
        loaded = load_recipe(recipe)
        engine = loaded.synth.datasets["stem_oss_h"].engine
        assert engine.name == "openai" and len(engine.config.base_urls) == 3


def test_scripts_are_printed_without_out(tmp_path):
    recipe = _recipe(tmp_path, train=False)
    result = run_jre("jobs", str(recipe), "--scheduler", "slurm", "--shards", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    heads = [line for line in result.stdout.splitlines() if line.startswith("# ---- ")]
    assert heads == ["# ---- synth.sbatch ----", "# ---- synth-merge.sbatch ----", "# ---- submit.sh ----"]
    assert "#SBATCH --array=0-1" in result.stdout and not (tmp_path / "jobs-slurm").exists()
