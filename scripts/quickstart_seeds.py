"""Write the quickstart's seed files and tokenizer corpus from the ``arith`` problem generator.

    python scripts/quickstart_seeds.py [COUNT]

Writes ``recipes/quickstart/seeds_en.jsonl.gz`` and ``seeds_ja.jsonl.gz``: COUNT (default
1300) training-split problems of two or three steps, adding or giving away one-digit numbers
(``max_operand = 9``, as the quickstart's benchmarks ask), the same bytes every time, none of
them a held-out ``arith_en`` / ``arith_ja`` question; and ``corpus.txt``, the text the tiny
base model's tokenizer is trained on: the questions, trace lines (both styles, with column
work, English and Japanese) and answers of the first 200 problems of each language.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from jre.plugins.teachers.arith import response, trace, write_seed_file

FOLDER = Path(__file__).resolve().parents[1] / "recipes" / "quickstart"
CORPUS_PROBLEMS = 200
MAX_OPERAND = 9


def main(count: int = 1300) -> None:
    lines: dict[str, None] = {}
    for lang in ("en", "ja"):
        path = write_seed_file(FOLDER / f"seeds_{lang}.jsonl.gz", count, lang, "train", (2, 3), MAX_OPERAND)
        print(f"{path}: {count} problems")
        rows = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        for row in map(json.loads, rows[:CORPUS_PROBLEMS]):
            problem = json.loads(row["problem"])
            texts = [row["question"], response(problem)]
            for style in ("concise", "verbose"):
                for trace_lang in ("en", lang):
                    texts.append(trace(problem, style, trace_lang, work=True))
            for text in texts:
                lines.update((line, None) for line in text.splitlines() if line.strip())
    corpus = FOLDER / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{corpus}: {len(lines)} lines")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1300)
