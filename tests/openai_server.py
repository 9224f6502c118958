"""A scripted OpenAI-compatible chat server on loopback, for tests and the throughput bench.

Speaks just enough HTTP/1.1 (keep-alive, Content-Length) over asyncio to control every
failure exactly: ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /stats``.

What a request gets is chosen by directives in its last user message, else by the server
options: ``@fmt:NAME`` picks the reasoning format (see :data:`FORMATS`), ``@fmt1:NAME`` only
for the first request of that prompt, ``@fault:KIND`` forces one fault on the first attempt
of that prompt (see :data:`FAULTS`; ``400`` is a rejection no retry helps), ``@rec:NAME``
answers with the recorded choice NAME of the ``--recorded`` JSON file (``{NAME: {"message":
..., "finish_reason": ...}}``); with ``--ignore-n`` every answer has one choice whatever ``n``
asked (transformers serve); a prompt that
starts with "Translate the following" gets a translation (``【訳】`` + its last line). With
``--fault-rate p`` each request fails with probability ``p`` (seeded), cycling through the
fault kinds. Run it as ``python tests/openai_server.py --port 0 ...``; it prints
``LISTENING <port>`` when ready. :class:`ServerProcess` does that from Python.

A request with a system message (an LLM judge's prompt) that contains ``@judge:A+B+...``
(the last such directive in its last user message) gets judge reply ``A`` on its first
attempt with that prompt, ``B`` on the second and so on, the last one repeating:
``rN`` → ``... Rating: [[N]]``, ``fN`` → FastChat's fallback form ``Rating: [N]``, ``none``
→ a reply with no rating. ``GET /stats`` counts these requests as ``judge``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
from email.utils import formatdate
from pathlib import Path

FORMATS = ("r1", "r1_no_open", "prefilled", "reasoning", "reasoning_content",
           "reasoning_unclosed", "harmony", "harmony_unclosed", "truncated", "plain", "translate",
           "empty", "refusal", "english")
FAULTS = ("429", "500", "timeout", "malformed", "drop")
REJECTIONS = ("400",)
_DIRECTIVE = re.compile(r"@(fmt1|fmt|fault|rec):([\w.-]+)")
_JUDGE = re.compile(r"@judge:([\w+]+)")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


class Script:
    """The server's behaviour and counters."""

    def __init__(self, *, models: list[str], fmt: str = "r1", latency: float = 0.0,
                 fault_rate: float = 0.0, seed: int = 0, api_key: str | None = None,
                 retry_after: float = 0.05, hang: float = 30.0, ignore_n: bool = False,
                 recorded: dict | None = None) -> None:
        self.models, self.fmt, self.latency = models, fmt, latency
        self.ignore_n, self.recorded = ignore_n, recorded or {}
        self.fault_rate, self.rng, self.api_key = fault_rate, random.Random(seed), api_key
        self.retry_after, self.hang = retry_after, hang
        self.forced_done: set[str] = set()
        self.fmt_once_done: set[str] = set()
        self.judge_attempts: dict[str, int] = {}
        self.counts: dict[str, int] = {"requests": 0, "answered": 0, "choices": 0, "judge": 0,
                                       **{f: 0 for f in FAULTS + REJECTIONS}}
        self._cycle = 0

    def pick_fault(self, prompt: str) -> str | None:
        forced = dict(_DIRECTIVE.findall(prompt)).get("fault")
        if forced and prompt not in self.forced_done:
            self.forced_done.add(prompt)
            return forced
        if self.fault_rate and self.rng.random() < self.fault_rate:
            self._cycle += 1
            return FAULTS[self._cycle % len(FAULTS)]
        return None


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _choice(fmt: str, prompt: str, index: int) -> tuple[dict, str]:
    """The message and finish_reason of one choice in format ``fmt``."""
    line = prompt.strip().splitlines()[-1] if prompt.strip() else ""
    trace = f"Let me think about: {line} (sample {index})."
    answer = f"The answer to {line!r} is 7."
    if fmt == "r1":
        return {"content": f"<think>\n{trace}\n</think>\n\n{answer}"}, "stop"
    if fmt in ("r1_no_open", "prefilled"):
        return {"content": f"{trace}\n</think>\n\n{answer}"}, "stop"
    if fmt in ("reasoning", "reasoning_content"):
        return {fmt: trace, "content": answer}, "stop"
    if fmt == "reasoning_unclosed":
        return {"reasoning": trace + " and then", "content": None}, "length"
    if fmt == "harmony":
        return {"content": f"<|channel|>analysis<|message|>{trace}<|end|><|start|>assistant"
                           f"<|channel|>final<|message|>{answer}<|return|>"}, "stop"
    if fmt == "harmony_unclosed":
        return {"content": f"<|channel|>analysis<|message|>{trace} and then"}, "length"
    if fmt == "truncated":
        return {"content": f"<think>\n{trace} and then"}, "length"
    if fmt == "translate":
        return {"content": f"<think>\nTranslating.\n</think>\n\n【訳】{line}"}, "stop"
    if fmt == "empty":  # a closed trace and nothing after it
        return {"content": f"<think>\n{trace}\n</think>\n\n"}, "stop"
    if fmt == "refusal":
        return {"content": "<think>\nNo.\n</think>\n\nI'm sorry, but I can't help with that."}, "stop"
    if fmt == "english":  # an answer instead of a translation
        return {"content": f"<think>\nSolving.\n</think>\n\n{answer}"}, "stop"
    return {"content": answer}, "stop"


