"""The hf engine against a tiny Qwen3 model built from a config: real generation."""

from __future__ import annotations

import pytest

from jre.errors import UserError
from jre.plugin_manager import get_plugins
from jre.records import ChatRequest, Sampling


def _client(model, **options):
    engine = get_plugins().get("engine", "hf")
    return engine.load(engine.parse_config({"model": str(model), **options}))


def _requests(k: int, **sampling) -> list[ChatRequest]:
    return [ChatRequest(id=f"q{i}", messages=[{"role": "user", "content": "Tom has 3 apples" + "!" * i}],
                        sampling=Sampling(**sampling)) for i in range(k)]


def _texts(client, requests):
    return {r.id: [g.text for g in gens] for r, gens in client.generate(requests)}


def test_sampling_is_seeded_and_reproducible(tiny_model):
    reqs = _requests(3, n=2, temperature=1.0, max_tokens=12)
    first = _texts(_client(tiny_model, seed=1), reqs)
    again = _texts(_client(tiny_model, seed=1), reqs)
    other = _texts(_client(tiny_model, seed=2), reqs)
    assert first == again
    assert first != other
    assert all(len(v) == 2 for v in first.values())
    assert any(v[0] != v[1] for v in first.values())  # n samples differ from each other


def test_left_padded_batch_matches_single_prompts(tiny_model):
    reqs = _requests(4, temperature=0.0, max_tokens=10)
    batched = _texts(_client(tiny_model, batch_size=4), reqs)
    single = _texts(_client(tiny_model, batch_size=1), reqs)
    assert batched == single


def test_length_finish_and_token_counts(tiny_model):
    client = _client(tiny_model)
    [(request, [gen])] = list(client.generate(_requests(1, temperature=0.0, max_tokens=7)))
    assert gen.finish_reason == "length"
    assert gen.completion_tokens == 7
    assert gen.prompt_tokens and gen.prompt_tokens > 5
    assert client.stats["requests"] == 1 and client.stats["completion_tokens"] == 7


def test_stop_string_cuts_output(tiny_model):
    client = _client(tiny_model)
    [(_, [full])] = list(client.generate(_requests(1, temperature=1.0, max_tokens=16)))
    stop = full.text[6:9]
    assert len(stop) == 3
    [(_, [cut])] = list(client.generate(_requests(1, temperature=1.0, max_tokens=16, stop=[stop])))
    assert cut.finish_reason == "stop"
    assert stop not in cut.text and full.text.startswith(cut.text)


def test_prefilled_think_is_detected_from_the_template(tiny_model):
    client = _client(tiny_model)
    req = ChatRequest(id="p", messages=[{"role": "user", "content": "3+4?"}],
                      sampling=Sampling(temperature=0.0, max_tokens=8),
                      chat_template_kwargs={"enable_thinking": True})
    [(_, [gen])] = list(client.generate([req]))
    # The template opened <think>; the output is reasoning until a </think> appears.
    if "</think>" not in gen.text:
        assert gen.think_closed is False and gen.content is None
        assert gen.reasoning == gen.text.strip("\n")
    plain = ChatRequest(id="p", messages=req.messages, sampling=req.sampling)
    [(_, [gen2])] = list(client.generate([plain]))
    if "</think>" not in gen2.text and "<think>" not in gen2.text:
        assert gen2.think_closed is True and gen2.reasoning is None


def test_missing_model_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError) as info:
        _client(tmp_path / "nope")
    assert "nope" in str(info.value)
