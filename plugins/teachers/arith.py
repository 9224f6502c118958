"""``arith``: an offline teacher of multi-step arithmetic word problems (English and Japanese).

It asks no model: each seed carries its problem as JSON (``{"lang", "name", "start",
"steps": [[op, n], ...]}``, mapped to the seed's ``response`` with ``fields.response``), and
the teacher writes a correct ⟨instruction, trace, response⟩ triple for it. Two trace
styles mirror the reference study's gpt-oss medium vs high (OSS vs OSS-h):

- ``concise`` (``reasoning_effort = "medium"``): one line per step;
- ``verbose`` (``reasoning_effort = "high"``): every step re-checked by its inverse, the
  problem re-read, the whole chain recomputed and the answer restated — longer and more
  repetitive, like OSS-h.

Traces are in English (as gpt-oss's are) unless ``trace_lang = "same"``. With
``column_work = true`` each step is worked digit by digit before its result
(``18 + 15: 8 + 5 = 13, 1 + 1 + 1 = 3, so 33.``): a held-out problem then decomposes into
single-digit facts seen in training, which is what lets a tiny student learn the arithmetic
rather than only the format (without it, it copies the procedure and misses the sums).

The problems come from :func:`make_problem`; :func:`write_seed_file` writes a seed file for
the ``file`` loader, and the ``arith_en`` / ``arith_ja`` benchmarks draw held-out problems
from the same generator (its ``test`` split: problems whose arithmetic hashes into one bucket
in five, which training seeds never use, so no test problem is seen).
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jre import hookimpl
from jre.kinds.base import StrictModel
from jre.kinds.teacher import Teacher, TeacherSettings
from jre.records import Generation, Sampling

NAMES = {"en": ["Ken", "Aya", "Tom", "Mia", "Sam", "Yui"], "ja": ["健", "彩", "翔太", "美咲", "大輝", "結衣"]}
THINGS = {"en": ["marbles", "pens", "stickers", "apples", "coins", "cards"],
          "ja": ["ビー玉", "ペン", "シール", "りんご", "コイン", "カード"]}
SYMBOL = {"+": "+", "-": "-", "*": "×"}
# Each step's sentence opens with a word that says which step it is, so that a worked step in
# the trace can find its sentence by that word (rather than by counting sentences).
ORDINAL = {"en": ["First, ", "Then ", "Finally, ", "After that, ", "Next, "],
           "ja": ["まず、", "次に、", "最後に、", "その後、", "続いて、"]}


def ordinal(lang: str, index: int) -> str:
    """The opening word of step ``index`` (from 0) in ``lang`` (English unless ``ja``)."""
    words = ORDINAL["ja" if lang == "ja" else "en"]
    return words[index % len(words)]


def split_of(start: int, ops: list[list[Any]]) -> Literal["train", "test"]:
    """The split a problem belongs to, fixed by its arithmetic alone (one in five is ``test``),
    so that no test problem is ever a training problem, in either language."""
    digest = hashlib.sha256(json.dumps([start, ops]).encode()).digest()
    return "test" if digest[0] % 5 == 0 else "train"


def make_problem(index: int, lang: Literal["en", "ja"], split: Literal["train", "test"] = "train",
                 steps: tuple[int, int] = (2, 3), max_operand: int | None = None) -> dict[str, Any]:
    """Problem ``index`` of a split, deterministic: drawn until its arithmetic falls in the
    split (:func:`split_of`), so train and test share one distribution of problems.

    ``max_operand`` caps what is added or given away (default: up to 19 added, anything
    below the current count given away); 9 keeps every such number one digit."""
    for attempt in itertools.count():
        rng = random.Random(f"arith:{split}:{lang}:{index}:{attempt}")
        start = rng.randrange(2, 30)
        value, ops = start, []
        for _ in range(rng.randint(*steps)):
            # Keep every intermediate value a small positive integer.
            choices = ["+"] + (["-"] if value > 2 else []) + (["*"] if value < 60 else [])
            op = rng.choice(choices)
            if op == "+":
                n = rng.randint(2, 19 if max_operand is None else max(2, max_operand))
                value += n
            elif op == "-":
                n = rng.randint(1, value - 1 if max_operand is None else min(value - 1, max_operand))
                value -= n
            else:
                n = rng.randint(2, 3)
                value *= n
            ops.append([op, n])
        if split_of(start, ops) == split:
            break
    k = rng.randrange(len(NAMES[lang]))
    return {"lang": lang, "name": k, "thing": rng.randrange(len(THINGS[lang])), "start": start,
            "steps": ops, "answer": value, "id": f"arith-{split}-{lang}-{index}"}


def step_clauses(problem: dict[str, Any]) -> list[str]:
    """The problem's sentence for each of its steps, in its language, each opening with its
    step's word (:func:`ordinal`)."""
    lang = problem["lang"]
    who, what = NAMES[lang][problem["name"]], THINGS[lang][problem["thing"]]
    if lang == "ja":
        says = {"+": "{n}個もらいます。", "-": "{n}個を友だちにあげます。",
                "*": f"持っている{what}の数が{{n}}倍になります。"}
    else:
        says = {"+": f"{who} gets {{n}} more.", "-": f"{who} gives {{n}} away.",
                "*": f"the number of {what} becomes {{n}} times as large."}
    return [ordinal(lang, i) + says[op].format(n=n) for i, (op, n) in enumerate(problem["steps"])]


