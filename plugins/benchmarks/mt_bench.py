"""``mt_bench_ja`` / ``mt_bench_en``: MT-Bench, 80 two-turn questions graded 1–10 by an LLM judge.

Questions (``question_id``, ``category``, ``turns``) and reference answers (``question_id``,
``choices[0].turns``) are FastChat's files, read from local copies (``path``,
``reference_path``); :attr:`MTBench.sources` names where each comes from. The second turn
sees the model's first answer without its reasoning trace (jre.multiturn). Each turn of
each sample is graded on its own, as FastChat's single-answer grading does: turn 1 with
``single-v1``, turn 2 with ``single-v1-multi-turn``, and the reference-guided
``single-math-v1`` variants for math, reasoning and coding. The judge is any jre engine
(``judge = { name = ..., ... }``; default the paper's gpt-4o-2024-08-06 through ``openai``);
its prompts are FastChat's ``judge_prompts.jsonl`` (bundled; ``judge_prompts`` points at
another file in that schema, e.g. Stability-AI's Japanese one). Scores are rating / 10 (the
paper's 0–1 scale), per category and overall; see jre.judge for retries and failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from jre import hookimpl
from jre.errors import UserError
from jre.judge import JudgeJob, JudgeOptions, JudgePrompt, judge_messages, load_judge_prompts
from jre.kinds.benchmark import Benchmark, BenchmarkConfig, Item, LoadedData, read_local_rows
from jre.reasoning import answer_text
from jre.records import Generation, Sampling
from jre.store import file_hash

BUNDLED_PROMPTS = Path(__file__).parent / "data" / "mt_bench_judge_prompts.jsonl"
# FastChat's llm_judge/common.py NEED_REF_CATS: these categories are graded against a reference.
NEED_REF_CATS = ("math", "reasoning", "coding")


class MTBenchConfig(BenchmarkConfig, JudgeOptions):
    """``path``: FastChat ``question.jsonl``; ``reference_path``: its reference answers
    (``reference_answer/gpt-4.jsonl``); ``judge_prompts``: a ``judge_prompts.jsonl`` (default:
    FastChat's, bundled); the judge options of :class:`jre.judge.JudgeOptions`."""

    path_fields: ClassVar[tuple[str, ...]] = ("path", "reference_path", "judge_prompts")

    reference_path: str | None = None
    judge_prompts: str | None = None


def _resolve(value: str, base_dir: Path | None) -> Path:
    path = Path(value).expanduser()
    return base_dir / path if not path.is_absolute() and base_dir is not None else path


class MTBench(Benchmark):
    """MT-Bench in one language: two-turn conversations, N samples, an LLM judge."""

    config_model = MTBenchConfig
    fields = ("question_id", "category", "turns")
    id_field = "question_id"
    metric = "judge_score"
    turns = 2
    judged = True
    # Table 5: N=5, temperature left at its default (T=0.6, top_p=0.95 as the others).
    sampling = Sampling(n=5, temperature=0.6, top_p=0.95, max_tokens=32768)
    sources: ClassVar[dict[str, str]] = {}

    def load(self, config: Any, base_dir: Path | None = None) -> LoadedData:
        if not getattr(config, "path", None):
            raise UserError(f"{self.name} reads FastChat's question file from a local copy: set "
                            f"`path` (and `reference_path`); download {self.sources['questions']} "
                            f"and {self.sources['references']}", field="path")
        if config.judge_prompts:  # relative to the recipe, like `path`, for the judge step too
            config.judge_prompts = str(_resolve(config.judge_prompts, base_dir))
        prompts = self.judge_prompts(config)
        needed = [f"{base}{suffix}" for base in ("single-v1", "single-math-v1")
                  for suffix in ("", "-multi-turn")]
        lacking = [name for name in needed if name not in prompts]
        if lacking:  # checked before any generation, not when the judge is first asked
            raise UserError(f"the judge prompts lack {', '.join(lacking)} (FastChat's "
                            f"single-answer prompts for both turns)", field="judge_prompts")
        data = super().load(config, base_dir)
        references: dict[str, list[str]] = {}
        if config.reference_path:
            where = _resolve(config.reference_path, base_dir)
            for index, row in enumerate(read_local_rows(where)):
                try:
                    turns = row["choices"][0]["turns"]
                    references[str(row["question_id"])] = [str(t) for t in turns]
                except (KeyError, IndexError, TypeError):
                    raise UserError(f"row {index} is not a FastChat answer (question_id, "
                                    f"choices[0].turns)", where=str(where)) from None

            data.source["references"] = {"path": str(where), "sha256": file_hash(where)}
        for item in data.items:
            turns = item.data["turns"]
            if not isinstance(turns, list) or len(turns) < self.turns:
                raise UserError(f"question {item.id} has {len(turns) if isinstance(turns, list) else 0} "
                                f"turns; {self.name} needs {self.turns}", where=str(config.path))
            ref = references.get(item.id) or item.data.get("reference")
            if item.data["category"] in NEED_REF_CATS and not ref:
                raise UserError(f"question {item.id} ({item.data['category']}) needs a reference "
                                f"answer: set `reference_path`", field="reference_path")
            item.data["reference_turns"] = [str(t) for t in ref] if ref else None
        data.source["upstream"] = dict(self.sources)
        return data

    def prompt(self, item: Item, config: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": item.data["turns"][0]}]

    def turn_prompt(self, item: Item, config: Any, turn: int,
                    history: list[dict[str, str]]) -> list[dict[str, str]]:
        return [*history, {"role": "user", "content": item.data["turns"][turn - 1]}]

    def reference(self, item: Item) -> Any:
        return item.data.get("reference_turns")

    def category(self, item: Item) -> str:
        """The question's MT-Bench category (writing, roleplay, reasoning, math...)."""
        return str(item.data["category"])

    # -- judging -----------------------------------------------------------------------

    def judge_prompts(self, config: Any) -> dict[str, JudgePrompt]:
        """The judge prompts: ``judge_prompts`` of the recipe, else FastChat's (bundled)."""
        path = getattr(config, "judge_prompts", None)
        return load_judge_prompts(Path(path).expanduser() if path else BUNDLED_PROMPTS)

    def judge_jobs(self, item: Item, record: dict[str, Any], config: Any,
                   policy: Any) -> list[JudgeJob]:
        """One judgment per turn of one sample, FastChat's prompt for the category."""
        prompts = self.judge_prompts(config)
        questions = [str(q) for q in item.data["turns"]]
        answers = [answer_text(Generation.from_dict(t), policy) for t in record["turns"]]
        refs = item.data.get("reference_turns")
        math = item.data["category"] in NEED_REF_CATS and refs
        jobs = []
        for turn in range(1, len(answers) + 1):
            name = ("single-math-v1" if math else "single-v1") + ("-multi-turn" if turn > 1 else "")
            if name not in prompts:
                raise UserError(f"the judge prompts have no {name!r}", field="judge_prompts")
            fields = {"question": questions[0], "answer": answers[0]} if turn == 1 else {
                **{f"question_{i}": questions[i - 1] for i in range(1, turn + 1)},
                **{f"answer_{i}": answers[i - 1] for i in range(1, turn + 1)}}
            if math and refs:
                fields.update({f"ref_answer_{i}": refs[i - 1] for i in range(1, turn + 1)})
            jobs.append(JudgeJob(key=f"{record['id']}/turn{turn}",
                                 messages=judge_messages(prompts[name], **fields),
                                 info={"item_id": item.id, "sample": record["sample"], "turn": turn,
                                       "prompt": name, "category": item.data["category"]}))
        return jobs


class MTBenchJa(MTBench):
    """Japanese MT-Bench (Stability-AI's translation and adaptation)."""

    name = "mt_bench_ja"
    short_name = "MTB-Ja"
    description = "Japanese MT-Bench: 80 two-turn questions graded 1-10 by an LLM judge"
    sources: ClassVar[dict[str, str]] = {
        "questions": "https://github.com/Stability-AI/FastChat/blob/jp-stable/fastchat/llm_judge/"
                     "data/japanese_mt_bench/question_full.jsonl",
        "references": "https://github.com/Stability-AI/FastChat/blob/jp-stable/fastchat/llm_judge/"
                      "data/japanese_mt_bench/reference_answer/gpt-4.jsonl",
        "judge_prompts": "https://github.com/lm-sys/FastChat/blob/0e6e7fdc78bf64aceea1508694ce4e6472810b8b/"
                         "fastchat/llm_judge/data/judge_prompts.jsonl (single-* prompts)",
    }


class MTBenchEn(MTBench):
    """English MT-Bench (lm-sys FastChat)."""

    name = "mt_bench_en"
    short_name = "MTB"
    description = "MT-Bench: 80 two-turn questions graded 1-10 by an LLM judge"
    sources: ClassVar[dict[str, str]] = {
        "questions": "https://github.com/lm-sys/FastChat/blob/main/fastchat/llm_judge/data/"
                     "mt_bench/question.jsonl",
        "references": "https://github.com/lm-sys/FastChat/blob/main/fastchat/llm_judge/data/"
                      "mt_bench/reference_answer/gpt-4.jsonl",
        "judge_prompts": MTBenchJa.sources["judge_prompts"],
    }


@hookimpl
def register_benchmarks(register):
    register(MTBenchJa())
    register(MTBenchEn())
