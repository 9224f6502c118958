"""The ``openai`` engine: any OpenAI-compatible chat server (vLLM serve, SGLang, hosted APIs).

Requests run on an asyncio loop in a background thread with at most ``concurrency`` in
flight, spread over a pool of base URLs (the least busy first). 429, 5xx, time-outs, dropped
connections and malformed JSON are retried with exponential backoff and full jitter,
honouring ``Retry-After``. A response with fewer choices than ``n`` (transformers serve
ignores ``n``) has each missing choice asked for as a request of its own (``n = 1``, seed
+ index), and once a server has done that, later requests go out that way from the start;
choices still missing after their retries make the request a failure (kept in ``failed``
with the endpoint and the server's own message) while the ones that came are handed on.
A truncated output (``finish_reason = "length"``) is data. A wrong
model name, a rejected API key or an endpoint that cannot be reached is a
:class:`~jre.errors.UserError` naming the URL, model or variable. The API key is read from the
environment variable named by ``api_key_env`` and is never stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import Field, field_validator

from jre import hookimpl
from jre.budget import close_position
from jre.errors import UserError
from jre.kinds.engine import Engine, EngineConfig, new_stats
from jre.plugins.engines._ratelimit import RateLimiter
from jre.reasoning import generation_from_message
from jre.records import ChatRequest, Generation

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}


class OpenAIConfig(EngineConfig):
    """Options of the ``openai`` engine."""

    base_url: str | list[str] = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = None
    concurrency: int = Field(default=64, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=8, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=60.0, ge=0)
    check_endpoint: bool = True
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one base URL")
        return value

    @property
    def base_urls(self) -> list[str]:
        """The pool of base URLs, without trailing slashes."""
        urls = [self.base_url] if isinstance(self.base_url, str) else self.base_url
        return [u.rstrip("/") for u in urls]


class RequestFailed(Exception):
    """A request that could not be completed (kept in :attr:`OpenAIClient.failed`)."""


class _Retry(Exception):
    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind, self.retry_after = kind, retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _estimate_tokens(request: ChatRequest) -> int:
    # ~4 characters a token: good enough to pace a tokens-per-minute budget.
    return sum(len(m.get("content") or "") for m in request.messages) // 4 + 1


class OpenAIClient:
    """A connection pool to one or more OpenAI-compatible servers; see :class:`OpenAIEngine`."""

    def __init__(self, config: OpenAIConfig) -> None:
        if not config.model:
            raise UserError("the openai engine needs a model name", field="engine.model")
        self.config = config
        self.urls = config.base_urls
        self._headers = {"Content-Type": "application/json"}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise UserError(f"environment variable {config.api_key_env} (the API key) is not set",
                                field="engine.api_key_env")
            self._headers["Authorization"] = f"Bearer {key}"
        self.stats: dict[str, Any] = {**new_stats(), "failed": 0, "missing_samples": 0,
                                      "split_requests": 0}
        # (request id, why): why names the endpoint and keeps the server's own message.
        self.failed: list[tuple[str, str]] = []
        self._ignores_n = False
        self._inflight = {u: 0 for u in self.urls}
        self._rng = random.Random()
        self._checked = not config.check_endpoint

    # -- the public, synchronous side ---------------------------------------------------

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        """Yield ``(request, generations)`` as requests finish; failed ones are skipped and
        listed in :attr:`failed` (and counted in ``stats["failed"]``)."""
        out: queue.Queue[Any] = queue.Queue()
        done = object()
        stop = threading.Event()

        def runner() -> None:
            try:
                asyncio.run(self._run(iter(requests), out, stop))
            except BaseException as exc:  # handed to the consumer thread
                out.put(exc)
            finally:
                out.put(done)

        thread = threading.Thread(target=runner, name="jre-openai", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=30)

    def close(self) -> None:
        """Nothing is held between :meth:`generate` calls."""

    # -- the asyncio side ---------------------------------------------------------------

    async def _run(self, requests: Iterator[ChatRequest], out: queue.Queue[Any],
                   stop: threading.Event) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        self._rpm = _limiter(self.config.rpm)
        self._tpm = _limiter(self.config.tpm)
        # Bounds HTTP requests in flight, choices asked for separately included.
        self._slots = asyncio.Semaphore(self.config.concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         headers=self._headers, json_serialize=json.dumps) as session:
            if not self._checked:
                await self._check(session)
                self._checked = True
            pending: set[asyncio.Task[Any]] = set()
            exhausted = False
            while not stop.is_set():
                while not exhausted and len(pending) < self.config.concurrency:
                    request = next(requests, None)
                    if request is None:
                        exhausted = True
                        break
                    pending.add(asyncio.create_task(self._one(session, request)))
                if not pending:
                    break
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    result = task.result()  # a UserError ends the run
                    if result is not None:
                        out.put(result)
            for task in pending:
                task.cancel()

    async def _check(self, session: Any) -> None:
        """Each base URL must answer; where it lists its models, ours must be among them."""
        import aiohttp

        alive = []
        for url in self.urls:
            try:
                async with session.get(f"{url}/models", timeout=aiohttp.ClientTimeout(total=10)) as r:
                    if r.status in (401, 403):
                        raise UserError(f"the server rejected the API key (HTTP {r.status})"
                                        + (f"; check ${self.config.api_key_env}"
                                           if self.config.api_key_env else "; set api_key_env"),
                                        where=url)
                    if r.status == 200:
                        data = await r.json(content_type=None)
                        ids = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
                        if ids and self.config.model not in ids:
                            raise UserError(f"model {self.config.model!r} is not served here "
                                            f"(it serves {', '.join(map(str, ids[:5]))})",
                                            where=url, field="engine.model")
                alive.append(url)
            except (TimeoutError, aiohttp.ClientConnectionError, ValueError) as exc:
                self.stats["errors"]["unreachable"] = self.stats["errors"].get("unreachable", 0) + 1
                last = f"cannot reach the endpoint ({type(exc).__name__})"
                if len(self.urls) == 1:
                    raise UserError(last, where=url) from None
        if not alive:
            raise UserError("no endpoint of the pool can be reached", where=", ".join(self.urls))
        self.urls = alive
        self._inflight = {u: 0 for u in alive}

    def _pick(self, avoid: str | None) -> str:
        urls = [u for u in self.urls if u != avoid] or self.urls
        low = min(self._inflight[u] for u in urls)
        return self._rng.choice([u for u in urls if self._inflight[u] == low])

    def _body(self, request: ChatRequest, *, n: int | None = None,
              seed_offset: int = 0) -> dict[str, Any]:
        s = request.sampling
        body: dict[str, Any] = {"model": self.config.model, "messages": request.messages,
                                "n": s.n if n is None else n, "temperature": s.temperature,
                                "top_p": s.top_p, "max_tokens": s.max_tokens, **self.config.extra_body}
        if s.seed is not None:
            # Choices asked for one by one get their own seeds, else they would all be equal.
            body["seed"] = s.seed + seed_offset
        if s.stop:
            body["stop"] = s.stop
        kwargs = dict(request.chat_template_kwargs)
        if "reasoning_effort" in kwargs:  # the OpenAI API's own parameter (gpt-oss)
            body["reasoning_effort"] = kwargs["reasoning_effort"]
        if kwargs:
            body["chat_template_kwargs"] = {**body.get("chat_template_kwargs", {}), **kwargs}
        if request.messages and request.messages[-1].get("role") == "assistant":
            # A prefilled assistant turn (lm-eval's gen_prefix) is continued, not closed
            # (vLLM's and SGLang's chat-completions extensions).
            body.setdefault("add_generation_prompt", False)
            body.setdefault("continue_final_message", True)
        return body

    async def _one(self, session: Any, request: ChatRequest) -> tuple[ChatRequest, list[Generation]] | None:
        """All ``n`` choices of one request. A server that returns fewer choices than asked
        (transformers serve ignores ``n``) gets each missing choice as a request of its own;
        choices still missing after their retries are a failure of the request, while the
        ones that came are still handed on."""
        n = request.sampling.n
        if n > 1 and self._ignores_n:
            gens: list[Generation] = []
            why = None
        else:
            gens, why = await self._attempts(session, request, self._body(request), want=n)
            if why is not None:
                self._fail(request, why)
                return None
            gens = gens[:n]
            if len(gens) < n:
                self._ignores_n = True
                errors = self.stats["errors"]
                errors["fewer_choices"] = errors.get("fewer_choices", 0) + 1
        if len(gens) < n:
            start = len(gens)
            bodies = [self._body(request, n=1, seed_offset=k) for k in range(start, n)]
            self.stats["split_requests"] += len(bodies)
            results = await asyncio.gather(*(self._attempts(session, request, body, want=1)
                                             for body in bodies))
            reasons = []
            for extra, reason in results:
                if extra:
                    gens.append(extra[0])
                elif reason:
                    reasons.append(reason)
            if len(gens) < n:
                self._fail(request, f"{len(gens)} of {n} choices after asking for each missing one "
                                    f"separately ({reasons[0] if reasons else 'no choice returned'})",
                           missing=n - len(gens))
                if not gens:
                    return None
        self.stats["requests"] += 1
        self.stats["generations"] += len(gens)
        if self._tpm:
            self._tpm.charge(sum(g.completion_tokens or 0 for g in gens))
        return request, gens

    async def _attempts(self, session: Any, request: ChatRequest, body_data: dict[str, Any],
                        *, want: int) -> tuple[list[Generation], str | None]:
        """One HTTP request with its retries: ``(generations, None)``, or ``([], why)`` naming
        the endpoint and the server's reason once it cannot succeed."""
        body = json.dumps(body_data)
        url: str | None = None
        for attempt in range(self.config.max_retries + 1):
            if self._rpm:
                await self._rpm.acquire(1)
            if self._tpm:
                await self._tpm.acquire(_estimate_tokens(request))
            url = self._pick(url)
            self._inflight[url] += 1
            try:
                async with self._slots:
                    gens = await self._post(session, url, body)
                if len(gens) < min(want, 1):
                    raise _Retry("no_choices")
            except _Retry as retry:
                errors = self.stats["errors"]
                errors[retry.kind] = errors.get(retry.kind, 0) + 1
                if attempt >= self.config.max_retries:
                    return [], f"{url}: gave up after {attempt + 1} attempts (last: {retry.kind})"
                self.stats["retries"] += 1
                await asyncio.sleep(self._backoff(attempt, retry.retry_after))
                continue
            except RequestFailed as exc:
                return [], f"{url}: {exc}"
            finally:
                self._inflight[url] -= 1
            return gens, None
        return [], f"{url}: gave up"

    def _fail(self, request: ChatRequest, why: str, missing: int | None = None) -> None:
        self.stats["failed"] += 1
        self.stats["missing_samples"] += request.sampling.n if missing is None else missing
        self.failed.append((request.id, why))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** attempt)
        wait = self._rng.uniform(0, cap)  # full jitter
        if retry_after is not None:
            wait = retry_after + self._rng.uniform(0, min(1.0, retry_after * 0.1 + 0.01))
        return wait

    async def _post(self, session: Any, url: str, body: str) -> list[Generation]:
        import aiohttp

        try:
            async with session.post(f"{url}/chat/completions", data=body) as r:
                raw = await r.read()
                status = r.status
                retry_after = _retry_after(r.headers.get("Retry-After"))
        except TimeoutError:
            raise _Retry("timeout") from None
        except aiohttp.ClientConnectorError as exc:
            raise _Retry("connection") from exc
        except (aiohttp.ClientError, ConnectionError):
            raise _Retry("connection") from None
        if status != 200:
            message = _error_message(raw)
            if status == 404:
                raise UserError(f"HTTP 404 for model {self.config.model!r}: {message}",
                                where=f"{url}/chat/completions", field="engine.model")
            if status in (401, 403):
                raise UserError(f"the server rejected the API key (HTTP {status}): {message}",
                                where=url, field="engine.api_key_env")
            if status in RETRYABLE_STATUS:
                raise _Retry(str(status), retry_after)
            raise RequestFailed(f"HTTP {status}: {message}")
        try:
            data = json.loads(raw)
            choices = data["choices"]
        except (ValueError, KeyError, TypeError):
            raise _Retry("malformed") from None
        usage = data.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_total = usage.get("completion_tokens")
        self.stats["prompt_tokens"] += prompt_tokens or 0
        self.stats["completion_tokens"] += completion_total or 0
        per_choice = (completion_total // len(choices)) if completion_total and choices else None
        gens = [self._generation(c, prompt_tokens, per_choice)
                for c in sorted(choices, key=lambda c: c.get("index", 0))]
        reasoning_tokens = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
        for choice, gen in zip(sorted(choices, key=lambda c: c.get("index", 0)), gens):
            gen.think_close_tokens = self._close_tokens(
                choice, gen, reasoning_tokens if len(choices) == 1 else None)
        return gens

    def _close_tokens(self, choice: dict[str, Any], gen: Generation,
                      reasoning_tokens: Any) -> int | None:
        """Where the trace closed, as far as the response tells: from the per-token
        ``logprobs`` of the text when the server returned them and split nothing, else
        from ``usage.completion_tokens_details.reasoning_tokens`` (one choice only)."""
        if not gen.think_closed:
            return None
        tokens = [t.get("token", "") for t in ((choice.get("logprobs") or {}).get("content") or [])
                  if isinstance(t, dict)]
        if tokens and gen.split_by != "reasoning_field":
            return close_position(list(range(len(tokens))),
                                  lambda ids: "".join(tokens[i] for i in ids),
                                  reasoning_format=self.config.reasoning_format,
                                  prefilled=bool(self.config.prefilled_think))
        if gen.reasoning is None:
            return 0
        return reasoning_tokens if isinstance(reasoning_tokens, int) else None

    def _generation(self, choice: dict[str, Any], prompt_tokens: int | None,
                    completion_tokens: int | None) -> Generation:
        # The server's chat template may have prefilled <think>, which this client cannot
        # see: a reasoning field in the response settles it, else the recipe's
        # prefilled_think does (Generation.split_by records which).
        return generation_from_message(choice.get("message") or {},
                                       prefilled=bool(self.config.prefilled_think),
                                       finish_reason=choice.get("finish_reason"),
                                       # vLLM's stop_reason, SGLang's matched_stop
                                       stop_reason=(choice.get("stop_reason")
                                                    if choice.get("stop_reason") is not None
                                                    else choice.get("matched_stop")),
                                       reasoning_format=self.config.reasoning_format,
                                       prompt_tokens=prompt_tokens,
                                       completion_tokens=completion_tokens)


def _limiter(per_minute: float | None):
    return RateLimiter(per_minute) if per_minute else None


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        err = data.get("error", data)
        return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
    except ValueError:
        return raw[:500].decode("utf-8", "replace")


class OpenAIEngine(Engine[OpenAIConfig]):
    """Any OpenAI-compatible chat-completions server, or a pool of them."""

    name = "openai"
    description = "OpenAI-compatible HTTP servers (vLLM serve, SGLang, hosted APIs), async with retries"
    config_model = OpenAIConfig

    def load(self, config: OpenAIConfig | None) -> OpenAIClient:
        return OpenAIClient(config or OpenAIConfig())


@hookimpl
def register_engines(register):
    register(OpenAIEngine())
