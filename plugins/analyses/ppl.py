"""``ppl``: perplexity of trace+response under the base model before training (Table 1's PPL).

Each example is rendered as training sees it (the instruction as the user turn, the
assistant turn ``<think>\\n…\\n</think>\\n\\n…``); the loss is taken on the assistant tokens
only, and the perplexity is exp of the token-weighted mean negative log-likelihood.
Batched through transformers on whatever device is available.
"""

from __future__ import annotations

import math

from pydantic import Field

from jre import hookimpl
from jre.chat import assistant_text, ensure_chat_template
from jre.errors import UserError
from jre.kinds import Analysis, StrictModel
from jre.kinds.analysis import AnalysisInputs, AnalysisOutput, ReportSection, mix_by_run
from jre.plugins.analyses.lengths import iter_examples, select_datasets


class PplConfig(StrictModel):
    """Options of ``ppl``."""

    model: str | None = None  # default: the inputs' base model
    datasets: list[str] | None = None
    max_examples: int = Field(default=256, ge=1)  # per dataset
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=4096, ge=16)  # longer examples are truncated
    device: str | None = None  # default: cuda when available, else cpu


def nll_batches(model, tokenizer, examples, *, batch_size: int, max_length: int, device: str):
    """Yield (summed NLL, token count) of the assistant tokens, one batch at a time."""
    import torch

    ensure_chat_template(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        seqs, labels = [], []
        for ex in batch:
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": ex["instruction"]}],
                                                   add_generation_prompt=True, tokenize=False)
            p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tokenizer(assistant_text(ex["trace"], ex["response"]),
                              add_special_tokens=False)["input_ids"]
            ids = (p_ids + a_ids)[:max_length]
            lab = ([-100] * len(p_ids) + a_ids)[:max_length]
            seqs.append(ids)
            labels.append(lab)
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        label_ids = torch.full((len(seqs), width), -100, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, lab) in enumerate(zip(seqs, labels)):
            input_ids[i, :len(s)] = torch.tensor(s)
            label_ids[i, :len(lab)] = torch.tensor(lab)
            mask[i, :len(s)] = 1
        with torch.no_grad():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        shift_logits = logits[:, :-1].float()
        shift_labels = label_ids[:, 1:].to(device)
        loss = torch.nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)),
                                                 shift_labels.reshape(-1), ignore_index=-100,
                                                 reduction="sum")
        yield float(loss), int((shift_labels != -100).sum())


class Perplexity(Analysis[PplConfig]):
    """Perplexity of each dataset's trace+response under the model before training."""

    name = "ppl"
    description = "perplexity of trace+response under the base model, per dataset"
    config_model = PplConfig

    def run(self, config: PplConfig | None, inputs: AnalysisInputs) -> AnalysisOutput:
        import pandas as pd
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        config = config or PplConfig()
        name = config.model or inputs.base_model
        if not name:
            raise UserError("no model to measure with: set `model` or give a base model",
                            field="analyze.ppl.model")
        device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(name)
        # transformers types the wrapped Module.to as taking the model, not a device
        model = AutoModelForCausalLM.from_pretrained(name).to(device).eval()  # type: ignore[arg-type]
        rows = []
        for dataset, files in select_datasets(inputs, config.datasets, "analyze.ppl.datasets").items():
            examples = list(iter_examples(files, config.max_examples))
            if not examples:
                continue
            total, tokens = 0.0, 0
            for nll, count in nll_batches(model, tokenizer, examples, batch_size=config.batch_size,
                                          max_length=config.max_length, device=device):
                total += nll
                tokens += count
            mean = total / max(tokens, 1)
            rows.append({"dataset": dataset, "n": len(examples), "tokens": tokens,
                         "mean_nll": mean, "ppl": math.exp(mean)})
        table = pd.DataFrame(rows, columns=["dataset", "n", "tokens", "mean_nll", "ppl"])
        lines = [f"Perplexity of trace+response under {name} (before training)."]
        lines += [f"- {r['dataset']}: PPL {r['ppl']:.2f} over {r['tokens']} tokens (n={r['n']})"
                  for r in table.to_dict("records")]
        return AnalysisOutput(summary="\n".join(lines), tables={"ppl": table},
                              data={"ppl": dict(zip(table["dataset"], table["ppl"])), "model": name},
                              sections=[ReportSection("{analysis} · ppl", table="ppl", summary=True)],
                              factor_columns={"PPL": mix_by_run(table, "ppl")})


@hookimpl
def register_analyses(register):
    register(Perplexity())
