"""SFT examples as tokens: the assistant-only loss mask, padding, and exact packing.

* :func:`tokenize_chat` renders a conversation with the model's chat template and labels
  only the assistant turns (their text and the closing ``<|im_end|>``); prompt tokens get
  ``-100``. Spans are found on the rendered text with the tokenizer's character offsets, so
  the mask is right whatever the template adds around the turns.
* :class:`PaddingCollator` pads a micro-batch to its longest example (``packing = false``).
  Padding tokens carry no loss and attend to nothing, so this gives the same loss as the
  paper's padding to the full context, with less compute.
* :func:`pack_groups` + :class:`PackedCollator` (``packing = true``): several examples
  share one row, with position ids restarting at 0 for every example and *no* attention mask.
  transformers then detects the restarts and builds a block-diagonal causal mask (sdpa/eager), or uses variable-length
  flash-attention, so no token attends across examples.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jre.errors import UserError

IGNORE_INDEX = -100


def assistant_spans(messages: Sequence[dict[str, str]], tokenizer: Any) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns.

    Each span starts after the generation prompt (``<|im_start|>assistant\\n``) and ends after
    the turn's end-of-turn token, trailing newlines excluded.
    """
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = tokenizer.apply_chat_template(list(messages[:i]), tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(list(messages[: i + 1]), tokenize=False)
        if not (upto.startswith(prefix) and text.startswith(upto.rstrip("\n"))):
            raise UserError("the chat template does not render conversations prefix by prefix, so the "
                            "assistant-only loss mask cannot be placed", field="train.base_model")
        spans.append((len(prefix), len(upto.rstrip("\n"))))
    return text, spans


def tokenize_chat(messages: Sequence[dict[str, str]], tokenizer: Any) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (``-100`` outside assistant turns) of one conversation."""
    text, spans = assistant_spans(messages, tokenizer)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [IGNORE_INDEX] * len(ids)
    for j, (start, _end) in enumerate(enc["offset_mapping"]):
        if any(s <= start < e for s, e in spans):
            labels[j] = ids[j]
    return {"input_ids": ids, "labels": labels}


#: What the over-length policy did to one example (the train manifest counts each).
FIT_STATUSES = ("kept", "truncated", "dropped_over_length", "dropped_no_labels")


def fit_status(
    example: dict[str, list[int]], max_length: int, overlength: str
) -> tuple[dict[str, list[int]] | None, str]:
    """Apply the over-length policy and say what it did (one of :data:`FIT_STATUSES`).

    ``drop`` (the default) leaves out an example longer than ``max_length``: cutting it
    would train on a trace whose ``</think>`` and response are gone, which teaches exactly
    the unclosed traces the study measures. ``truncate`` keeps its first ``max_length``
    tokens. An example left with no label token (a prompt longer than the context) is
    dropped under either policy.
    """
    status = "kept"
    if len(example["input_ids"]) > max_length:
        if overlength == "drop":
            return None, "dropped_over_length"
        example = {k: v[:max_length] for k, v in example.items()}
        status = "truncated"
    if all(x == IGNORE_INDEX for x in example["labels"]):
        return None, "dropped_no_labels"
    return example, status


def template_overhead(tokenizer: Any) -> int:
    """Tokens the chat template needs around an empty user turn and an empty assistant turn."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
                                         tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def pack_groups(lengths: Sequence[int], max_length: int, *, buffer: int = 20000) -> list[list[int]]:
    """Group example indices into rows of at most ``max_length`` tokens (best-fit decreasing).

    Works through ``buffer`` examples at a time so memory and time stay bounded on millions
    of examples; within a buffer each example (longest first) goes into the open row it fills
    most tightly. An example longer than ``max_length`` gets a row of its own.
    """
    groups: list[list[int]] = []
    for start in range(0, len(lengths), buffer):
        idx = sorted(range(start, min(start + buffer, len(lengths))), key=lambda i: (-lengths[i], i))
        rows: list[list[int]] = []
        free: list[tuple[int, int]] = []  # sorted (remaining capacity, row number)
        for i in idx:
            n = lengths[i]
            k = bisect.bisect_left(free, (n, -1))
            if k < len(free):
                room, row = free.pop(k)
                rows[row].append(i)
                bisect.insort(free, (room - n, row))
            else:
                rows.append([i])
                if max_length - n > 0:
                    bisect.insort(free, (max_length - n, len(rows) - 1))
        groups.extend(rows)
    return groups


@dataclass
class TokenMeter:
    """Counts real and padded tokens and the examples training has seen (for the log)."""

    tokens: int = 0
    positions: int = 0
    examples: int = 0
    rows: int = 0
    _mark: tuple[int, int, int] = field(default=(0, 0, 0))

    def take(self) -> tuple[int, int, int]:
        """Tokens, positions and examples since the previous call."""
        t, p, e = self.tokens - self._mark[0], self.positions - self._mark[1], self.examples - self._mark[2]
        self._mark = (self.tokens, self.positions, self.examples)
        return t, p, e


#: Keys the collators add for the training log; the trainer removes them before the forward pass.
STAT_KEYS = ("real_tokens", "num_examples")


def model_inputs(batch: dict[str, Any]) -> dict[str, Any]:
    """A collated batch without :data:`STAT_KEYS`, ready for ``model(**batch)``."""
    return {k: v for k, v in batch.items() if k not in STAT_KEYS}


class PaddingCollator:
    """Right-pads a micro-batch of examples to its longest one (``labels`` padded with -100)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.multiple = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.multiple:
            width = -(-width // self.multiple) * self.multiple
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for r, f in enumerate(features):
            n = len(f["input_ids"])
            ids[r, :n] = torch.tensor(f["input_ids"])
            labels[r, :n] = torch.tensor(f["labels"])
            mask[r, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask,
                "real_tokens": mask.sum(), "num_examples": torch.tensor(len(features))}


class PackedCollator:
    """Collates packed rows (lists of examples) without any attention mask.

    Position ids restart at 0 for every example, which is what makes transformers keep the
    examples apart; the first label of every example is -100 so no example is trained to
    predict the start of the next. Two layouts:

    * ``flatten=False`` (sdpa/eager): one batch row per packed row, ``[rows, longest]``; the
      tail of a shorter row is padding that forms its own position-0 segment, so real tokens
      never see it. Attention cost stays quadratic in the row, not in the micro-batch.
    * ``flatten=True`` (flash-attention varlen, which detects packing only at batch size 1):
      the whole micro-batch as one ``[1, tokens]`` sequence, no padding at all.
    """

    def __init__(self, pad_token_id: int = 0, *, flatten: bool = False) -> None:
        self.pad_token_id = pad_token_id
        self.flatten = flatten

    @staticmethod
    def _row(examples: list[dict[str, Any]]) -> tuple[list[int], list[int], list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for ex in examples:
            ids.extend(ex["input_ids"])
            labels.append(IGNORE_INDEX)
            labels.extend(ex["labels"][1:])
            positions.extend(range(len(ex["input_ids"])))
        return ids, labels, positions

    def __call__(self, rows: list[list[dict[str, Any]] | dict[str, Any]]) -> dict[str, Any]:
        import torch

        groups = [row if isinstance(row, list) else [row] for row in rows]
        if self.flatten:
            groups = [[ex for group in groups for ex in group]]
        built = [self._row(group) for group in groups]
        width = max(len(ids) for ids, _, _ in built)
        out_ids, out_labels, out_pos = [], [], []
        for ids, labels, positions in built:
            pad = width - len(ids)
            out_ids.append(ids + [self.pad_token_id] * pad)
            out_labels.append(labels + [IGNORE_INDEX] * pad)
            out_pos.append(positions + list(range(pad)))
        real = sum(len(ids) for ids, _, _ in built)
        return {"input_ids": torch.tensor(out_ids), "labels": torch.tensor(out_labels),
                "position_ids": torch.tensor(out_pos), "real_tokens": torch.tensor(real),
                "num_examples": torch.tensor(sum(len(row) for row in rows))}


class PackedRows:
    """A map-style dataset whose items are packed rows: lists of tokenized examples."""

    def __init__(self, examples: Any, groups: list[list[int]]) -> None:
        self.examples = examples
        self.groups = groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> list[dict[str, Any]]:
        return [self.examples[j] for j in self.groups[i]]


def padded_efficiency(lengths: Iterable[int], batch: int, pad_to: int | None = None) -> float:
    """Share of non-padding positions when padding ``batch`` examples at a time.

    ``pad_to`` pads every row to that width (the paper pads to the context length);
    otherwise each micro-batch is padded to its longest example.
    """
    lengths = list(lengths)
    real = sum(lengths)
    total = 0
    for i in range(0, len(lengths), batch):
        chunk = lengths[i:i + batch]
        total += len(chunk) * (pad_to or max(chunk))
    return real / total if total else 1.0


def packed_efficiency(lengths: Sequence[int], groups: list[list[int]], max_length: int) -> float:
    """Share of non-padding positions when each packed row is padded to ``max_length``."""
    real = sum(min(lengths[i], max_length) for g in groups for i in g)
    return real / (len(groups) * max_length) if groups else 1.0