def _judge_reply(name: str) -> str:
    """The text of scripted judge reply ``name`` (see the module docstring)."""
    if name.startswith("r"):
        return f"The answer is adequate.\n\nRating: [[{name[1:]}]]"
    if name.startswith("f"):
        return f"The answer is adequate. Rating: [{name[1:]}]"
    return "I cannot judge this answer."


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"Content-Length: {len(body)}",
            "Content-Type: application/json", f"Date: {formatdate(usegmt=True)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _error(status: int, message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


async def _completion(script: Script, body: bytes, writer: asyncio.StreamWriter) -> bytes | None:
    try:
        req = json.loads(body)
    except json.JSONDecodeError:
        return _response(400, _error(400, "invalid JSON body", "invalid_request_error"))
    if req.get("model") not in script.models:
        return _response(404, _error(404, f"The model `{req.get('model')}` does not exist.",
                                     "NotFoundError"))
    messages = req.get("messages") or []
    prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    fault = script.pick_fault(prompt)
    if script.latency:
        await asyncio.sleep(script.latency)
    if fault:
        script.counts[fault] += 1
    if fault == "429":
        return _response(429, _error(429, "rate limited", "rate_limit_error"),
                         {"Retry-After": f"{script.retry_after:g}"})
    if fault == "500":
        return _response(500, _error(500, "internal error", "server_error"))
    if fault == "400":
        return _response(400, _error(400, "This model's maximum context length is 16 tokens. "
                                          "However, you requested 99 tokens.", "BadRequestError"))
    if fault == "timeout":
        await asyncio.sleep(script.hang)
        return None
    if fault == "drop":
        writer.transport.abort()
        return None
    judge = _JUDGE.findall(prompt)
    if judge and any(m.get("role") == "system" for m in messages):
        script.counts["judge"] += 1
        attempt = script.judge_attempts.get(prompt, 0)
        script.judge_attempts[prompt] = attempt + 1
        names = judge[-1].split("+")
        text = _judge_reply(names[min(attempt, len(names) - 1)])
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        script.counts["answered"] += 1
        return _response(200, json.dumps({
            "id": f"chatcmpl-{script.counts['requests']}", "object": "chat.completion",
            "created": int(time.time()), "model": req["model"], "choices": [choice],
            "usage": {"prompt_tokens": _words(prompt), "completion_tokens": _words(text),
                      "total_tokens": _words(prompt) + _words(text)}}).encode())
    default = "translate" if prompt.startswith("Translate the following") else script.fmt
    directives = dict(_DIRECTIVE.findall(prompt))
    fmt = directives.get("fmt", default)
    if "fmt1" in directives and prompt not in script.fmt_once_done:
        script.fmt_once_done.add(prompt)
        fmt = directives["fmt1"]
    choices = []
    completion = reasoning_words = 0
    record = directives.get("rec")
    for i in range(1 if script.ignore_n else int(req.get("n") or 1)):
        if record is not None:
            choice = {"index": i, **script.recorded[record]}
        else:
            message, finish = _choice(fmt, prompt, i)
            choice = {"index": i, "message": {"role": "assistant", **message}, "finish_reason": finish}
        message = choice["message"]
        completion += sum(_words(v) for k, v in message.items() if isinstance(v, str))
        if req.get("logprobs") and isinstance(message.get("content"), str):
            # One "token" per word with its trailing space, as a tokenizer's pieces.
            choice["logprobs"] = {"content": [{"token": t, "logprob": 0.0} for t in
                                              re.findall(r"\s*\S+\s*", message["content"])]}
        reasoning_words += sum(_words(message[k]) for k in ("reasoning", "reasoning_content")
                               if isinstance(message.get(k), str))
        choices.append(choice)
    script.counts["choices"] += len(choices)
    prompt_tokens = sum(_words(m.get("content") or "") for m in messages)
    payload = {"id": f"chatcmpl-{script.counts['requests']}", "object": "chat.completion",
               "created": int(time.time()), "model": req["model"], "choices": choices,
               "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                         "total_tokens": prompt_tokens + completion}}
    if reasoning_words:  # as hosted APIs split a trace's tokens out of completion_tokens
        payload["usage"]["completion_tokens_details"] = {"reasoning_tokens": reasoning_words}
    data = json.dumps(payload).encode()
    if fault == "malformed":
        data = data[: len(data) // 2]
    else:
        script.counts["answered"] += 1
    return _response(200, data)


async def _handle(script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in
                       (line.split(":", 1) for line in lines[1:] if ":" in line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if script.api_key and headers.get("authorization") != f"Bearer {script.api_key}":
                out: bytes | None = _response(401, _error(401, "invalid API key", "auth_error"))
            elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                script.counts["requests"] += 1
                out = await _completion(script, body, writer)
            elif method == "GET" and path.rstrip("/").endswith("/models"):
                out = _response(200, json.dumps({"object": "list", "data": [
                    {"id": m, "object": "model"} for m in script.models]}).encode())
            elif method == "GET" and path == "/stats":
                out = _response(200, json.dumps(script.counts).encode())
            else:
                out = _response(404, _error(404, f"no route {path}", "not_found"))
            if out is None:
                writer.transport.abort()
                return
            writer.write(out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(script: Script, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve forever, printing ``LISTENING <port>`` once bound."""
    server = await asyncio.start_server(lambda r, w: _handle(script, r, w), host, port,
                                        backlog=1024)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--models", default="teacher")
    parser.add_argument("--format", default="r1", choices=FORMATS)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key")
    parser.add_argument("--retry-after", type=float, default=0.05)
    parser.add_argument("--hang", type=float, default=30.0)
    parser.add_argument("--ignore-n", type=int, default=0, help="1: one choice per answer")
    parser.add_argument("--recorded", help="JSON file of recorded choices for @rec:NAME")
    a = parser.parse_args(argv)
    recorded = json.loads(Path(a.recorded).read_text(encoding="utf-8")) if a.recorded else None
    if recorded and "shapes" in recorded:  # tests/fixtures/response_shapes.json
        recorded = {shape["name"]: shape["choice"] for shape in recorded["shapes"]}
    script = Script(models=a.models.split(","), fmt=a.format, latency=a.latency,
                    fault_rate=a.fault_rate, seed=a.seed, api_key=a.api_key,
                    retry_after=a.retry_after, hang=a.hang, ignore_n=bool(a.ignore_n),
                    recorded=recorded)
    try:
        asyncio.run(serve(script, port=a.port))
    except KeyboardInterrupt:
        pass


class ServerProcess:
    """The server in its own process: ``with ServerProcess(latency=0.25) as s: s.base_url``."""

    def __init__(self, **options: object) -> None:
        self.args = [sys.executable, str(Path(__file__).resolve())]
        for key, value in options.items():
            self.args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, int]:
        """The server's counters (requests, answered, each fault kind)."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("LISTENING"):
            self.proc.kill()
            raise RuntimeError(f"test server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


if __name__ == "__main__":
    main()
