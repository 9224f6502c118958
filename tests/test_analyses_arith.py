"""The offline ``arith`` teacher and the ``arith_en``/``arith_ja`` benchmarks the quickstart study uses."""

from __future__ import annotations

import json

import pytest

from jre.plugin_manager import get_plugins
from jre.plugins.benchmarks.arith import extract_number
from jre.plugins.teachers.arith import make_problem, question, split_of, write_seed_file


def _evaluate(problem):
    value = problem["start"]
    for op, n in problem["steps"]:
        value = value + n if op == "+" else value - n if op == "-" else value * n
    return value


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_triples_are_correct_in_both_styles(tmp_path, lang):
    teacher = get_plugins().get("teacher", "arith")
    concise = teacher.settings(teacher.parse_config({}))
    verbose = teacher.settings(teacher.parse_config({"reasoning_effort": "high"}))
    assert (concise.style, verbose.style) == ("concise", "verbose")
    assert concise.identity() != verbose.identity()
    seeds = write_seed_file(tmp_path / "seeds.jsonl", 30, lang)
    for line in seeds.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        problem = json.loads(row["problem"])
        assert problem["answer"] == _evaluate(problem) == row["answer"] > 0
        short, long = teacher.replay(concise, row["problem"]), teacher.replay(verbose, row["problem"])
        for gen in (short, long):
            assert gen.think_closed and gen.text.startswith("<think>\n")
            assert extract_number(gen.content) == problem["answer"]
            assert extract_number(gen.reasoning) == problem["answer"]
        assert len(long.reasoning) > 1.5 * len(short.reasoning)
        assert "double-check" in long.reasoning and "double-check" not in short.reasoning
        if lang == "ja":
            assert "答え" in short.content and "個" in row["question"]
    assert teacher.replay(concise, None) is None


def test_trace_language_can_follow_the_instruction():
    teacher = get_plugins().get("teacher", "arith")
    settings = teacher.settings(teacher.parse_config({"trace_lang": "same", "style": "verbose"}))
    problem = make_problem(0, "ja")
    gen = teacher.replay(settings, json.dumps(problem, ensure_ascii=False))
    assert "確認" in gen.reasoning


def test_benchmark_items_are_held_out_and_scored():
    train = {question(make_problem(i, "en", "train")) for i in range(500)}
    bench = get_plugins().get("benchmark", "arith_en")
    config = bench.parse_config({"count": 50})
    data = bench.load(config)
    assert len(data.items) == 50 and data.source["split"] == "test"
    assert not train & {item.data["question"] for item in data.items}
    item = data.items[0]
    gold = item.data["answer"]
    assert bench.score(bench.extract(f"So... Answer: {gold}", item, config), item, config) == 1.0
    assert bench.score(bench.extract(f"Answer: {gold + 1}", item, config), item, config) == 0.0
    assert bench.score(bench.extract("no idea", item, config), item, config) == 0.0
    ja = get_plugins().get("benchmark", "arith_ja")
    jitem = ja.load(ja.parse_config({"count": 2})).items[1]
    assert extract_number(f"答え：{jitem.data['answer']}") == jitem.data["answer"]  # full-width colon
    assert extract_number("答えは４２です") == 42


def test_split_follows_the_arithmetic_not_the_start_and_steps_set_the_difficulty():
    train = [make_problem(i, "en", "train") for i in range(300)]
    test = [make_problem(i, "ja", "test") for i in range(100)]
    assert {p["start"] % 2 for p in train} == {0, 1} == {p["start"] % 2 for p in test}
    assert all(split_of(p["start"], p["steps"]) == "train" for p in train)
    assert all(split_of(p["start"], p["steps"]) == "test" for p in test)
    # Held out across languages too: no English training problem has a test problem's arithmetic.
    assert not {json.dumps([p["start"], p["steps"]]) for p in train} & {
        json.dumps([p["start"], p["steps"]]) for p in test}
    bench = get_plugins().get("benchmark", "arith_en")
    one_step = bench.load(bench.parse_config({"count": 20, "steps": [1, 1]}))
    problems = [make_problem(i, "en", "test", (1, 1)) for i in range(20)]
    assert [item.data["answer"] for item in one_step.items] == [_evaluate(p) for p in problems]
    assert all(len(p["steps"]) == 1 for p in problems)
    assert one_step.source["revision"] == "generated:20:steps1-1"
    with pytest.raises(Exception, match="steps"):
        bench.parse_config({"steps": [3, 2]})


def test_tiny_tokenizer_can_split_digits():
    from jre.tiny import train_tokenizer

    corpus = ["Answer: 1234 and 5678."] * 50
    split = train_tokenizer(corpus, 300, split_digits=True)
    merged = train_tokenizer(corpus, 300)
    assert [t for t in split.tokenize("x 1234") if t.strip("Ġ")] == ["x", "1", "2", "3", "4"]
    assert split.decode(split.encode("Answer: 1234")) == "Answer: 1234"
    assert len(merged.tokenize("1234")) < 4


