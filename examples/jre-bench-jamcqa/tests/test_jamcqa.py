"""Tests of the jamcqa_categories benchmark: the plugin API directly, and a whole `jre eval` run with a
small engine defined here that answers from a table (a real engine plugin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, installed or not

import jre_bench_jamcqa  # noqa: E402
from jre import hookimpl  # noqa: E402
from jre.kinds.engine import Engine, EngineConfig, new_stats, split_generation  # noqa: E402
from jre.records import ChatRequest, Generation  # noqa: E402

DATA = HERE / "data" / "jamcqa.jsonl"


class TableConfig(EngineConfig):
    replies: dict[str, str]  # request id → raw model text


class TableClient:
    def __init__(self, config: TableConfig) -> None:
        self.config, self.stats = config, new_stats()

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        for request in requests:
            text = self.config.replies[request.id]
            yield request, [split_generation(text, completion_tokens=len(text))
                            for _ in range(request.sampling.n)]

    def close(self) -> None:
        pass


class TableEngine(Engine):
    name = "table"
    description = "replies from a table in the recipe (tests)"
    config_model = TableConfig

    def load(self, config: TableConfig) -> TableClient:
        return TableClient(config)


engines = SimpleNamespace(register_engines=hookimpl(lambda register: register(TableEngine())))


@pytest.fixture
def plugins():
    import jre.plugin_manager as pm

    pm._CACHED = pm.build_plugin_set(extra_modules=(jre_bench_jamcqa, engines))
    yield pm._CACHED
    pm.reset_plugins()


def test_items_prompt_extract_score(plugins) -> None:
    bench = plugins.get("benchmark", "jamcqa_categories")
    cfg = bench.parse_config({"path": str(DATA)})
    items = bench.load(cfg).items
    assert [i.id for i in items] == ["jamcqa-001", "jamcqa-002", "jamcqa-003", "jamcqa-004"]
    prompt = bench.prompt(items[0], cfg)[0]["content"]
    assert "令和" in prompt and "B) 平成" in prompt
    assert bench.extract("考えた結果、回答：Ｂ", items[0], cfg) == "B"
    assert bench.score("B", items[0], cfg) == 1.0 and bench.score("A", items[0], cfg) == 0.0
    assert bench.score(None, items[0], cfg) == 0.0
    only = bench.load(bench.parse_config({"path": str(DATA), "categories": ["culture"]})).items
    assert [i.id for i in only] == ["jamcqa-001", "jamcqa-003"]
    assert bench.sampling_for(cfg).temperature == 0.6


def test_eval_stage(plugins, tmp_path: Path) -> None:
    from jre.recipe import load_recipe
    from jre.stages import StageContext
    from jre.stages.eval import STAGE
    from jre.store import RunStore

    replies = {
        "jamcqa-001": "<think>\n令和の前は平成。\n</think>\n\n回答: B",
        "jamcqa-002": "<think>\n信濃川が最長。\n</think>\n\n答え：Ｃ",
        "jamcqa-003": "<think>\n鬼は外かな。回答: A",                       # unclosed
        "jamcqa-004": "<think>\n愛媛？\n</think>\n\n回答: A",              # wrong
    }
    recipe_path = tmp_path / "recipe.toml"
    table = ", ".join(f'"{k}" = {json.dumps(v, ensure_ascii=False)}' for k, v in replies.items())
    recipe_path.write_text(
        f'schema_version = 1\nname = "jamcqa"\nrun_dir = "{tmp_path / "run"}"\n\n[eval]\n'
        f'engine = {{name = "table", model = "m", replies = {{{table}}}}}\n'
        f'benchmarks = [{{name = "jamcqa_categories", path = "{DATA}"}}]\nbootstrap = 100\n', encoding="utf-8")
    recipe = load_recipe(recipe_path)
    STAGE.run(StageContext(recipe=recipe, store=RunStore.for_recipe(recipe)))
    results = json.loads((tmp_path / "run" / "eval" / "jamcqa_categories" / "results.json").read_text())
    assert results["score"] == pytest.approx(0.75)
    assert results["scores_by_policy"]["empty"] == pytest.approx(0.5)
    assert results["failure_rate"] == pytest.approx(0.25)
