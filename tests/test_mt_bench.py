"""MT-Bench end to end: two-turn generation and an LLM judge, both through the real
OpenAI-compatible engine against the loopback server, with scripted judge replies (valid,
FastChat's fallback form, without a rating, out of range)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))
sys.path.insert(0, str(Path(__file__).parent))

import evalkit  # noqa: E402

from jre.errors import UserError  # noqa: E402
from jre.judge import parse_rating  # noqa: E402
from openai_server import ServerProcess  # noqa: E402

MT = FIXTURES / "mt_bench"


@pytest.fixture(scope="module")
def server():
    with ServerProcess(models="model,judge", hang=5) as s:
        yield s


def scripted_questions(folder: Path, lang: str, directives: dict[int, list[str]]) -> Path:
    """The fixture questions with a directive line put before each turn's text."""
    rows = [json.loads(line) for line in (MT / f"question_{lang}.jsonl").read_text().splitlines()]
    for row in rows:
        extra = directives.get(row["question_id"], [])
        row["turns"] = [f"{extra[i]}\n{t}" if i < len(extra) and extra[i] else t
                        for i, t in enumerate(row["turns"])]
    path = folder / f"question_{lang}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def engine(server: ServerProcess, model: str = "model") -> dict:
    return {"name": "openai", "model": model, "base_url": server.base_url, "max_retries": 2,
            "backoff_base": 0.01, "timeout": 5}


def bench(name: str, questions: Path, server: ServerProcess, **extra) -> dict:
    lang = name.rsplit("_", 1)[1]
    return {"name": name, "path": str(questions), "reference_path": str(MT / f"reference_{lang}.jsonl"),
            "judge": engine(server, "judge"), "n": 1, "max_tokens": 64, **extra}


def judgments(folder: Path, name: str) -> list[dict]:
    path = folder / "run" / "eval" / name / "judgments.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rating_parse_follows_fastchat_and_rejects_out_of_range():
    assert parse_rating("Good.\nRating: [[8]]") == 8.0
    assert parse_rating("評価：[[7.5]]") == 7.5
    assert parse_rating("Rating: [6]") == 6.0  # FastChat's fallback pattern
    assert parse_rating("no rating at all") is None
    assert parse_rating("Rating: [[11]]") is None and parse_rating("Rating: [[0]]") is None
    assert parse_rating(None) is None


def test_two_turns_judge_retries_failures_and_categories(tmp_path: Path, server) -> None:
    questions = scripted_questions(tmp_path, "en", {
        81: ["@judge:r8", "@judge:none+r6"],              # turn 2: one retry, then 6
        111: ["@fmt:truncated @judge:r4", "@judge:f9"],   # unclosed turn 1; fallback form
        121: ["@judge:none", "@judge:r11"],               # never valid: two judge failures
    })
    recipe = evalkit.write_recipe(tmp_path, [bench("mt_bench_en", questions, server)], engine(server))
    before = server.stats()
    evalkit.run_eval(recipe)
    asked = server.stats()["judge"] - before["judge"]
    res = evalkit.results(tmp_path, "mt_bench_en")

    # Second turn: the first answer goes back without its trace; the unclosed one as its trace.
    details = {r["item_id"]: r for r in evalkit.details(tmp_path, "mt_bench_en") if "/turn" not in r["id"]}
    history = details["81"]["turns"][1]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[1]["content"] == details["81"]["turns"][0]["content"]
    assert history[1]["content"].startswith("The answer to") and "<think>" not in history[1]["content"]
    assert "Let me think" not in history[1]["content"]
    assert history[2]["content"].endswith("every line starts with the letter L.")
    unclosed = details["111"]["turns"][1]["messages"][1]["content"]
    assert unclosed.startswith("Let me think about:") and "</think>" not in unclosed

    # Judge: the right FastChat prompts, the references for math/coding, retries, failures.
    by_key = {j["key"]: j for j in judgments(tmp_path, "mt_bench_en")}
    assert len(by_key) == 6
    assert by_key["81#0/turn1"]["prompt"] == "single-v1" and by_key["81#0/turn1"]["rating"] == 8
    assert by_key["81#0/turn2"]["prompt"] == "single-v1-multi-turn"
    assert by_key["81#0/turn2"]["rating"] == 6 and len(by_key["81#0/turn2"]["replies"]) == 2
    math2 = by_key["111#0/turn2"]
    assert math2["prompt"] == "single-math-v1-multi-turn" and math2["rating"] == 9
    assert "160 square cm" in math2["messages"][1]["content"]  # reference answer, turn 2
    assert "### Assistant A:\nThe answer to" in math2["messages"][1]["content"]
    for turn in (1, 2):
        failed = by_key[f"121#0/turn{turn}"]
        assert failed["rating"] is None and failed["failed"] and len(failed["replies"]) == 3
    assert asked == 1 + 2 + 1 + 1 + 3 + 3  # 81: 1+2, 111: 1+1, 121: 3+3 (retries 2)

    judge = res["judge"]
    assert judge["failures"] == 2 and judge["judgments"] == 6 and judge["engine"]["model"] == "judge"
    assert len(judge["prompts_sha256"]) == 64
    # Failures are left out, not 0: writing (8+6)/2, math (4+9)/2; coding has no valid rating.
    assert res["scores_by_category"] == {"math": pytest.approx(0.65), "writing": pytest.approx(0.7)}
    assert res["score"] == pytest.approx((0.7 + 0.65) / 2)
    assert res["n_items_scored"] == 2 and res["n_items"] == 3
    assert res["failure_rate"] == pytest.approx(1 / 3)          # one conversation of three
    assert res["failure_rate_per_turn"] == pytest.approx(1 / 6)  # one turn of six
    assert res["dataset"]["references"]["sha256"]