def _column_value(expr: str) -> int:
    """A column's left side, e.g. ``12 - 7 - 1`` or ``2 × 3 + 2``, left to right (the only
    product comes first, so that is also the usual precedence)."""
    tokens = expr.split()
    value = int(tokens[0])
    for op, n in zip(tokens[1::2], tokens[2::2]):
        value = value + int(n) if op == "+" else value - int(n) if op == "-" else value * int(n)
    return value


@pytest.mark.parametrize("op", ["+", "-", "*"])
def test_column_work_is_true_digit_by_digit_and_rebuilds_the_result(op):
    from jre.plugins.teachers.arith import columns

    for value in range(1, 400):
        for n in ((2, 3) if op == "*" else range(1, value) if op == "-" else range(1, 40)):
            result = value + n if op == "+" else value - n if op == "-" else value * n
            parts = columns(value, op, n)
            assert len(parts) == (len(str(value)) if op == "*" else max(len(str(value)), len(str(n))))
            digits = []
            for i, part in enumerate(parts):
                left, right = part.split(" = ")
                assert _column_value(left) == int(right), part
                digits.append(right)
                if op != "-":  # a sum or product column's digits are the operands' digits
                    assert left.split()[0] == str((value // 10 ** i) % 10)
            # The result reads off the columns: the top one whole, the others' last digit.
            rebuilt = int(digits[-1] + "".join(d[-1] for d in reversed(digits[:-1])))
            assert rebuilt == result, (value, op, n, parts)


def test_column_work_traces_and_their_identity():
    teacher = get_plugins().get("teacher", "arith")
    plain = teacher.settings(teacher.parse_config({}))
    worked = teacher.settings(teacher.parse_config({"column_work": True}))
    assert plain.identity() != worked.identity() and "column_work" not in plain.identity()
    problem = {"lang": "en", "name": 0, "thing": 0, "start": 18, "steps": [["+", 15], ["-", 9], ["*", 3]],
               "answer": 72, "id": "x"}
    gen = teacher.replay(worked, json.dumps(problem))
    assert gen.reasoning.splitlines() == [
        "Start with 18.",
        "First, 18 + 15: 8 + 5 = 13, 1 + 1 + 1 = 3, so 33.",
        "Then 33 - 9: 13 - 9 = 4, 3 - 0 - 1 = 2, so 24.",
        "Finally, 24 × 3: 4 × 3 = 12, 2 × 3 + 1 = 7, so 72.",
        "Answer: 72."]
    assert teacher.replay(plain, json.dumps(problem)).reasoning.splitlines()[1] == "18 + 15 = 33."
    ja = teacher.settings(teacher.parse_config({"column_work": True, "trace_lang": "same", "style": "verbose"}))
    text = teacher.replay(ja, json.dumps({**problem, "lang": "ja"}, ensure_ascii=False)).reasoning
    assert "まず、18 + 15: 8 + 5 = 13、1 + 1 + 1 = 3、よって33。" in text and "確認: 33 - 15 = 18。" in text
    # The step's opening word is the one its sentence in the question opens with.
    assert question({**problem, "lang": "ja"}).split("。")[1:4] == [
        "まず、15個もらいます", "次に、9個を友だちにあげます", "最後に、持っているビー玉の数が3倍になります"]
    assert question(problem) == ("Ken has 18 marbles. First, Ken gets 15 more. Then Ken gives 9 away. "
                                 "Finally, the number of marbles becomes 3 times as large. "
                                 "How many marbles does Ken have now?")


def test_max_operand_keeps_added_and_given_numbers_one_digit(tmp_path):
    capped = [make_problem(i, "en", "train", (2, 3), max_operand=9) for i in range(300)]
    assert all(n <= 9 for p in capped for op, n in p["steps"] if op in "+-")
    assert all(p["answer"] == _evaluate(p) > 0 for p in capped)
    # The default ranges are untouched (the seeds and held-out questions of earlier runs stay).
    assert any(n > 9 for i in range(100) for op, n in make_problem(i, "en")["steps"] if op in "+-")
    bench = get_plugins().get("benchmark", "arith_en")
    data = bench.load(bench.parse_config({"count": 30, "max_operand": 9}))
    assert data.source["revision"] == "generated:30:max9"
    assert [item.data["question"] for item in data.items] == [
        question(make_problem(i, "en", "test", (2, 3), 9)) for i in range(30)]
    with pytest.raises(ValueError):
        bench.parse_config({"max_operand": 1})
    # A .gz seed file is the same bytes every time and reads back as the plain one.
    import gzip

    first, again = (write_seed_file(tmp_path / f"{k}.jsonl.gz", 20, "ja", max_operand=9) for k in "ab")
    plain = write_seed_file(tmp_path / "c.jsonl", 20, "ja", max_operand=9)
    assert first.read_bytes() == again.read_bytes()
    assert gzip.decompress(first.read_bytes()) == plain.read_bytes()
