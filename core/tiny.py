"""Tiny Qwen3-architecture models built from a config, with a tokenizer trained offline.

Used by the tests and the CPU quickstart: saved with ``save_pretrained`` and loaded with
``from_pretrained`` exactly like a real model, so every code path stays the real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jre.chat import SPECIAL_TOKENS, ensure_chat_template

DEFAULT_CORPUS = (
    "Question: Tom has 3 apples and buys 4 more. How many apples does he have?",
    "<think>\n3 + 4 = 7. Check: 7 - 4 = 3. So the answer is 7.\n</think>\n\nThe answer is 7.",
    "問題: 太郎はりんごを3個持っていて、4個買いました。りんごは何個ですか？",
    "<think>\n3 + 4 = 7。確認: 7 - 4 = 3。答えは7です。\n</think>\n\n答えは7です。",
    "Answer: 42. 回答: 42. 答え：１２３. \\boxed{12}",
    "def add(a, b):\n    return a + b\n",
    "The quick brown fox jumps over the lazy dog. 日本語の文章を翻訳します。",
)


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 512, split_digits: bool = False):
    """A byte-level BPE tokenizer (any text encodes) with ChatML and think tokens.

    ``split_digits`` makes every digit its own token (as Qwen's tokenizer does), which lets a
    tiny model learn arithmetic digit by digit instead of memorising merged numbers.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", bos_token=None,
                                   additional_special_tokens=["<|im_start|>", "<think>", "</think>"])
    fast.padding_side = "left"
    return ensure_chat_template(fast)


def build_tiny_model(out_dir: str | Path, *, corpus: Iterable[str] = DEFAULT_CORPUS,
                     vocab_size: int = 512, hidden_size: int = 64, num_layers: int = 2,
                     num_heads: int = 4, num_kv_heads: int = 2, max_positions: int = 4096,
                     split_digits: bool = False, seed: int = 0) -> Path:
    """Write a randomly initialised tiny Qwen3 model and its tokenizer to ``out_dir``."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out = Path(out_dir)
    tokenizer = train_tokenizer(corpus, vocab_size, split_digits)
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers, num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads, head_dim=hidden_size // num_heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
