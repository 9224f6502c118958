"""The vllm engine: parsing of recorded outputs, and one clear line when vLLM is missing."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jre.errors import UserError
from jre.plugin_manager import get_plugins
from jre.plugins.engines.vllm import INSTALL_HINT, outputs_to_generations
from conftest import run_jre

HAS_VLLM = importlib.util.find_spec("vllm") is not None


# Recorded shapes of vllm.CompletionOutput / vllm.RequestOutput (texts written for the tests).
@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class Output:
    prompt_token_ids: list[int]
    outputs: list[Completion] = field(default_factory=list)


GPT_OSS_DONE = ("<|channel|>analysis<|message|>User asks 17*23. 17*23 = 391.<|end|>"
                "<|start|>assistant<|channel|>final<|message|>17 × 23 = **391**")
GPT_OSS_CUT = "<|channel|>analysis<|message|>We need to consider every case. Case 1: n is even, so"
GPT_OSS_SKIPPED = "analysisUser asks 17*23. 17*23 = 391.assistantfinal17 × 23 = **391**"


def test_harmony_outputs_split_by_channel():
    out = Output(prompt_token_ids=list(range(40)), outputs=[
        Completion(GPT_OSS_DONE, list(range(30)), "stop"),
        Completion(GPT_OSS_CUT, list(range(64)), "length"),
        Completion(GPT_OSS_SKIPPED, list(range(28)), "stop"),
    ])
    done, cut, skipped = outputs_to_generations(out, reasoning_format="harmony", prefilled=False)
    assert (done.reasoning, done.content, done.think_closed) == \
        ("User asks 17*23. 17*23 = 391.", "17 × 23 = **391**", True)
    assert (done.prompt_tokens, done.completion_tokens, done.finish_reason) == (40, 30, "stop")
    assert cut.think_closed is False and cut.content is None and cut.finish_reason == "length"
    assert cut.reasoning.startswith("We need to consider every case")
    assert (skipped.reasoning, skipped.content) == (done.reasoning, done.content)


def test_r1_outputs_with_prefilled_think():
    out = Output(prompt_token_ids=[1, 2, 3], outputs=[
        Completion("Okay, 2+2 is 4.\n</think>\n\n**4**", [5] * 12, "stop"),
        Completion("Okay, let me think about this more carefully", [5] * 9, "length"),
    ])
    closed, unclosed = outputs_to_generations(out, reasoning_format="think", prefilled=True)
    assert (closed.reasoning, closed.content, closed.think_closed) == ("Okay, 2+2 is 4.", "**4**", True)
    assert unclosed.think_closed is False and unclosed.content is None


def test_config_passes_parallelism_through():
    engine = get_plugins().get("engine", "vllm")
    cfg = engine.parse_config({"model": "openai/gpt-oss-120b", "tensor_parallel_size": 8,
                               "data_parallel_size": 2, "reasoning_format": "harmony",
                               "chat_template_kwargs": {"reasoning_effort": "high"},
                               "llm_kwargs": {"max_num_seqs": 512}})
    assert (cfg.tensor_parallel_size, cfg.data_parallel_size, cfg.llm_kwargs) == (8, 2, {"max_num_seqs": 512})


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_is_one_line(tmp_path):
    engine = get_plugins().get("engine", "vllm")
    with pytest.raises(UserError) as info:
        engine.load(engine.parse_config({"model": "x"}))
    assert INSTALL_HINT in str(info.value)
    (tmp_path / "seeds.jsonl").write_text('{"q": "hi"}\n')
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\nname = "v"\nrun_dir = "run"\n[synth.datasets.d]\n'
                      'teacher = "oss"\nengine = "vllm"\n'
                      'seeds = { loader = "file", path = "seeds.jsonl", fields = { instruction = "q" } }\n')
    result = run_jre("synth", str(recipe), cwd=tmp_path)
    assert result.returncode == 2
    assert "jre[vllm]" in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM and a GPU")
def test_vllm_generates_on_a_tiny_model(tiny_model: Path):
    from jre.records import ChatRequest, Sampling

    engine = get_plugins().get("engine", "vllm")
    client = engine.load(engine.parse_config({"model": str(tiny_model), "gpu_memory_utilization": 0.3,
                                              "max_model_len": 512, "llm_kwargs": {"enforce_eager": True}}))
    reqs = [ChatRequest(id=f"r{i}", messages=[{"role": "user", "content": f"3+{i}?"}],
                        sampling=Sampling(n=2, max_tokens=8, temperature=1.0, seed=i)) for i in range(3)]
    results = {r.id: gens for r, gens in client.generate(reqs)}
    assert sorted(results) == ["r0", "r1", "r2"]
    assert all(len(g) == 2 and all(x.completion_tokens <= 8 for x in g) for g in results.values())
    client.close()
