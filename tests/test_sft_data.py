"""SFT data: the assistant-only loss mask, packing that is exact, and the packing planner."""

from __future__ import annotations

import random

import pytest

from jre.lib.train.data import (
    IGNORE_INDEX,
    PackedCollator,
    PaddingCollator,
    fit_status,
    model_inputs,
    pack_groups,
    packed_efficiency,
    tokenize_chat,
)


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_loss_mask_token_by_token(tok):
    messages = [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "<think>\n3 + 4 = 7\n</think>\n\nThe answer is 7."}]
    ex = tokenize_chat(messages, tok)
    pieces = [(tok.decode([i]), label != IGNORE_INDEX) for i, label in zip(ex["input_ids"], ex["labels"])]
    # Hand-checked: the prompt (user turn and the assistant header) is masked; the assistant
    # text and its <|im_end|> are trained; the newline after <|im_end|> is not.
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    trained = "<think>\n3 + 4 = 7\n</think>\n\nThe answer is 7.<|im_end|>"
    n_prompt = next(i for i, (_, on) in enumerate(pieces) if on)
    assert "".join(p for p, _ in pieces[:n_prompt]) == prompt
    assert [on for _, on in pieces] == [False] * n_prompt + [True] * (len(pieces) - n_prompt - 1) + [False]
    assert "".join(p for p, _ in pieces[n_prompt:-1]) == trained
    assert pieces[n_prompt][0] == "<think>" and pieces[-2][0] == "<|im_end|>" and pieces[-1][0] == "\n"
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(ex["input_ids"], ex["labels"]))


def test_loss_mask_multi_turn_trains_every_assistant_turn(tok):
    messages = [{"role": "user", "content": "A"}, {"role": "assistant", "content": "B"},
                {"role": "user", "content": "C"}, {"role": "assistant", "content": "D"}]
    ex = tokenize_chat(messages, tok)
    trained = tok.decode([i for i, label in zip(ex["input_ids"], ex["labels"]) if label != IGNORE_INDEX])
    assert trained == "B<|im_end|>D<|im_end|>"


def test_overlength_policy():
    ex = {"input_ids": list(range(10)), "labels": [IGNORE_INDEX] * 4 + list(range(4, 10))}
    assert fit_status(ex, 6, "truncate") == ({"input_ids": list(range(6)), "labels": [IGNORE_INDEX] * 4 + [4, 5]},
                                             "truncated")
    assert fit_status(ex, 6, "drop") == (None, "dropped_over_length")
    assert fit_status(ex, 4, "truncate") == (None, "dropped_no_labels")  # nothing left to learn from
    assert fit_status(ex, 10, "drop") == (ex, "kept")


def _examples(tok, n=5):
    return [tokenize_chat([{"role": "user", "content": f"What is {i} + {2 * i}? 問題{i}"},
                           {"role": "assistant", "content": f"<think>\n{i} + {2 * i} = {3 * i}\n</think>\n\n"
                                                            + f"The answer is {3 * i}. " * (1 + i % 3)}], tok)
            for i in range(n)]


