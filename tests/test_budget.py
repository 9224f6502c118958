"""The ``budget`` analysis against real reruns: one greedy evaluation of the tiny model at
``max_tokens = M`` cut at smaller budgets must give exactly the failure rate and score of
evaluating again with ``max_tokens`` set to each budget."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402

MAX_TOKENS = 24
BUDGETS = [2, 4, 8, 16]


def _scaled(tiny_model: Path, out: Path, scale: float) -> Path:
    """The tiny model with ``</think>``'s embedding scaled by ``scale``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    shutil.copytree(tiny_model, out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    close_id = tokenizer.convert_tokens_to_ids("</think>")
    embeddings: Any = model.get_input_embeddings()
    with torch.no_grad():
        embeddings.weight[close_id] *= scale
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def closing_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny model with ``</think>``'s embedding scaled up, so greedy decoding closes the
    trace at positions that vary with the prompt (a random model almost never does), and its
    run evaluated at ``MAX_TOKENS``. Where traces close depends on the prompts, so the first
    scale whose closes spread over the budgets (three or more distinct failure rates, some
    trace never closed) is used."""
    root = tmp_path_factory.mktemp("closing")
    for i, scale in enumerate((4.0, 3.5, 4.5, 3.75, 4.25, 3.25, 5.0, 3.0, 6.0)):
        model = _scaled(tiny_model, root / f"model-{i}", scale)
        run = _evaluate(root / f"full-{i}", model, MAX_TOKENS)
        closes = [r["think_close_tokens"] for r in evalkit.details(run.parent, "arith_en")]
        rates = {sum(c is None or c > b for c in closes) for b in [*BUDGETS, MAX_TOKENS]}
        if None in closes and len(rates) >= 3:
            return model, run
    pytest.fail("no scale of </think>'s embedding makes the tiny model close its traces at varied positions")


def _evaluate(folder: Path, model: Path, max_tokens: int) -> Path:
    folder.mkdir(parents=True)
    recipe = evalkit.write_recipe(
        folder, [{"name": "arith_en", "count": 12}],
        {"name": "hf", "device": "cpu", "batch_size": 16, "model": str(model), "prefilled_think": True}, bootstrap=0,
        extra=f"sampling = {{max_tokens = {max_tokens}, temperature = 0.0}}")
    evalkit.run_eval(recipe)
    shutil.copyfile(recipe, folder / "run" / "recipe.toml")  # as `jre run` leaves it
    return folder / "run"


def test_budget_curve_equals_reruns(tmp_path: Path, closing_model: tuple[Path, Path]) -> None:
    from jre.plugin_manager import get_plugins
    from jre.stages.analyze import gather_inputs

    model, full = closing_model
    analysis = get_plugins().get("analysis", "budget")
    config = analysis.config_model(budgets=BUDGETS)
    out = analysis.run(config, gather_inputs({"full": full}))
    table = out.tables["budget"]
    print(table.to_string())
    # The curve is not flat: traces close at different positions.
    assert table["failure_rate"].nunique() >= 3
    closes = [r["think_close_tokens"] for r in evalkit.details(full.parent, "arith_en")]
    assert None in closes and len({c for c in closes if c is not None}) >= 3
    assert sorted(set(table["budget"])) == BUDGETS + [MAX_TOKENS]
    assert "budget" in out.figures and out.figures["budget"].startswith(b"\x89PNG")
    for budget in BUDGETS:
        rerun = _evaluate(tmp_path / f"b{budget}", model, budget)
        res = evalkit.results(rerun.parent, "arith_en")
        row = table[table["budget"] == budget].iloc[0]
        assert (row["failure_rate"], row["score"]) == (res["failure_rate"], res["score"]), budget
        # The engine's recorded close positions alone tell the same failure rate.
        from_positions = sum(c is None or c > budget for c in closes) / len(closes)
        assert from_positions == res["failure_rate"], budget
