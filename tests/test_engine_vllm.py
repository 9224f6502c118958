"""The vllm engine: parsing of recorded outputs, the arguments handed to vLLM (prompt token ids,
LLM options), recipe-time refusals, one clear line when vLLM is missing, and on a GPU a real
run on a tiny model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import run_jre
from jre.errors import UserError
from jre.plugin_manager import get_plugins
from jre.plugins.engines.vllm import INSTALL_HINT, VLLMConfig, llm_arguments, outputs_to_generations, render_prompt
from jre.records import ChatRequest, Sampling

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
                               "pipeline_parallel_size": 2, "reasoning_format": "harmony",
                               "max_model_len": 32768, "chat_template_kwargs": {"reasoning_effort": "high"},
                               "llm_kwargs": {"max_num_seqs": 512, "enforce_eager": True, "seed": 3}})
    kwargs = llm_arguments(cfg)
    assert (kwargs["tensor_parallel_size"], kwargs["pipeline_parallel_size"], kwargs["max_model_len"]) == (8, 2, 32768)
    assert kwargs["max_num_seqs"] == 512 and kwargs["enforce_eager"] is True
    assert kwargs["seed"] == 3  # llm_kwargs come last and win
    assert "data_parallel_size" not in kwargs and kwargs["model"] == "openai/gpt-oss-120b"


def _bos_tokenizer(tiny_model: Path):
    """The tiny tokenizer made Llama-like: tokenizing adds BOS, and the chat template writes it too."""
    from tokenizers import processors
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.bos_token = "<|endoftext|>"
    bos = tok.bos_token_id
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos)])
    tok.chat_template = ("{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                         "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                         "<think>\n{% endif %}")
    return tok, bos


def test_prompts_go_to_vllm_as_token_ids_with_one_bos(tiny_model):
    tok, bos = _bos_tokenizer(tiny_model)
    request = ChatRequest(id="q", messages=[{"role": "user", "content": "3 + 4 は？"}])
    text, prompt = render_prompt(tok, request, VLLMConfig())
    assert text.startswith("<|endoftext|><|im_start|>user") and text.endswith("<think>\n")
    assert tok(text)["input_ids"][:2] == [bos, bos]  # what generate(text) would have fed the model
    ids = prompt["prompt_token_ids"]
    assert set(prompt) == {"prompt_token_ids"} and ids[0] == bos and ids.count(bos) == 1
    assert tok.decode(ids) == text


def test_chat_template_kwargs_reach_the_template(tiny_model):
    tok, _ = _bos_tokenizer(tiny_model)
    tok.chat_template = "effort={{ reasoning_effort }};{% for m in messages %}{{ m.content }}{% endfor %}"
    config = VLLMConfig(chat_template_kwargs={"reasoning_effort": "medium"})
    request = ChatRequest(id="q", messages=[{"role": "user", "content": "hi"}],
                          chat_template_kwargs={"reasoning_effort": "high"})
    assert render_prompt(tok, request, config)[0] == "effort=high;hi"  # the request's own wins


def _check(tmp_path: Path, body: str):
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\nname = "v"\nrun_dir = "run"\n' + body)
    return run_jre("recipe", "check", str(recipe), cwd=tmp_path)


def test_data_parallel_in_one_process_is_a_recipe_error(tmp_path):
    result = _check(tmp_path, '[eval]\nbenchmarks = ["arith_en"]\n[eval.engine]\nname = "vllm"\n'
                              'model = "m"\ndata_parallel_size = 2\n')
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "eval.engine.data_parallel_size" in line and "one replica per process" in line and "--shard" in line


@pytest.mark.parametrize("body, field", [
    ('[eval]\nbenchmarks = [{ name = "arith_en", temperature = 0.0, n = 4 }]\n[eval.engine]\nname = "vllm"\n'
     'model = "m"\n', "eval.benchmarks[0]"),
    ('[eval]\nbenchmarks = ["arith_en"]\nsampling = { temperature = 0.0, n = 2 }\n[eval.engine]\n'
     'name = "vllm"\nmodel = "m"\n', "eval.benchmarks[0]"),
    ('[synth.datasets.d]\nteacher = { name = "r1", temperature = 0.0 }\nsamples = 4\nengine = "vllm"\n'
     'seeds = { loader = "file", path = "s.jsonl", fields = { instruction = "q" } }\n', "synth.datasets.d.samples"),
])
def test_greedy_sampling_with_several_samples_is_a_recipe_error_on_vllm(tmp_path, body, field):
    result = _check(tmp_path, body)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert field in line and "temperature 0" in line and "n = 1" in line and "Traceback" not in result.stderr
    # The same sampling on an engine that serves it (n samples at temperature 0 over HTTP) passes.
    other = _check(tmp_path, body.replace('"vllm"', '"hf"'))
    assert other.returncode == 0, other.stderr


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_is_one_line(tmp_path):
    engine = get_plugins().get("engine", "vllm")
    with pytest.raises(UserError) as info:
        engine.load(engine.parse_config({"model": "x"}))
    assert INSTALL_HINT in str(info.value)
    (tmp_path / "seeds.jsonl").write_text('{"q": "Explain why the sky is blue in two short sentences."}\n')
    recipe = tmp_path / "r.toml"
    recipe.write_text('schema_version = 1\nname = "v"\nrun_dir = "run"\n[synth.datasets.d]\n'
                      'teacher = "oss"\nengine = "vllm"\n'
                      'seeds = { loader = "file", path = "seeds.jsonl", fields = { instruction = "q" } }\n')
    result = run_jre("synth", str(recipe), cwd=tmp_path)
    assert result.returncode == 2
    assert "jre[vllm]" in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM and a GPU")
def test_vllm_generates_on_a_tiny_model(tiny_model: Path):
    """On a GPU: generate with n samples, think splitting of prefilled prompts, and Harmony
    decoding (special tokens kept) through vLLM itself on the random tiny model."""
    from transformers import AutoTokenizer

    engine = get_plugins().get("engine", "vllm")
    base = {"model": str(tiny_model), "gpu_memory_utilization": 0.3, "max_model_len": 512,
            "llm_kwargs": {"enforce_eager": True}}
    reqs = [ChatRequest(id=f"r{i}", messages=[{"role": "user", "content": f"3+{i}?"}],
                        sampling=Sampling(n=2, max_tokens=8, temperature=1.0, seed=i)) for i in range(3)]
    tok = AutoTokenizer.from_pretrained(tiny_model)
    prompt_ids = {r.id: render_prompt(tok, r, VLLMConfig(**base))[1]["prompt_token_ids"] for r in reqs}

    client = engine.load(engine.parse_config({**base, "reasoning_format": "think", "prefilled_think": True}))
    results = {r.id: gens for r, gens in client.generate(reqs)}
    assert sorted(results) == ["r0", "r1", "r2"]
    for rid, gens in results.items():
        assert len(gens) == 2
        for g in gens:
            assert 0 < g.completion_tokens <= 8 and g.finish_reason in ("stop", "length")
            assert g.prompt_tokens == len(prompt_ids[rid])  # the ids jre rendered, nothing added
            if "</think>" in g.text:  # prefilled: everything before </think> is the trace
                assert g.think_closed and g.reasoning == g.text.split("</think>")[0].strip()
            else:
                assert not g.think_closed and g.content is None and g.reasoning == g.text.strip()
    client.close()

    harmony = engine.load(engine.parse_config({**base, "reasoning_format": "harmony"}))
    assert harmony._params(reqs[0]).skip_special_tokens is False
    for _, gens in harmony.generate(reqs[:1]):
        assert len(gens) == 2 and all(g.completion_tokens <= 8 for g in gens)
        assert all(g.think_closed == ("<|channel|>final" in g.text or "assistantfinal" in g.text)
                   or g.content is not None for g in gens)
    harmony.close()


def test_close_position_from_output_token_ids(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    text = "<think>\nWe add 2 and 2.\n</think>\n\nThe answer is 4."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    upto = len(tok("<think>\nWe add 2 and 2.\n</think>", add_special_tokens=False)["input_ids"])
    cut = ids[:upto - 1]
    out = Output(prompt_token_ids=[1], outputs=[
        Completion(text, ids, "stop"),
        Completion(tok.decode(cut, skip_special_tokens=False), cut, "length")])
    closed, unclosed = outputs_to_generations(
        out, reasoning_format="think", prefilled=False,
        decode=lambda x: tok.decode(list(x), skip_special_tokens=False))
    assert closed.think_closed and closed.think_close_tokens == upto
    assert not unclosed.think_closed and unclosed.think_close_tokens is None
