"""Each built-in benchmark end to end through the eval stage: fixture items in the real
dataset schema, scripted outputs of known correctness, exact expected scores."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402


def engine(script: str, **extra) -> dict:
    return {"name": "scripted", "script": script, "model": "scripted-model", **extra}


def gpqa_letters() -> dict[str, str]:
    """Item id → the letter the prompt shows next to the correct answer (read off the prompt)."""
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "gpqa_ja")
    cfg = bench.parse_config({"path": str(FIXTURES / "gpqa_ja.jsonl")})
    rows = [__import__("json").loads(line) for line in (FIXTURES / "gpqa_ja.jsonl").read_text().splitlines()]
    letters = {}
    for item, row in zip(bench.load(cfg).items, rows):
        prompt = bench.prompt(item, cfg)[0]["content"]
        letters[item.id] = re.search(rf"^([A-D])\) {re.escape(row['Correct Answer'])}$", prompt, re.M).group(1)
    return letters


def test_gpqa_ja_scores_policies_and_failure_rate(tmp_path: Path) -> None:
    gold = gpqa_letters()
    wrong = {k: "ABCD"[("ABCD".index(v) + 1) % 4] for k, v in gold.items()}
    full_width = chr(ord(gold["3"]) + 0xFEE0)  # Ａ-Ｄ
    script = evalkit.write_script(tmp_path, {
        "0": [f"<think>\nエネルギーを考える。\n</think>\n\n回答: {gold['0']}"],
        "1": [f"<think>\n水素結合かな。\n</think>\n\n**Answer:** ({wrong['1']})"],
        "2": [f"<think>\nsp2 混成なので答えは {gold['2']}。回答: {gold['2']}\nいや、もう一度"],  # unclosed
        "3": [f"<think>\n時間の遅れ。\n</think>\n\n答え：{full_width}"],
    })
    log = tmp_path / "log.jsonl"
    benchmarks = [{"name": "gpqa_ja", "path": str(FIXTURES / "gpqa_ja.jsonl")}]
    evalkit.run_eval(evalkit.write_recipe(tmp_path, benchmarks, engine(script, log=str(log))))
    res = evalkit.results(tmp_path, "gpqa_ja")
    assert res["score"] == pytest.approx(0.75)
    assert res["scores_by_policy"] == {"trace": pytest.approx(0.75), "empty": pytest.approx(0.5),
                                       "whole": pytest.approx(0.75)}
    assert res["failure_rate"] == pytest.approx(0.25)
    assert res["n_items"] == 4 and res["n_samples"] == 4
    lo, hi = res["ci95"]
    assert 0.0 <= lo <= 0.75 <= hi <= 1.0
    assert res["sampling"]["temperature"] == 0.6 and res["sampling"]["top_p"] == 0.95
    assert res["dataset"]["revision"].startswith("sha256:")
    assert res["model"] == "scripted-model" and res["engine"]["name"] == "scripted"
    rows = {r["item_id"]: r for r in evalkit.details(tmp_path, "gpqa_ja")}
    assert rows["3"]["answer"] == gold["3"] and rows["3"]["score"] == 1.0
    assert rows["1"]["answer"] == wrong["1"] and rows["1"]["score"] == 0.0
    assert rows["2"]["think_closed"] is False and rows["2"]["content"] is None
    assert rows["2"]["answers_by_policy"] == {"trace": gold["2"], "empty": None, "whole": gold["2"]}
    assert rows["0"]["messages"][0]["role"] == "user"

    # Same samples, other headline policy: rescored from the details, nothing regenerated.
    assert len(log.read_text().splitlines()) == 4
    evalkit.run_eval(evalkit.write_recipe(tmp_path, benchmarks, engine(script, log=str(log)), policy="empty"))
    assert evalkit.results(tmp_path, "gpqa_ja")["score"] == pytest.approx(0.5)
    assert evalkit.results(tmp_path, "gpqa_ja")["answer_policy"] == "empty"
    assert len(log.read_text().splitlines()) == 4


def test_gpqa_choice_order_is_fixed_by_seed() -> None:
    from jre.plugin_manager import get_plugins

    bench = get_plugins().get("benchmark", "gpqa_ja")
    path = str(FIXTURES / "gpqa_ja.jsonl")
    first = [i.data["choices"] for i in bench.load(bench.parse_config({"path": path})).items]
    again = [i.data["choices"] for i in bench.load(bench.parse_config({"path": path})).items]
    other = [i.data["choices"] for i in bench.load(bench.parse_config({"path": path, "shuffle_seed": 7})).items]
    assert first == again
    assert first != other
    # The gold letter is not always A: the correct answer moves.
    assert len({i.data["gold"] for i in bench.load(bench.parse_config({"path": path})).items}) > 1


def test_math100_ja_math_verify_with_samples(tmp_path: Path) -> None:
    script = evalkit.write_script(tmp_path, {
        "0": ["<think>\n1/4+1/4=1/2\n</think>\n\n答えは $\\boxed{\\frac{1}{2}}$ です。",
              "<think>\n足す\n</think>\n\n\\boxed{0.5}"],
        "1": ["<think>\nx=3\n</think>\n\n\\boxed{3}", "<think>\nx=4?\n</think>\n\n最終的な答え: \\boxed{4}"],
        "2": ["<think>\n3+4 を計算すると \\boxed{７} になるが、念のため", "<think>\n考え中"],
    })
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "math100_ja", "path": str(FIXTURES / "math100_ja.jsonl"), "n": 2}], engine(script))
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "math100_ja")
    # Item scores: 2/2, 1/2, and for the unclosed item 1/2 under `trace` (one trace has an answer).
    assert res["scores_by_policy"]["trace"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert res["scores_by_policy"]["empty"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert res["failure_rate"] == pytest.approx(2 / 6)
    assert res["n_samples"] == 6 and res["sampling"]["n"] == 2
    rows = {r["id"]: r for r in evalkit.details(tmp_path, "math100_ja")}
    assert rows["2#0"]["answer"] == "\\boxed{7}"  # NFKC before grading
    assert rows["1#1"]["score"] == 0.0 and rows["1#0"]["score"] == 1.0


def test_jhumaneval_pass_at_k_in_sandbox(tmp_path: Path) -> None:
    fence = "```"
    good = f"{fence}python\ndef add_all(numbers: List[int]) -> int:\n    return sum(numbers)\n{fence}"
    body_only = f"{fence}python\n    return sum(numbers)\n{fence}"
    wrong = f"{fence}python\ndef add_all(numbers):\n    return 0\n{fence}"
    cheat = f"{fence}python\nimport sys\ndef add_all(numbers):\n    sys.exit(0)\n{fence}"
    fake = f"{fence}python\ndef add_all(numbers):\n    print('PASSED'); return -1\n{fence}"
    two_blocks = f"{fence}python\ndef add_all(numbers):\n    return 0\n{fence}\n修正版:\n{good}"
    script = evalkit.write_script(tmp_path, {
        "JHumanEval/0": [f"<think>\n合計\n</think>\n\n{good}", f"<think>\n本体のみ\n</think>\n\n{body_only}",
                         f"<think>\nx\n</think>\n\n{two_blocks}", f"<think>\n{good}\nまだ考え中",  # unclosed
                         wrong, cheat, fake, "<think>\n思考が終わらない", "コードなし", wrong],
        "JHumanEval/1": [f"{fence}python\ndef is_even(n):\n    return n % 2 == 1\n{fence}"],
    })
    recipe = evalkit.write_recipe(
        tmp_path, [{"name": "jhumaneval", "path": str(FIXTURES / "jhumaneval.jsonl"), "workers": 2}],
        engine(script))
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "jhumaneval")
    # Problem 0: 4 of 10 pass under `trace` (the unclosed trace holds the right code), 3 under `empty`.
    assert res["metric"] == "pass@1"
    assert res["metrics"]["pass@1"] == pytest.approx((4 / 10 + 0) / 2)
    assert res["metrics"]["pass@10"] == pytest.approx((1.0 + 0) / 2)
    assert res["scores_by_policy"]["empty"] == pytest.approx((3 / 10 + 0) / 2)
    assert res["failure_rate"] == pytest.approx(2 / 20)
    assert res["sandbox"]["isolation"].startswith("rlimits")
    scores = [r["score"] for r in sorted(evalkit.details(tmp_path, "jhumaneval"), key=lambda r: r["id"])
              if r["item_id"] == "JHumanEval/0"]
    assert scores == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_wmt20_bleu_equals_sacrebleu(tmp_path: Path) -> None:
    import sacrebleu

    en_ja = ["今日はいい天気です。", "私は猫が大好きです。", "会議は明日の10時に始まる。"]
    ja_en = ["It is nice weather today.", "Where is the station?"]
    script = evalkit.write_script(tmp_path, {
        "0": [f"<think>\n天気について\n</think>\n\n日本語: {en_ja[0]}"],
        "1": [f"<think>\n猫\n</think>\n\n{en_ja[1]}"],
        "2": [f"<think>\n会議\n日本語: {en_ja[2]}"],  # unclosed: `trace` takes the labelled line
    })
    recipe = evalkit.write_recipe(tmp_path, [
        {"name": "wmt20_en_ja", "path": str(FIXTURES / "wmt20_en_ja.jsonl")}], engine(script))
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "wmt20_en_ja")
    refs = ["今日は良い天気です。", "私は猫がとても好きです。", "会議は明日の十時に始まります。"]
    expected = sacrebleu.BLEU(tokenize="ja-mecab").corpus_score(en_ja, [refs]).score
    assert res["metric"] == "bleu"
    assert abs(res["score"] - expected) < 1e-9
    assert abs(res["scores_by_policy"]["empty"]
               - sacrebleu.BLEU(tokenize="ja-mecab").corpus_score(en_ja[:2] + [""], [refs]).score) < 1e-9
    assert "tok:ja-mecab-0.996-IPA" in res["signature"] and "nrefs:1" in res["signature"]
    lo, hi = res["ci95"]
    assert lo <= hi

    other = tmp_path / "ja_en"
    other.mkdir()
    script_en = evalkit.write_script(other, {"0": [f"English: {ja_en[0]}"], "1": [ja_en[1]]})
    recipe = evalkit.write_recipe(other, [
        {"name": "wmt20_ja_en", "path": str(FIXTURES / "wmt20_ja_en.jsonl")}], engine(script_en))
    evalkit.run_eval(recipe)
    res = evalkit.results(other, "wmt20_ja_en")
    refs_en = ["The weather is nice today.", "Where is the station?"]
    assert abs(res["score"] - sacrebleu.corpus_bleu(ja_en, [refs_en]).score) < 1e-9
    assert "tok:13a" in res["signature"]
