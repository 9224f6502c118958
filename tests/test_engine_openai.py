"""The openai engine against a real scripted HTTP server on loopback."""

from __future__ import annotations

import socket
import time

import pytest

from jre.errors import UserError
from jre.plugin_manager import get_plugins
from jre.records import ChatRequest, Sampling
from openai_server import ServerProcess


@pytest.fixture(scope="module")
def server():
    with ServerProcess(models="teacher,other", retry_after=0.05, hang=10) as s:
        yield s


def _client(base_url, **options):
    engine = get_plugins().get("engine", "openai")
    options = {"model": "teacher", "base_url": base_url, "timeout": 2.0, "backoff_base": 0.02,
               **options}
    return engine.load(engine.parse_config(options))


def _ask(client, *prompts, **sampling):
    reqs = [ChatRequest(id=f"r{i}", messages=[{"role": "user", "content": p}],
                        sampling=Sampling(**sampling)) for i, p in enumerate(prompts)]
    return {r.id: gens for r, gens in client.generate(reqs)}


@pytest.mark.parametrize("fmt, closed, has_content", [
    ("r1", True, True), ("r1_no_open", True, True), ("reasoning", True, True),
    ("reasoning_content", True, True), ("reasoning_unclosed", False, False),
    ("truncated", False, False), ("plain", True, True),
])
def test_reasoning_formats(server, fmt, closed, has_content):
    [gen] = _ask(_client(server.base_url), f"What is 3+4? @fmt:{fmt}")["r0"]
    assert gen.think_closed is closed
    assert (gen.content is not None) is has_content
    if fmt != "plain":
        assert gen.reasoning.startswith("Let me think about: What is 3+4?")
    else:
        assert gen.reasoning is None
    if has_content:
        assert gen.content == f"The answer to 'What is 3+4? @fmt:{fmt}' is 7."
    assert gen.finish_reason == ("stop" if closed else "length")
    assert gen.prompt_tokens == 4 and gen.completion_tokens > 3


def test_prefilled_and_harmony_need_their_format(server):
    [gen] = _ask(_client(server.base_url, reasoning_format="harmony"), "q @fmt:harmony")["r0"]
    assert gen.reasoning.startswith("Let me think") and gen.content.startswith("The answer")
    [gen] = _ask(_client(server.base_url, reasoning_format="harmony"), "q @fmt:harmony_unclosed")["r0"]
    assert gen.think_closed is False and gen.content is None
    [gen] = _ask(_client(server.base_url, prefilled_think=True), "q @fmt:prefilled")["r0"]
    assert gen.think_closed and gen.reasoning.startswith("Let me think")


def test_n_samples_and_truncation_is_not_retried(server):
    client = _client(server.base_url)
    before = server.stats()["requests"]
    gens = _ask(client, "q @fmt:truncated", n=3)["r0"]
    assert [g.reasoning.endswith(f"(sample {i}). and then") for i, g in enumerate(gens)] == [True] * 3
    assert server.stats()["requests"] - before == 1
    assert client.stats["retries"] == 0


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "malformed", "drop"])
def test_each_fault_is_retried(server, fault):
    client = _client(server.base_url, timeout=0.5)
    before = server.stats()[fault]
    result = _ask(client, f"fault {time.time()} @fault:{fault}")
    assert result["r0"][0].content is not None
    assert server.stats()[fault] - before == 1
    kind = {"drop": "connection"}.get(fault, fault)
    assert client.stats["errors"] == {kind: 1} and client.stats["retries"] == 1


def test_retry_after_is_honoured():
    with ServerProcess(retry_after=0.6) as slow:
        client = _client(slow.base_url)
        start = time.monotonic()
        _ask(client, "@fault:429")
        assert time.monotonic() - start >= 0.6


def test_gives_up_after_max_retries(server):
    client = _client(server.base_url, max_retries=0)
    assert _ask(client, f"x {time.time()} @fault:500", "fine") .keys() == {"r1"}
    assert client.stats["failed"] == 1 and client.failed[0][0] == "r0"


def test_pool_spreads_work_over_servers():
    with ServerProcess(latency=0.05) as first, ServerProcess(latency=0.05) as second:
        client = _client([first.base_url, second.base_url], concurrency=8)
        assert len(_ask(client, *[f"p{i}" for i in range(40)])) == 40
        a, b = first.stats()["requests"], second.stats()["requests"]
        assert a + b == 40 and a >= 10 and b >= 10


def test_rpm_limit_paces_requests(server):
    client = _client(server.base_url, rpm=600)  # 10 a second, a burst of one second's worth
    start = time.monotonic()
    assert len(_ask(client, *[f"p{i}" for i in range(20)])) == 20
    assert time.monotonic() - start >= 0.9


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_names_the_url():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(UserError) as info:
        _ask(_client(url), "q")
    assert url in str(info.value) and "reach" in str(info.value)


def test_wrong_model_names_model_and_url(server):
    with pytest.raises(UserError) as info:
        _ask(_client(server.base_url, model="no-such-model"), "q")
    assert "no-such-model" in str(info.value) and server.base_url in str(info.value)
    with pytest.raises(UserError) as info:  # without the /models check: the 404 itself
        _ask(_client(server.base_url, model="no-such-model", check_endpoint=False), "q")
    assert "404" in str(info.value) and "no-such-model" in str(info.value)


def test_api_key_from_named_variable(monkeypatch):
    monkeypatch.delenv("JRE_TEST_KEY", raising=False)
    with ServerProcess(api_key="sekrit") as guarded:
        with pytest.raises(UserError) as info:
            _client(guarded.base_url, api_key_env="JRE_TEST_KEY")
        assert "JRE_TEST_KEY" in str(info.value)
        monkeypatch.setenv("JRE_TEST_KEY", "wrong")
        with pytest.raises(UserError) as info:
            _ask(_client(guarded.base_url, api_key_env="JRE_TEST_KEY"), "q")
        assert "API key" in str(info.value) and "sekrit" not in str(info.value)
        monkeypatch.setenv("JRE_TEST_KEY", "sekrit")
        client = _client(guarded.base_url, api_key_env="JRE_TEST_KEY")
        assert _ask(client, "q")["r0"][0].content
        assert "sekrit" not in repr(client.config.model_dump())


def test_close_position_from_logprobs_and_reasoning_tokens(server):
    """Where the trace closed: from the per-token logprobs of the text, or from usage's
    reasoning_tokens when the server split the trace; unknown without either."""
    with_logprobs = _client(server.base_url, extra_body={"logprobs": True})
    gen = _ask(with_logprobs, "@fmt:r1 What is 3 + 4?")["r0"][0]
    # "<think>\n", "Let ", "me ", "think ", "about: ", "@fmt:r1 ", "What ", "is ", "3 ", "+ ",
    # "4? ", "(sample ", "0).\n", "</think>\n\n": the tag is the 14th piece.
    assert gen.think_closed and gen.think_close_tokens == 14
    split = _ask(_client(server.base_url), "@fmt:reasoning What is 3 + 4?")["r0"][0]
    assert split.split_by == "reasoning_field" and split.think_close_tokens == len(split.reasoning.split())
    unclosed = _ask(with_logprobs, "@fmt:truncated What is 3 + 4?")["r0"][0]
    assert not unclosed.think_closed and unclosed.think_close_tokens is None
    plain = _ask(_client(server.base_url), "@fmt:r1 What is 3 + 4?")["r0"][0]
    assert plain.think_closed and plain.think_close_tokens is None
