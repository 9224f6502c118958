"""``arith``: an offline teacher of multi-step arithmetic word problems (English and Japanese).

It asks no model: each seed carries its problem as JSON (``{"lang", "name", "start",
"steps": [[op, n], ...]}``, mapped to the seed's ``response`` with ``fields.response``), and
the teacher writes a correct ⟨instruction, trace, response⟩ triple for it. Two trace
styles mirror the reference study's gpt-oss medium vs high (OSS vs OSS-h):

- ``concise`` (``reasoning_effort = "medium"``): one line per step;
- ``verbose`` (``reasoning_effort = "high"``): every step re-checked by its inverse, the
  problem re-read, the whole chain recomputed and the answer restated — longer and more
  repetitive, like OSS-h.

Traces are in English (as gpt-oss's are) unless ``trace_lang = "same"``. The problems come
from :func:`make_problem`; :func:`write_seed_file` writes a seed file for the ``file``
loader, and the ``arith_en`` / ``arith_ja`` benchmarks draw held-out problems from the same
generator (its ``test`` split: problems whose arithmetic hashes into one bucket in five, which
training seeds never use, so no test problem is seen).
"""

from __future__ import annotations

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


def split_of(start: int, ops: list[list[Any]]) -> Literal["train", "test"]:
    """The split a problem belongs to, fixed by its arithmetic alone (one in five is ``test``),
    so that no test problem is ever a training problem, in either language."""
    digest = hashlib.sha256(json.dumps([start, ops]).encode()).digest()
    return "test" if digest[0] % 5 == 0 else "train"


def make_problem(index: int, lang: Literal["en", "ja"], split: Literal["train", "test"] = "train",
                 steps: tuple[int, int] = (2, 3)) -> dict[str, Any]:
    """Problem ``index`` of a split, deterministic: drawn until its arithmetic falls in the
    split (:func:`split_of`), so train and test share one distribution of problems."""
    for attempt in itertools.count():
        rng = random.Random(f"arith:{split}:{lang}:{index}:{attempt}")
        start = rng.randrange(2, 30)
        value, ops = start, []
        for _ in range(rng.randint(*steps)):
            # Keep every intermediate value a small positive integer.
            choices = ["+"] + (["-"] if value > 2 else []) + (["*"] if value < 60 else [])
            op = rng.choice(choices)
            if op == "+":
                n = rng.randint(2, 19)
                value += n
            elif op == "-":
                n = rng.randint(1, value - 1)
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


def question(problem: dict[str, Any]) -> str:
    """The word problem's text in its language."""
    lang = problem["lang"]
    who, what = NAMES[lang][problem["name"]], THINGS[lang][problem["thing"]]
    if lang == "ja":
        parts = [f"{who}さんは{what}を{problem['start']}個持っています。"]
        for op, n in problem["steps"]:
            parts.append({"+": f"さらに{n}個もらいます。", "-": f"{n}個を友だちにあげます。",
                          "*": f"持っている{what}の数が{n}倍になります。"}[op])
        parts.append(f"{who}さんは今、{what}を何個持っていますか？")
        return "".join(parts)
    parts = [f"{who} has {problem['start']} {what}."]
    for op, n in problem["steps"]:
        parts.append({"+": f"Then {who} gets {n} more.", "-": f"Then {who} gives {n} away.",
                      "*": f"Then the number of {what} becomes {n} times as large."}[op])
    parts.append(f"How many {what} does {who} have now?")
    return " ".join(parts)


def _chain(problem: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    value, out = problem["start"], []
    for op, n in problem["steps"]:
        new = value + n if op == "+" else value - n if op == "-" else value * n
        out.append((value, op, n, new))
        value = new
    return out


TraceStyle = Literal["concise", "verbose"]


def trace(problem: dict[str, Any], style: TraceStyle, lang: str = "en") -> str:
    """The reasoning trace of ``problem`` in ``style`` (English or Japanese)."""
    chain = _chain(problem)
    answer = problem["answer"]
    ja = lang == "ja"
    lines = [f"最初は{problem['start']}個。" if ja else f"Start with {problem['start']}."]
    for value, op, n, new in chain:
        lines.append(f"{value} {SYMBOL[op]} {n} = {new}" + ("。" if ja else "."))
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
                    split: Literal["train", "test"] = "train", steps: tuple[int, int] = (2, 3)) -> Path:
    """A JSONL seed file of ``count`` problems of ``steps`` operations (least, most): ``id``,
    ``question``, ``problem`` (JSON text)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(count):
            p = make_problem(i, lang, split, steps)
            fh.write(json.dumps({"id": p["id"], "question": question(p), "answer": p["answer"],
                                 "problem": json.dumps(p, ensure_ascii=False)},
                                ensure_ascii=False) + "\n")
    return path


class ArithConfig(StrictModel):
    """Options of ``arith``: the trace style (or OSS-like ``reasoning_effort``) and language."""

    style: Literal["concise", "verbose"] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None  # high = verbose
    trace_lang: Literal["en", "same"] = "en"
    label: str | None = None  # teacher name recorded on the triples


@dataclass
class ArithSettings(TeacherSettings):
    """Teacher settings plus the trace style and language."""

    style: TraceStyle = "concise"
    trace_lang: str = "en"

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "style": self.style, "trace_lang": self.trace_lang}


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
                             style=style, trace_lang=config.trace_lang)

    def replay(self, settings: TeacherSettings, response_text: str | None) -> Generation | None:
        """The triple's generation for the seed's problem JSON (None when there is none)."""
        if not response_text:
            return None
        problem = json.loads(response_text) if isinstance(response_text, str) else dict(response_text)
        arith = settings if isinstance(settings, ArithSettings) else None
        style: TraceStyle = arith.style if arith else "concise"
        lang = problem["lang"] if arith and arith.trace_lang == "same" else "en"
        reasoning, content = trace(problem, style, lang), response(problem)
        text = f"<think>\n{reasoning}\n</think>\n\n{content}"
        return Generation(text=text, reasoning=reasoning, content=content, think_closed=True,
                          finish_reason="stop")


@hookimpl
def register_teachers(register):
    register(Arith())
