"""Chat formatting: the ChatML template with ``<think>`` that jre ships for models without one."""

from __future__ import annotations

from typing import Any

# ChatML as Qwen3 uses it. The assistant turn of SFT data already holds
# "<think>\n…\n</think>\n\n…", so the template renders content verbatim.
CHATML_THINK_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking %}{{- '<think>\\n' }}{%- endif %}"
    "{%- endif %}"
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give ``tokenizer`` jre's ChatML template when it has none of its own."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_THINK_TEMPLATE
    return tokenizer


def assistant_text(trace: str | None, response: str | None) -> str:
    """The assistant turn of an SFT example: ``<think>\\n…\\n</think>\\n\\n…`` or the response alone."""
    if trace is None:
        return response or ""
    return f"<think>\n{trace}\n</think>\n\n{response or ''}"
