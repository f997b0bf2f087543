"""Turning (prompt, response) text pairs into the tensors the losses and probes read.

Prompts are left-padded and responses right-padded, the layout TRL uses for on-policy rows, so
expert rows and rollouts go through the same forward pass.
"""

from __future__ import annotations

import torch


def encode_pairs(tokenizer, prompts: list[str], responses: list[str]) -> dict[str, torch.Tensor]:
    """prompt_ids/prompt_mask (left-padded) and completion_ids/completion_mask (right-padded)."""
    pad = tokenizer.pad_token_id
    p_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    r_ids = [tokenizer.encode(r, add_special_tokens=False) for r in responses]
    lp = max(len(x) for x in p_ids)
    lr = max(len(x) for x in r_ids)
    prompt_ids = torch.full((len(p_ids), lp), pad, dtype=torch.long)
    prompt_mask = torch.zeros((len(p_ids), lp), dtype=torch.long)
    completion_ids = torch.full((len(r_ids), lr), pad, dtype=torch.long)
    completion_mask = torch.zeros((len(r_ids), lr), dtype=torch.long)
    for i, (p, r) in enumerate(zip(p_ids, r_ids)):
        prompt_ids[i, lp - len(p) :] = torch.tensor(p)
        prompt_mask[i, lp - len(p) :] = 1
        completion_ids[i, : len(r)] = torch.tensor(r)
        completion_mask[i, : len(r)] = 1
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
    }


def completion_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits that predict each completion token, shape (B, T_completion, V)."""
    input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    attention_mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    # Positions count real tokens only, so a left-padded prompt sees the same positions as an unpadded one.
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    t = batch["completion_ids"].size(1)
    return logits[:, -t - 1 : -1, :]


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) per position, (B, T), from logits (B, T, V)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, temperature: float, greedy: bool):
    """Responses for `prompts` in one batched `generate` call, decoded up to and including EOS."""
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=not greedy,
        temperature=temperature if not greedy else None,
        top_k=0 if not greedy else None,
        top_p=1.0 if not greedy else None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    new = out[:, enc["input_ids"].size(1) :].tolist()
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    texts = []
    for row in new:
        if eos in row:
            row = row[: row.index(eos) + 1]
        texts.append("".join(tokenizer.convert_ids_to_tokens([t for t in row if t != pad])))
    return texts
