"""The paper's native multiple-choice and math benchmarks (MMLU-ProX-Ja, MMLU-Pro, JamC-QA,
HellaSwag, GPQA Diamond, MATH-500, AIME) through the eval stage: fixture rows in each
dataset's real schema, scripted outputs of known verdicts, exact expected scores."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def engine(script: str) -> dict:
    return {"name": "scripted", "script": script, "model": "scripted-model"}


def run(tmp_path: Path, name: str, outputs: dict[str, list[str]], **options) -> dict:
    script = evalkit.write_script(tmp_path, outputs)
    entry = {"name": name, "path": str(FIXTURES / f"{name}.jsonl"), **options}
    evalkit.run_eval(evalkit.write_recipe(tmp_path, [entry], engine(script)))
    return evalkit.results(tmp_path, name)


def test_mmlu_prox_ja_ten_options_and_fewer(tmp_path: Path) -> None:
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "mmlu_prox_ja")
    cfg = bench.parse_config({"path": str(FIXTURES / "mmlu_prox_ja.jsonl")})
    items = {i.id: i for i in bench.load(cfg).items}
    assert len(items["70"].data["choices"]) == 10 and len(items["71"].data["choices"]) == 8
    prompt = bench.prompt(items["70"], cfg)[0]["content"]
    assert "J) 価格と同じだけ減る" in prompt and "A, B, C, D, E, F, G, H, I, J" in prompt
    res = run(tmp_path, "mmlu_prox_ja", {
        "70": ["<think>\n弾力的なので収入は増える。\n</think>\n\n回答: C"],
        "71": ["<think>\n100度。回答: D"],                                # unclosed, answer in trace
        "72": ["<think>\n1947年。\n</think>\n\n回答: J"],                 # J is no option here... wrong
    })
    assert res["score"] == pytest.approx(2 / 3) and res["short_name"] == "MPX-Ja"
    assert res["scores_by_policy"]["empty"] == pytest.approx(1 / 3)
    assert res["failure_rate"] == pytest.approx(1 / 3)


def test_mmlu_pro_letters_follow_each_question(tmp_path: Path) -> None:
    res = run(tmp_path, "mmlu_pro", {
        "0": ["<think>\nNitrogen, about 78 %.\n</think>\n\nAnswer: J"],
        "1": ["<think>\n7*8=56\n</think>\n\nAnswer: J"],  # only A-D exist: no answer
    })
    assert res["score"] == pytest.approx(0.5)
    rows = {r["item_id"]: r for r in evalkit.details(tmp_path, "mmlu_pro")}
    assert rows["0"]["answer"] == "J" and rows["1"]["answer"] is None


def test_jamcqa_built_in(tmp_path: Path) -> None:
    res = run(tmp_path, "jamcqa", {
        "jamcqa-test-culture-00001": ["<think>\n令和の前は平成。\n</think>\n\n回答: B"],
        "jamcqa-test-geography-00002": ["<think>\n信濃川。\n</think>\n\n答え：Ｃ"],
        "jamcqa-test-custom-00003": ["<think>\n鬼は外、福は内。\n</think>\n\n回答: B"],
    })
    assert res["score"] == pytest.approx(2 / 3) and res["short_name"] == "JamC"
    assert res["sampling"]["temperature"] == 0.6 and res["sampling"]["n"] == 1


def test_hellaswag_generative_choice(tmp_path: Path) -> None:
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "hellaswag")
    cfg = bench.parse_config({"path": str(FIXTURES / "hellaswag.jsonl")})
    items = {i.id: i for i in bench.load(cfg).items}
    prompt = bench.prompt(items["92"], cfg)[0]["content"]
    assert "[step]" not in prompt and "[substeps]" not in prompt and "[header]" not in prompt
    assert "Home and Garden: How to paint basement stairs" in prompt
    assert "Remove staples left" in prompt  # ctx_b capitalised
    res = run(tmp_path, "hellaswag", {
        "24": ["<think>\nHe pulls up roofing.\n</think>\n\nAnswer: D"],
        "92": ["<think>\nFill holes... or hammer? A or B\n</think>\n\nAnswer: A or B"],  # undecided
    })
    assert res["score"] == pytest.approx(0.5) and res["short_name"] == "HS"


def test_gpqa_diamond_n16_and_seeded_order(tmp_path: Path) -> None:
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "gpqa_diamond")
    cfg = bench.parse_config({"path": str(FIXTURES / "gpqa_diamond.jsonl")})
    items = bench.load(cfg).items
    assert bench.sampling_for(cfg).n == 16
    gold = {}
    for item in items:
        prompt = bench.prompt(item, cfg)[0]["content"]
        correct = [r for r in map(json.loads, (FIXTURES / "gpqa_diamond.jsonl").read_text().splitlines())
                   if r["Record ID"] == item.id][0]["Correct Answer"]
        gold[item.id] = re.search(rf"^([A-D])\) {re.escape(correct)}$", prompt, re.M).group(1)
        assert gold[item.id] == item.data["gold"]
    first = items[0].id
    outputs = {i.id: [f"<think>\nok\n</think>\n\nAnswer: {gold[i.id]}"] for i in items}
    outputs[first] = [f"Answer: {gold[first]}", "Answer: none of them"]  # half of the samples right
    res = run(tmp_path, "gpqa_diamond", outputs, n=2)
    assert res["score"] == pytest.approx((len(items) - 0.5) / len(items))
    assert res["n_samples"] == 2 * len(items) and res["short_name"] == "GPQ"


def test_math500_and_aime_math_verify(tmp_path: Path) -> None:
    res = run(tmp_path, "math500", {
        "test/prealgebra/1.json": ["<think>\n1/2+1/4\n</think>\n\nTherefore, the final answer is: "
                                   "$\\boxed{0.75}$. I hope it is correct"],
        "test/algebra/2.json": ["<think>\n2x=8\n</think>\n\nThe answer is 5."],
    })
    assert res["score"] == pytest.approx(0.5) and res["short_name"] == "M500"
    other = tmp_path / "aime"
    other.mkdir()
    res = run(other, "aime", {"60": ["<think>\n1024 mod 1000\n</think>\n\n\\boxed{24}", "\\boxed{025}"],
                              "0": ["<think>\n2^3 3^2 5: 4*3*2\n</think>\n\n\\boxed{24}", "<think>\nstill"]},
              n=2)
    # 60: 24 right, 025 wrong; 0: 24 right, an unclosed trace with no answer wrong.
    assert res["score"] == pytest.approx(0.5)
    assert res["scores_by_policy"]["empty"] == pytest.approx(0.5)
    assert res["failure_rate"] == pytest.approx(1 / 4) and res["short_name"] == "AIME"


def test_aime_years_are_checked() -> None:
    from jre.errors import UserError
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "aime")
    assert bench.parse_config({}).years == [2024, 2025]
    with pytest.raises(UserError, match="no AIME dataset for 2019"):
        bench.load(bench.parse_config({"years": [2019]}))