def test_a_rerun_asks_the_judge_only_for_missing_judgments(tmp_path: Path, server) -> None:
    questions = scripted_questions(tmp_path, "ja", {71: ["@judge:r7", "@judge:r5"],
                                                    31: ["@judge:r10", "@judge:r3"]})
    entry = bench("mt_bench_ja", questions, server, n=2)
    recipe = evalkit.write_recipe(tmp_path, [entry], engine(server))
    evalkit.run_eval(recipe)
    out = tmp_path / "run" / "eval" / "mt_bench_ja"
    first = evalkit.results(tmp_path, "mt_bench_ja")
    assert first["n_samples"] == 4 and first["judge"]["judgments"] == 8
    assert first["scores_by_category"] == {"math": pytest.approx(0.65), "writing": pytest.approx(0.6)}
    ja_math = next(j for j in judgments(tmp_path, "mt_bench_ja") if j["key"] == "31#1/turn2")
    assert "836" in ja_math["messages"][1]["content"]  # a numeric reference turn, as text

    # As if killed while judging: three judgments lost, results not written yet.
    lines = (out / "judgments.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (out / "judgments.jsonl").write_text("".join(lines[:5]), encoding="utf-8")
    (out / "results.json").unlink()
    before = server.stats()
    evalkit.run_eval(recipe)
    after = server.stats()
    assert after["judge"] - before["judge"] == 3
    assert after["requests"] - before["requests"] == 3  # no generation asked again
    assert evalkit.results(tmp_path, "mt_bench_ja")["score"] == pytest.approx(first["score"])

    # Another judge setting keeps the generations and asks the judge again.
    entry["judge_retries"] = 0
    evalkit.run_eval(evalkit.write_recipe(tmp_path, [entry], engine(server)))
    final = server.stats()
    assert final["judge"] - after["judge"] == 8 and final["requests"] - after["requests"] == 8

    # How the judge is reached (concurrency, time-outs) does not change its judgments.
    entry["judge"]["concurrency"] = 3
    evalkit.run_eval(evalkit.write_recipe(tmp_path, [entry], engine(server)))
    assert server.stats()["requests"] == final["requests"]
    judge = evalkit.results(tmp_path, "mt_bench_ja")["judge"]
    assert judge["engine_config"]["concurrency"] == 3 and "concurrency" not in judge["engine"]
    assert judge["engine_config"]["base_url"] == server.base_url


def test_missing_question_file_or_reference_is_one_clear_error(tmp_path: Path, server) -> None:
    from jre.plugin_manager import get_plugins

    bench_ja = get_plugins().get("benchmark", "mt_bench_ja")
    with pytest.raises(UserError, match="question_full.jsonl"):
        bench_ja.load(bench_ja.parse_config({}))
    cfg = bench_ja.parse_config({"path": str(MT / "question_ja.jsonl")})
    with pytest.raises(UserError, match="question 31 .math. needs a reference answer"):
        bench_ja.load(cfg)
    only_first_turn = tmp_path / "judge_ja_prompts.jsonl"
    only_first_turn.write_text("".join(line + "\n" for line in (
        Path(__file__).parents[1] / "plugins" / "benchmarks" / "data" / "mt_bench_judge_prompts.jsonl"
    ).read_text().splitlines() if "multi-turn" not in line))
    cfg = bench_ja.parse_config({"path": str(MT / "question_ja.jsonl"), "judge_prompts": str(only_first_turn)})
    with pytest.raises(UserError, match="lack single-v1-multi-turn, single-math-v1-multi-turn"):
        bench_ja.load(cfg)
    with pytest.raises(Exception, match="nope"):
        bench_ja.parse_config({"judge": {"name": "nope"}})


def test_rubric_judge_rates_final_numbers_against_the_reference() -> None:
    """The offline stand-in judge reads the real FastChat prompts (English and Japanese)."""
    from jre.judge import JudgePrompt, judge_messages, load_judge_prompts
    from jre.plugins.benchmarks.mt_bench import BUNDLED_PROMPTS
    from jre.plugins.engines.rubric_judge import RubricJudgeConfig, rate

    prompts = load_judge_prompts(BUNDLED_PROMPTS)
    cfg = RubricJudgeConfig()
    math = judge_messages(prompts["single-math-v1"], question="3+4?", ref_answer_1="It is 7.",
                          answer="3 + 4 = 7")[1]["content"]
    assert rate(math, cfg)[0] == 10
    wrong = judge_messages(prompts["single-math-v1-multi-turn"], question_1="3+4?", question_2="times 2?",
                           ref_answer_1="7", ref_answer_2="14", answer_1="7", answer_2="It is 15.")
    assert rate(wrong[1]["content"], cfg)[0] == 2  # turn 2 judged against reference turn 2
    right = judge_messages(prompts["single-math-v1-multi-turn"], question_1="3+4?", question_2="times 2?",
                           ref_answer_1="7", ref_answer_2="14", answer_1="8", answer_2="１４")
    assert rate(right[1]["content"], cfg)[0] == 10  # full-width digits, the second answer only
    plain = judge_messages(prompts["single-v1"], question="A poem?", answer="Roses.")[1]["content"]
    assert rate(plain, cfg)[0] == 5
    empty = judge_messages(prompts["single-v1-multi-turn"], question_1="a", question_2="b",
                           answer_1="x", answer_2="")[1]["content"]
    assert rate(empty, cfg)[0] == 1
    ja = JudgePrompt("single-math-v1", "あなたは有益な助手です。",
                     "[質問]\n{question}\n\n[参考回答の開始]\n{ref_answer_1}\n[参考回答の終了]\n\n"
                     "[アシスタントの回答の開始]\n{answer}\n[アシスタントの回答の終了]")
    ja_math = judge_messages(ja, question="120×3は？", ref_answer_1="360円", answer="答えは360円です。")
    assert rate(ja_math[1]["content"], cfg)[0] == 10


def test_rejected_requests_leave_the_benchmark_incomplete_and_a_rerun_finishes_it(
        tmp_path: Path, server) -> None:
    """A rejected second turn, then a rejected judge request (each once): each run ends with
    one clear error naming what is missing; the next asks only for that."""
    from jre.stages.eval import IncompleteBenchmark

    questions = scripted_questions(tmp_path, "en", {81: ["@judge:r8", "@judge:r6 @fault:400"],
                                                    111: ["@judge:r4", "@judge:r9"],
                                                    121: ["@judge:r3", "@judge:r5"]})
    recipe = evalkit.write_recipe(tmp_path, [bench("mt_bench_en", questions, server)], engine(server))
    with pytest.raises(IncompleteBenchmark, match=r"1 of 3 samples missing.*maximum context length"):
        evalkit.run_eval(recipe)
    assert not (tmp_path / "run" / "eval" / "mt_bench_en" / "results.json").exists()
    before = server.stats()
    with pytest.raises(IncompleteBenchmark, match=r"1 of 6 judgments missing.*openai"):
        evalkit.run_eval(recipe)  # the second turn now comes; its judge request is rejected
    middle = server.stats()
    assert middle["requests"] - before["requests"] == 1 + 6  # one model turn, six judge requests
    evalkit.run_eval(recipe)
    after = server.stats()
    assert after["judge"] - middle["judge"] == 1 and after["requests"] - middle["requests"] == 1
    res = evalkit.results(tmp_path, "mt_bench_en")
    assert res["judge"]["failures"] == 0 and res["score"] == pytest.approx((0.7 + 0.65 + 0.4) / 3)


def test_killed_while_judging_a_rerun_asks_only_for_unwritten_judgments(tmp_path: Path) -> None:
    """A real SIGKILL of `jre eval` in the middle of judging (judge requests one at a time)."""
    import os
    import signal
    import subprocess
    import time

    with ServerProcess(models="model,judge", latency=0.3, hang=5) as slow:
        questions = scripted_questions(tmp_path, "en", {81: ["@judge:r8", "@judge:r6"],
                                                        111: ["@judge:r4", "@judge:r9"],
                                                        121: ["@judge:r3", "@judge:r5"]})
        entry = bench("mt_bench_en", questions, slow)
        entry["judge"]["concurrency"] = 1
        recipe = evalkit.write_recipe(tmp_path, [entry], engine(slow))
        out = tmp_path / "run" / "eval" / "mt_bench_en" / "judgments.jsonl"
        proc = subprocess.Popen([sys.executable, "-c", "from jre.cli import main; main()",
                                 "eval", str(recipe)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if out.exists() and len(out.read_text().splitlines()) >= 2:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        written = len(out.read_text().splitlines())
        assert 2 <= written < 6
        before = slow.stats()
        while True:  # the request the killed process left in flight still reaches the counters
            time.sleep(0.5)
            before, settled = slow.stats(), before
            if before == settled:
                break
        evalkit.run_eval(recipe)
        after = slow.stats()
    assert after["judge"] - before["judge"] == 6 - written
    assert after["requests"] - before["requests"] == 6 - written  # no generation again
    assert evalkit.results(tmp_path, "mt_bench_en")["judge"]["judgments"] == 6


def test_a_run_stopped_after_the_first_turns_resumes_at_the_second(tmp_path: Path, server) -> None:
    questions = scripted_questions(tmp_path, "en", {81: ["@judge:r8", "@judge:r6"],
                                                    111: ["@judge:r4", "@judge:r9"],
                                                    121: ["@judge:r3", "@judge:r5"]})
    recipe = evalkit.write_recipe(tmp_path, [bench("mt_bench_en", questions, server)], engine(server))
    evalkit.run_eval(recipe)
    out = tmp_path / "run" / "eval" / "mt_bench_en"
    lines = (out / "details.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    first_turns = [line for line in lines if "/turn1" in json.loads(line)["id"]]
    assert len(first_turns) == 3
    (out / "details.jsonl").write_text("".join(first_turns), encoding="utf-8")
    for name in ("judgments.jsonl", "results.json"):
        (out / name).unlink()
    before = server.stats()
    evalkit.run_eval(recipe)
    after = server.stats()
    assert after["requests"] - before["requests"] == 3 + 6  # the second turns, then the judge
    assert evalkit.results(tmp_path, "mt_bench_en")["n_samples"] == 3


def test_dry_run_plan_names_turns_and_judge(tmp_path: Path, server) -> None:
    from jre.plugin_manager import get_plugins
    from jre.recipe import load_recipe
    from jre.stages.eval import STAGE

    entry = bench("mt_bench_ja", MT / "question_ja.jsonl", server)
    del entry["n"]
    plugins = get_plugins()
    recipe = load_recipe(evalkit.write_recipe(tmp_path, [entry], engine(server)), plugins)
    [line] = STAGE.plan(recipe, plugins)
    assert "N=5 T=0.6 top_p=0.95" in line and line.endswith("2 turns, judge openai")