def _summed_loss(model, batch):
    import torch

    logits = model(**model_inputs(batch), use_cache=False).logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=IGNORE_INDEX, reduction="sum")


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_and_gradients_equal_one_by_one(tiny_model, tok, attn):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32, attn_implementation=attn)
    examples = _examples(tok)
    # Two packed rows of unequal length, as the sdpa/eager layout collates them.
    packed = model_inputs(PackedCollator(tok.pad_token_id)([examples[:3], examples[3:]]))
    assert packed["input_ids"].shape[0] == 2 and "attention_mask" not in packed

    model.zero_grad()
    loss_packed = _summed_loss(model, packed)
    loss_packed.backward()
    grads_packed = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    loss_single = sum(_summed_loss(model, PaddingCollator(tok.pad_token_id)([e])) for e in examples)
    loss_single.backward()
    assert abs(loss_packed.item() - loss_single.item()) <= 1e-4 * abs(loss_single.item())
    for name, p in model.named_parameters():
        scale = p.grad.abs().max().item() + 1e-12
        assert (grads_packed[name] - p.grad).abs().max().item() <= 1e-4 * scale, name

    # Per-token logits agree too; the control (positions running on, no restarts) lets the
    # examples attend to each other and visibly changes the logits of later examples.
    with torch.no_grad():
        single_logits = torch.cat([model(input_ids=torch.tensor([e["input_ids"]]), use_cache=False).logits[0]
                                   for e in examples])
        flat = model_inputs(PackedCollator(tok.pad_token_id, flatten=True)([examples]))
        assert flat["input_ids"].shape[0] == 1 and (flat["position_ids"] == 0).sum() == len(examples)
        packed_logits = model(**flat, use_cache=False).logits[0]
        leaky = dict(flat, position_ids=torch.arange(flat["input_ids"].shape[1])[None])
        leaky_logits = model(**leaky, use_cache=False).logits[0]
    assert (packed_logits - single_logits).abs().max().item() < 1e-4
    assert (leaky_logits - single_logits).abs().max().item() > 1e-2


def test_padded_batch_equals_one_by_one(tiny_model, tok):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    examples = _examples(tok)
    batch = PaddingCollator(tok.pad_token_id)(examples)
    assert batch["real_tokens"].item() == sum(len(e["input_ids"]) for e in examples)
    with torch.no_grad():
        padded = _summed_loss(model, batch).item()
        single = sum(_summed_loss(model, PaddingCollator(tok.pad_token_id)([e])).item() for e in examples)
    assert padded == pytest.approx(single, rel=1e-4)


def test_packed_collator_layouts():
    rows = [[{"input_ids": [1, 2, 3], "labels": [1, 2, 3]}, {"input_ids": [4, 5], "labels": [4, 5]}],
            [{"input_ids": [6, 7], "labels": [IGNORE_INDEX, 7]}]]
    flat = PackedCollator(0, flatten=True)(rows)
    assert flat["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    assert flat["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1]]
    assert flat["labels"].tolist() == [[IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5, IGNORE_INDEX, 7]]
    assert (flat["real_tokens"].item(), flat["num_examples"].item()) == (7, 3)
    per_row = PackedCollator(0)(rows)
    assert per_row["input_ids"].tolist() == [[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]]
    # The padding tail is a segment of its own (positions restart), so nothing attends to it.
    assert per_row["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 0, 1, 2]]
    assert per_row["labels"].tolist() == [[IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5], [IGNORE_INDEX, 7] + [IGNORE_INDEX] * 3]
    assert per_row["real_tokens"].item() == 7


def test_pack_groups_is_a_partition_within_the_context():
    rng = random.Random(0)
    lengths = [min(4096, int(rng.lognormvariate(6.0, 0.9)) + 1) for _ in range(3000)]
    groups = pack_groups(lengths, 4096, buffer=1000)
    flat = sorted(i for g in groups for i in g)
    assert flat == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in g) <= 4096 for g in groups)
    assert packed_efficiency(lengths, groups, 4096) > 0.95
    # An example longer than the context gets a row of its own.
    assert pack_groups([10, 5000, 10], 4096) in ([[1], [0, 2]], [[1], [2, 0]])


def test_fit_status_says_what_the_overlength_policy_did():
    from jre.lib.train.data import IGNORE_INDEX, fit_status

    long = {"input_ids": list(range(10)), "labels": [IGNORE_INDEX] * 4 + list(range(4, 10))}
    assert fit_status(long, 6, "drop") == (None, "dropped_over_length")
    cut, status = fit_status(long, 6, "truncate")
    assert status == "truncated" and cut["input_ids"] == list(range(6))
    assert fit_status(long, 4, "truncate") == (None, "dropped_no_labels")  # only prompt left
    assert fit_status(long, 10, "drop") == (long, "kept")