def question(problem: dict[str, Any]) -> str:
    """The word problem's text in its language."""
    lang = problem["lang"]
    who, what = NAMES[lang][problem["name"]], THINGS[lang][problem["thing"]]
    if lang == "ja":
        return "".join([f"{who}さんは{what}を{problem['start']}個持っています。", *step_clauses(problem),
                        f"{who}さんは今、{what}を何個持っていますか？"])
    return " ".join([f"{who} has {problem['start']} {what}.", *step_clauses(problem),
                     f"How many {what} does {who} have now?"])


def _chain(problem: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    value, out = problem["start"], []
    for op, n in problem["steps"]:
        new = value + n if op == "+" else value - n if op == "-" else value * n
        out.append((value, op, n, new))
        value = new
    return out


TraceStyle = Literal["concise", "verbose"]


def _digits(x: int, width: int) -> list[int]:
    return [(x // 10 ** i) % 10 for i in range(width)]


def columns(value: int, op: str, n: int) -> list[str]:
    """``value op n`` worked digit by digit, ones first: one ``a + b (+ carry) = s`` per column
    for ``+``, ``a - b (- borrow) = d`` for ``-`` (a borrowing column's digit written with a
    leading 1), ``a × n (+ carry) = p`` for ``×``. Every column's result is a single-digit
    fact, so held-out sums decompose into facts seen in training."""
    out: list[str] = []
    if op == "*":
        carry = 0
        for i, a in enumerate(_digits(value, len(str(value)))):
            out.append(f"{a} × {n} = {a * n + carry}" if i == 0 else f"{a} × {n} + {carry} = {a * n + carry}")
            carry = (a * n + carry) // 10
        return out
    width = max(len(str(value)), len(str(n)))
    a_digits, b_digits = _digits(value, width), _digits(n, width)
    carry = 0
    for i, (a, b) in enumerate(zip(a_digits, b_digits)):
        if op == "+":
            s = a + b + carry
            out.append(f"{a} + {b} = {s}" if i == 0 else f"{a} + {b} + {carry} = {s}")
            carry = s // 10
        else:
            borrow_next = int(a - b - carry < 0)
            top = f"1{a}" if borrow_next else str(a)
            d = a + 10 * borrow_next - b - carry
            out.append(f"{top} - {b} = {d}" if i == 0 else f"{top} - {b} - {carry} = {d}")
            carry = borrow_next
    return out


def step_line(value: int, op: str, n: int, new: int, lang: str = "en", work: bool = False) -> str:
    """One step of the trace: ``value op n = new``, or with ``work`` its columns first."""
    ja = lang == "ja"
    if not work:
        return f"{value} {SYMBOL[op]} {n} = {new}" + ("。" if ja else ".")
    cols = ("、" if ja else ", ").join(columns(value, op, n))
    return f"{value} {SYMBOL[op]} {n}: {cols}" + (f"、よって{new}。" if ja else f", so {new}.")


def trace(problem: dict[str, Any], style: TraceStyle, lang: str = "en", work: bool = False) -> str:
    """The reasoning trace of ``problem`` in ``style`` (English or Japanese); ``work`` writes
    each step's column arithmetic (:func:`columns`) before its result."""
    chain = _chain(problem)
    answer = problem["answer"]
    ja = lang == "ja"
    lines = [f"最初は{problem['start']}個。" if ja else f"Start with {problem['start']}."]
    for i, (value, op, n, new) in enumerate(chain):
        lines.append((ordinal(lang, i) if work else "") + step_line(value, op, n, new, lang, work))
        if style == "verbose":
            inverse = {"+": f"{new} - {n} = {value}", "-": f"{new} + {n} = {value}",
                       "*": f"{new} ÷ {n} = {value}"}[op]
            lines.append(f"確認: {inverse}。合っている。" if ja else f"Let me double-check: {inverse}. Yes.")
    if style == "verbose":
        steps = " → ".join([str(problem["start"])] + [str(c[3]) for c in chain])
        if ja:
            lines += ["でも待って、問題を読み直して見落としがないか確かめる。",
                      f"最初から計算し直す: {steps}。", f"やはり答えは{answer}。", f"よって答えは{answer}。"]
        else:
            lines += ["But wait, let me re-read the problem to make sure nothing is missed.",
                      f"Recompute from the start: {steps}.", f"So the answer is {answer}.",
                      f"Thus answer: {answer}. Ok."]
    else:
        lines.append(f"答えは{answer}。" if ja else f"Answer: {answer}.")
    return "\n".join(lines)


def response(problem: dict[str, Any]) -> str:
    """The final answer in the problem's language."""
    lang = problem["lang"]
    who, what = NAMES[lang][problem["name"]], THINGS[lang][problem["thing"]]
    if lang == "ja":
        return f"{who}さんは今、{what}を{problem['answer']}個持っています。\n\n答え: {problem['answer']}"
    return f"{who} now has {problem['answer']} {what}.\n\nAnswer: {problem['answer']}"


def write_seed_file(path: str | Path, count: int, lang: Literal["en", "ja"],
                    split: Literal["train", "test"] = "train", steps: tuple[int, int] = (2, 3),
                    max_operand: int | None = None) -> Path:
    """A JSONL seed file of ``count`` problems of ``steps`` operations (least, most) and
    ``max_operand`` (see :func:`make_problem`): ``id``, ``question``, ``problem`` (JSON text).
    A name ending in ``.gz`` is written gzip'd, byte for byte the same on every run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        p = make_problem(i, lang, split, steps, max_operand)
        lines.append(json.dumps({"id": p["id"], "question": question(p), "answer": p["answer"],
                                 "problem": json.dumps(p, ensure_ascii=False)}, ensure_ascii=False) + "\n")
    data = "".join(lines).encode("utf-8")
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


class ArithConfig(StrictModel):
    """Options of ``arith``: the trace style (or OSS-like ``reasoning_effort``) and language."""

    style: Literal["concise", "verbose"] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None  # high = verbose
    trace_lang: Literal["en", "same"] = "en"
    # Work every step digit by digit (ones first, with carries) before its result.
    column_work: bool = False
    label: str | None = None  # teacher name recorded on the triples


@dataclass
class ArithSettings(TeacherSettings):
    """Teacher settings plus the trace style and language."""

    style: TraceStyle = "concise"
    trace_lang: str = "en"
    column_work: bool = False

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "style": self.style, "trace_lang": self.trace_lang,
                **({"column_work": True} if self.column_work else {})}


class Arith(Teacher[ArithConfig]):
    """Correct arithmetic triples with a concise or a verbose, self-checking trace."""

    name = "arith"
    description = "offline teacher: multi-step arithmetic word problems (en/ja), concise or verbose traces"
    config_model = ArithConfig
    engine = ""
    uses_engine = False
    sampling = Sampling(temperature=0.0, top_p=1.0, max_tokens=0)

    def settings(self, config: ArithConfig | None) -> ArithSettings:
        config = config or ArithConfig()
        style: TraceStyle = config.style or ("verbose" if config.reasoning_effort == "high" else "concise")
        effort = config.reasoning_effort or ("high" if style == "verbose" else "medium")
        return ArithSettings(name=config.label or ("arith-h" if style == "verbose" else "arith"),
                             model=None, engine="", reasoning_format="think", prefilled_think=None,
                             reasoning_effort=effort, sampling=Sampling(temperature=0.0, top_p=1.0,
                                                                        max_tokens=0),
                             style=style, trace_lang=config.trace_lang, column_work=config.column_work)

    def replay(self, settings: TeacherSettings, response_text: str | None) -> Generation | None:
        """The triple's generation for the seed's problem JSON (None when there is none)."""
        if not response_text:
            return None
        problem = json.loads(response_text) if isinstance(response_text, str) else dict(response_text)
        arith = settings if isinstance(settings, ArithSettings) else None
        style: TraceStyle = arith.style if arith else "concise"
        lang = problem["lang"] if arith and arith.trace_lang == "same" else "en"
        work = arith.column_work if arith else False
        reasoning, content = trace(problem, style, lang, work), response(problem)
        text = f"<think>\n{reasoning}\n</think>\n\n{content}"
        return Generation(text=text, reasoning=reasoning, content=content, think_closed=True,
                          finish_reason="stop")


@hookimpl
def register_teachers(register):
    register(Arith())
