"""The ``vllm`` engine: offline batch generation with ``vllm.LLM`` on GPUs.

vLLM is imported only when the engine is loaded; without it, loading says in one line how
to install ``jre[vllm]``. Prompts are rendered with the model's chat template and handed to
vLLM as token ids (``TokensPrompt``), so a template that writes BOS itself does not get a
second one from tokenization. Tensor/pipeline-parallel settings and any other ``vllm.LLM``
argument (``llm_kwargs``) pass straight through. One ``vllm.LLM`` is one replica: data
parallelism is one process per replica (``jre synth --shard I/N`` on disjoint GPUs, see
``jre jobs``) or ``vllm serve --data-parallel-size N`` behind the ``openai`` engine
(docs/cluster.md). gpt-oss output is decoded with special tokens kept and split by its
Harmony channels (``reasoning_format = "harmony"``); ``chat_template_kwargs`` carries e.g.
``reasoning_effort``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pydantic import Field, field_validator

from jre import hookimpl
from jre.budget import close_position
from jre.errors import UserError
from jre.kinds.engine import (
    Engine,
    EngineConfig,
    ReasoningFormat,
    chat_template_flags,
    new_stats,
    split_generation,
)
from jre.records import ChatRequest, Generation, Sampling

INSTALL_HINT = "the vllm engine needs vLLM: pip install 'jre[vllm]' (on a machine with a GPU)"


class VLLMConfig(EngineConfig):
    """Options of the ``vllm`` engine."""

    tensor_parallel_size: int = Field(default=1, ge=1)
    pipeline_parallel_size: int = Field(default=1, ge=1)
    data_parallel_size: int = Field(default=1, ge=1)
    dtype: str = "auto"
    max_model_len: int | None = Field(default=None, gt=0)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    seed: int = 0
    trust_remote_code: bool = False
    enable_prefix_caching: bool = True
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    llm_kwargs: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=1024, ge=1)  # prompts handed to vLLM at a time
    # Kept False by default: where <think>/</think> are special tokens, vLLM's default (True)
    # would erase them and every unclosed trace would read as a plain answer.
    skip_special_tokens: bool = False

    @field_validator("data_parallel_size")
    @classmethod
    def _one_replica_per_process(cls, value: int) -> int:
        # vllm.LLM(data_parallel_size>1) in one process is refused by vLLM (it may hang).
        if value > 1:
            raise ValueError("vllm.LLM runs one replica per process: for data parallelism run one "
                             "`jre synth --shard I/N` per replica on its own GPUs (`jre jobs synth "
                             "--replicas-per-node`), or `vllm serve --data-parallel-size N` with the "
                             "openai engine (docs/cluster.md)")
        return value


def llm_arguments(config: VLLMConfig) -> dict[str, Any]:
    """The keyword arguments of ``vllm.LLM`` for ``config`` (``llm_kwargs`` last, so they win)."""
    kwargs: dict[str, Any] = dict(
        model=config.model, tensor_parallel_size=config.tensor_parallel_size,
        pipeline_parallel_size=config.pipeline_parallel_size, dtype=config.dtype,
        gpu_memory_utilization=config.gpu_memory_utilization, seed=config.seed,
        trust_remote_code=config.trust_remote_code,
        enable_prefix_caching=config.enable_prefix_caching)
    if config.max_model_len:
        kwargs["max_model_len"] = config.max_model_len
    kwargs.update(config.llm_kwargs)
    return kwargs


def sampling_problem(sampling: Sampling) -> str | None:
    """Why vLLM would refuse ``sampling``, or ``None``."""
    if sampling.temperature == 0 and sampling.n > 1:
        return (f"temperature 0 is greedy decoding, so vLLM accepts only n = 1 (got n = {sampling.n}); "
                "raise the temperature or ask for one sample")
    return None


def render_prompt(tokenizer: Any, request: ChatRequest, config: VLLMConfig) -> tuple[str, dict[str, Any]]:
    """The chat-template text of ``request`` and its ``TokensPrompt`` (``{"prompt_token_ids": ...}``).

    The ids are the rendered text encoded without adding special tokens: whatever BOS the
    template writes is the only one.
    """
    kwargs = {**config.chat_template_kwargs, **request.chat_template_kwargs}
    text = tokenizer.apply_chat_template(request.messages, tokenize=False,
                                         **chat_template_flags(request.messages), **kwargs)
    ids = tokenizer.encode(text, add_special_tokens=False)
    return text, {"prompt_token_ids": list(ids)}


def outputs_to_generations(output: Any, *, reasoning_format: ReasoningFormat, prefilled: bool,
                           decode: Callable[[Sequence[int]], str] | None = None) -> list[Generation]:
    """Turn one ``vllm.RequestOutput`` (or an object shaped like it) into generations;
    with ``decode`` (the tokenizer's, special tokens kept) each records where its trace
    closed in its output token ids."""
    prompt_tokens = len(output.prompt_token_ids) if getattr(output, "prompt_token_ids", None) else None
    gens = []
    for completion in output.outputs:
        finish = completion.finish_reason
        gens.append(split_generation(completion.text, reasoning_format=reasoning_format,
                                     prefilled=prefilled, finish_reason=finish,
                                     prompt_tokens=prompt_tokens,
                                     completion_tokens=len(completion.token_ids)))
        if decode is not None and completion.token_ids:
            gens[-1].think_close_tokens = close_position(
                list(completion.token_ids), decode, reasoning_format=reasoning_format,
                prefilled=prefilled)
    return gens


class VLLMClient:
    """A loaded ``vllm.LLM``; see :class:`VLLMEngine`."""

    def __init__(self, config: VLLMConfig) -> None:
        try:
            import vllm
        except ImportError:
            raise UserError(INSTALL_HINT, field="engine.name") from None
        if not config.model:
            raise UserError("the vllm engine needs a model path or id", field="engine.model")
        self.config = config
        self._vllm = vllm
        self.llm = vllm.LLM(**llm_arguments(config))
        self.tokenizer = self.llm.get_tokenizer()
        self.stats: dict[str, Any] = new_stats()

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def _params(self, request: ChatRequest) -> Any:
        s = request.sampling
        problem = sampling_problem(s)
        if problem:
            raise UserError(problem, field="sampling")
        return self._vllm.SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p,
                                         max_tokens=s.max_tokens, seed=s.seed, stop=s.stop,
                                         skip_special_tokens=self.config.skip_special_tokens)

    def generate(self, requests: Iterable[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        """Generate in chunks of ``batch_size`` prompts (vLLM schedules within a chunk)."""
        chunk: list[ChatRequest] = []
        for request in requests:
            chunk.append(request)
            if len(chunk) >= self.config.batch_size:
                yield from self._run(chunk)
                chunk = []
        if chunk:
            yield from self._run(chunk)

    def _run(self, chunk: list[ChatRequest]) -> Iterator[tuple[ChatRequest, list[Generation]]]:
        rendered = [render_prompt(self.tokenizer, r, self.config) for r in chunk]
        params = [self._params(r) for r in chunk]
        outputs = self.llm.generate([tokens for _, tokens in rendered], params, use_tqdm=False)
        for request, (prompt, _), output in zip(chunk, rendered, outputs):
            prefilled = self.config.prefilled_think
            if prefilled is None:
                prefilled = prompt.rstrip().endswith("<think>")
            gens = outputs_to_generations(output, reasoning_format=self.config.reasoning_format,
                                          prefilled=prefilled, decode=self._decode)
            self.stats["requests"] += 1
            self.stats["generations"] += len(gens)
            self.stats["prompt_tokens"] += (gens[0].prompt_tokens or 0) if gens else 0
            self.stats["completion_tokens"] += sum(g.completion_tokens or 0 for g in gens)
            yield request, gens

    def close(self) -> None:
        """Release the engine and its GPU memory."""
        self.llm = None
        try:
            import gc

            import torch

            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


class VLLMEngine(Engine[VLLMConfig]):
    """Offline batch generation with vLLM on one or more GPUs."""

    name = "vllm"
    description = "offline vllm.LLM batch generation on GPUs (install jre[vllm])"
    config_model = VLLMConfig

    def check_sampling(self, config: VLLMConfig | None, sampling: Sampling) -> str | None:
        return sampling_problem(sampling)

    def load(self, config: VLLMConfig | None) -> VLLMClient:
        return VLLMClient(config or VLLMConfig())


@hookimpl
def register_engines(register):
    register(VLLMEngine())
