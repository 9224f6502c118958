"""The ``hf`` engine: transformers ``generate`` on CPU or GPU, batched with left padding.

What the tests and the CPU quickstart run on. Requests with the same sampling settings are
batched together; each batch is seeded from the engine seed (or the request's own) and the
ids of its requests, so the same requests give the same outputs on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from jre import hookimpl
from jre.budget import close_position
from jre.chat import ensure_chat_template
from jre.errors import UserError
from jre.kinds.engine import Engine, EngineConfig, chat_template_flags, new_stats, split_generation
from jre.records import ChatRequest, Generation, Sampling


class HFConfig(EngineConfig):
    """Options of the ``hf`` engine."""

    batch_size: int = Field(default=8, ge=1)
    device: str = "auto"  # "auto" → cuda when available, else cpu
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    seed: int = 0
    trust_remote_code: bool = False
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)


def render_prompt(tokenizer: Any, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> str:
    """The prompt text the engine generates from: the chat template applied to ``messages``
    (a final assistant message is continued; see :func:`chat_template_flags`)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, **chat_template_flags(messages),
                                         **kwargs)


def _sampling_key(s: Sampling) -> tuple[Any, ...]:
    return (s.n, s.temperature, s.top_p, s.max_tokens, s.seed, tuple(s.stop or ()))


def _batch_seed(base: int, requests: list[ChatRequest]) -> int:
    digest = hashlib.sha256(f"{base}|{'|'.join(r.id for r in requests)}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


class _StepCounter:
    """A transformers streamer that only counts decoding steps, so a long batch shows it is
    moving (``generate`` hands it the prompt first, then one token column per step)."""

    def __init__(self, on_step: Callable[[int, int], None], max_tokens: int) -> None:
        self.on_step, self.max_tokens, self.steps = on_step, max_tokens, 0

    def put(self, value: Any) -> None:
        if value.dim() > 1 and value.shape[-1] > 1:  # the prompt
            return
        self.steps += 1
        self.on_step(self.steps, self.max_tokens)

    def end(self) -> None:
        pass


class HFClient:
    """A loaded transformers model; see :class:`HFEngine`.

    ``on_step(tokens, max_tokens)``, when set, is called after every decoding step of the
    batch in flight (the eval stage shows it beside its bar)."""

    on_step: Callable[[int, int], None] | None = None

    def __init__(self, config: HFConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not config.model:
            raise UserError("the hf engine needs a model path or id", field="engine.model")
        self.config = config
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = config.dtype
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                config.model, trust_remote_code=config.trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                config.model, dtype=getattr(torch, dtype), trust_remote_code=config.trust_remote_code)
            # transformers types the wrapped Module.to as taking the model, not a device
            self.model: Any = model.to(device)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"cannot load model: {first}", where=config.model) from None
        self.model.eval()
        self.device = device
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        ensure_chat_template(self.tokenizer)
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = eos_ids
        self.pad_id = self.tokenizer.pad_token_id
        self.stats: dict[str, Any] = new_stats()

    def _prompt(self, request: ChatRequest) -> str:
        return render_prompt(self.tokenizer, request.messages,
                             {**self.config.chat_template_kwargs, **request.chat_template_kwargs})

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        """Generate for ``requests`` in batches of ``batch_size`` prompts with equal sampling."""
        groups: dict[tuple[Any, ...], list[ChatRequest]] = {}
        for request in requests:
            key = _sampling_key(request.sampling)
            group = groups.setdefault(key, [])
            group.append(request)
            if len(group) >= self.config.batch_size:
                yield from self._run_batch(group)
                groups[key] = []
        for group in groups.values():
            if group:
                yield from self._run_batch(group)

    def _run_batch(self, batch: list[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        import torch

        sampling = batch[0].sampling
        prompts = [self._prompt(r) for r in batch]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True,
                             add_special_tokens=False).to(self.device)
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        seed = sampling.seed if sampling.seed is not None else self.config.seed
        torch.manual_seed(_batch_seed(seed, batch))
        do_sample = sampling.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens, "num_return_sequences": sampling.n,
            "do_sample": do_sample, "pad_token_id": self.pad_id,
            "eos_token_id": sorted(self.eos_ids) or None,
        }
        if do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if sampling.stop:
            kwargs.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        if self.on_step is not None:
            kwargs["streamer"] = _StepCounter(self.on_step, sampling.max_tokens)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new_tokens = out[:, enc["input_ids"].shape[1]:].tolist()
        for i, request in enumerate(batch):
            prefilled = self.config.prefilled_think
            if prefilled is None:
                prefilled = prompts[i].rstrip().endswith("<think>")
            gens = [self._generation(new_tokens[i * sampling.n + j], sampling, prefilled,
                                     prompt_lens[i]) for j in range(sampling.n)]
            self.stats["requests"] += 1
            self.stats["generations"] += len(gens)
            self.stats["prompt_tokens"] += prompt_lens[i]
            self.stats["completion_tokens"] += sum(g.completion_tokens or 0 for g in gens)
            yield request, gens

    def _generation(self, ids: list[int], sampling: Sampling, prefilled: bool,
                    prompt_tokens: int) -> Generation:
        finish = "length"
        kept: list[int] = []
        for token in ids:
            kept.append(token)
            if token in self.eos_ids:
                finish = "stop"
                break
        if finish == "length":
            # A row that ended early without EOS was padded after a stop string matched
            # (possibly across the prompt boundary, so the text may not contain it).
            while kept and kept[-1] == self.pad_id:
                kept.pop()
            if len(kept) < sampling.max_tokens:
                finish = "stop"
        text_ids = [t for t in kept if t not in self.eos_ids and t != self.pad_id]
        completion_tokens = len(kept)
        text = self._decode(text_ids)
        for stop in sampling.stop or ():
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        gen = split_generation(text, reasoning_format=self.config.reasoning_format,
                               prefilled=prefilled, finish_reason=finish,
                               prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        if not sampling.stop:  # a stop string cut the text short of the ids
            gen.think_close_tokens = close_position(
                text_ids, self._decode,
                reasoning_format=self.config.reasoning_format, prefilled=prefilled)
        return gen

    def _decode(self, ids: Sequence[int]) -> str:
        text = self.tokenizer.decode(list(ids), skip_special_tokens=False)
        assert isinstance(text, str)  # one flat id list decodes to one string
        return text

    def close(self) -> None:
        """Free the model (and GPU memory)."""
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


class HFEngine(Engine[HFConfig]):
    """transformers ``generate``: batched, left-padded, seeded, on CPU or GPU."""

    name = "hf"
    description = "transformers generate on CPU or GPU (tests, CPU quickstart, small models)"
    config_model = HFConfig

    def load(self, config: HFConfig | None) -> HFClient:
        config = config or HFConfig()
        if config.model and not Path(config.model).expanduser().exists() and "/" not in config.model:
            raise UserError("no such model folder", where=config.model, field="engine.model")
        return HFClient(config)


@hookimpl
def register_engines(register):
    register(HFEngine())
