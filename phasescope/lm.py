"""Language-model helpers shared by the embedded world and real models: encode, log-probs, generate, NLL.

A leaf module (it imports only torch), so that `world/` and `train/` both build on it and neither
reaches into the other. Prompts are left-padded and responses right-padded, the layout TRL uses for
on-policy rows, so expert rows and rollouts go through the same forward pass.
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


def encode_from_start(tokenizer, prompts: list[str], responses: list[str]) -> dict[str, torch.Tensor]:
    """Like `encode_pairs`, but every row starts at position 0 (no left padding), for TRL's forward.

    TRL's log-probability path passes no position ids, so a left-padded prompt shifts the positions
    of a model with absolute position embeddings (GPT-2) away from those of generation and
    evaluation. Here each row is prompt + response, right-padded; the "prompt" part is as long as the
    shortest prompt and the "completion" part holds the rest: `completion_attention_mask` marks its
    real tokens (what the model attends to), `completion_mask` the response tokens (what is scored).
    """
    pad = tokenizer.pad_token_id
    p_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    r_ids = [tokenizer.encode(r, add_special_tokens=False) for r in responses]
    lp = min(len(x) for x in p_ids)
    width = max(len(p) + len(r) for p, r in zip(p_ids, r_ids)) - lp
    completion_ids = torch.full((len(p_ids), width), pad, dtype=torch.long)
    completion_mask = torch.zeros((len(p_ids), width), dtype=torch.long)
    attention = torch.zeros((len(p_ids), width), dtype=torch.long)
    for i, (p, r) in enumerate(zip(p_ids, r_ids)):
        rest = p[lp:] + r
        completion_ids[i, : len(rest)] = torch.tensor(rest)
        completion_mask[i, len(p) - lp : len(rest)] = 1
        attention[i, : len(rest)] = 1
    return {
        "prompt_ids": torch.tensor([p[:lp] for p in p_ids], dtype=torch.long).reshape(len(p_ids), lp),
        "prompt_mask": torch.ones((len(p_ids), lp), dtype=torch.long),
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "completion_attention_mask": attention,
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


def response_nll_sum(model, tokenizer, prompts: list[str], responses: list[str]):
    """(sum of −log p over the response tokens, number of response tokens), as tensors (differentiable)."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in encode_pairs(tokenizer, prompts, responses).items()}
    logp = token_logprobs(completion_logits(model, batch), batch["completion_ids"])
    mask = batch["completion_mask"].float()
    return -(logp * mask).sum(), mask.sum()


def response_nll(model, tokenizer, prompts: list[str], responses: list[str]) -> torch.Tensor:
    """Token-mean NLL of `responses` given `prompts` (a differentiable scalar)."""
    total, count = response_nll_sum(model, tokenizer, prompts, responses)
    return total / count


def eos_ids(model, tokenizer) -> list[int]:
    """Every token that ends a response: the tokenizer's EOS and the model's generation-config ones."""
    ids = {tokenizer.eos_token_id}
    gc_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gc_eos if isinstance(gc_eos, list) else [gc_eos])
    return sorted(i for i in ids if i is not None)


@torch.no_grad()
def generate_ids(
    model, tokenizer, prompts: list[str], max_new_tokens: int, temperature: float, greedy: bool, eos=None
) -> list[list[int]]:
    """Response token ids for `prompts` in one batched `generate` call, each cut after its first end token.

    `eos` is one id or a list of ids (default: the tokenizer's EOS).
    """
    eos = tokenizer.eos_token_id if eos is None else eos
    device = next(model.parameters()).device
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=not greedy,
        temperature=temperature if not greedy else None,
        top_k=0 if not greedy else None,
        top_p=1.0 if not greedy else None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos,
    )
    stop = set(eos) if isinstance(eos, list) else {eos}
    rows = []
    for row in out[:, enc["input_ids"].size(1) :].tolist():
        end = next((i for i, t in enumerate(row) if t in stop), None)
        rows.append(row if end is None else row[: end + 1])
    return rows


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int, temperature: float, greedy: bool):
    """Responses as token text joined as is, up to and including EOS (the character tokenizer's decoding)."""
    pad = tokenizer.pad_token_id
    rows = generate_ids(model, tokenizer, prompts, max_new_tokens, temperature, greedy)
    return ["".join(tokenizer.convert_ids_to_tokens([t for t in row if t != pad])) for row in rows]
