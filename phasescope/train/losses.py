"""The CHORD objective as pure functions on tensors: GRPO, weighted SFT, and their μ-mix.

    L = (1 − μ) · L_GRPO + μ · L_SFT,w

Departures from the paper / Trinity-RFT, on purpose:
- L_GRPO is a token-mean over all response tokens of the batch (the paper's choice), TRL 1.16's
  default aggregation (`loss_type="dapo"`): on one process with one accumulation step the two are
  equal (tested against TRL's own `_compute_loss`). With gradient accumulation each micro-batch is a
  token mean of its own (DAPO's normaliser is the whole accumulated batch's tokens).
- Rollouts from vLLM carry TRL's importance-sampling ratio π_train/π_vLLM (already truncated or
  masked by TRL as `vllm_importance_sampling_mode` says); as in TRL, it multiplies the per-token
  clipped surrogate (`is_ratio`). Other TRL loss options are refused, not ignored (`fidelity.py`).
- When a batch has no on-policy rows (μ = 1, nothing generated) or no expert rows (μ = 0), the missing
  term is exactly 0 rather than NaN, and it receives no weight (LUFFY's NaN failure, BACKGROUND.md).
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` over mask == 1; exactly 0 (still differentiable) when the mask is empty."""
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float,
    is_ratio: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO-clipped surrogate, token-mean over the batch, no KL.

    logp, old_logp, mask: (B, T); advantages: (B,) or (B, T); is_ratio: the sampler-correction
    ratio, (B, T) per token or (B, 1) per sequence, or None. Returns (loss, clip_fraction).
    """
    per_token, was_clipped = ppo_per_token(logp, old_logp, advantages, clip_range, is_ratio)
    clip_frac = masked_mean(was_clipped.float(), mask).detach()
    return masked_mean(per_token, mask), clip_frac


def ppo_per_token(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    clip_range: float,
    is_ratio: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate per token (B, T) and whether each token was clipped (the ratio moved
    past the clip in the advantage's direction); shapes as `grpo_loss`."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * adv
    per_token = -torch.minimum(unclipped, clipped)
    if is_ratio is not None:
        per_token = per_token * is_ratio
    return per_token, unclipped > clipped


def sft_loss(logp: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Token-mean (weighted) NLL of the expert tokens: mean over tokens of −w·log p."""
    w = torch.ones_like(logp) if weights is None else weights.detach()
    return masked_mean(-w * logp, mask)


def chord_loss(grpo: torch.Tensor | None, sft: torch.Tensor | None, mu: float) -> torch.Tensor:
    """(1 − μ)·grpo + μ·sft; a missing term (None) counts as 0, and a zero-weighted term is skipped."""
    if not 0.0 <= mu <= 1.0:
        raise ValueError(f"mu must be in [0, 1], got {mu}")
    total = None
    if grpo is not None and mu < 1.0:
        total = (1.0 - mu) * grpo
    if sft is not None and mu > 0.0:
        total = mu * sft if total is None else total + mu * sft
    if total is None:
        raise ValueError(
            "chord_loss needs the term that mu weights: no rollouts at mu < 1 or no expert rows at mu > 0"
        )
    return total
