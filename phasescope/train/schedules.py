"""μ schedules: the global SFT coefficient in L = (1 − μ)·L_GRPO + μ·L_SFT, as pure functions of the step.

`step` is the number of optimizer updates already applied (0 for the first update), the same
convention as Trinity-RFT's `global_step` in `mu_schedule_function`.
"""

from __future__ import annotations

import math


def constant_mu(step: int, mu: float) -> float:
    """μ ≡ mu (sft: 1, rl: 0, CHORD-φ: 0.1 in the paper)."""
    return mu


def step_mu(step: int, sft_steps: int) -> float:
    """SFT-then-RL: μ = 1 for the first `sft_steps` updates (steps 0..sft_steps−1), then 0."""
    return 1.0 if step < sft_steps else 0.0


def warmup_cosine_mu(
    step: int, mu_warmup_steps: int, mu_decay_steps: int, mu_peak: float, mu_valley: float
) -> float:
    """CHORD-μ: linear warm-up 0 → mu_peak over W steps, half-cosine mu_peak → mu_valley over D steps, then mu_valley.

    Same semantics as Trinity-RFT: at step W the value is mu_peak, at step W + D and after it is
    mu_valley; with W = D = 0 the schedule is mu_valley throughout.
    """
    if step < mu_warmup_steps:
        return step / mu_warmup_steps * mu_peak
    if step >= mu_warmup_steps + mu_decay_steps:
        return mu_valley
    progress = (step - mu_warmup_steps) / mu_decay_steps
    return mu_valley + (mu_peak - mu_valley) * 0.5 * (1.0 + math.cos(math.pi * progress))


def mu_at(step: int, arm) -> float:
    """μ for an `ArmConfig` at `step`."""
    if arm.schedule == "constant":
        return constant_mu(step, arm.mu)
    if arm.schedule == "step":
        return step_mu(step, arm.sft_steps)
    if arm.schedule == "warmup_cosine":
        return warmup_cosine_mu(step, arm.mu_warmup_steps, arm.mu_decay_steps, arm.mu_peak, arm.mu_valley)
    raise ValueError(f"unknown schedule {arm.schedule!r}")


def stage_at(step: int, arm) -> str:
    """`sft` while μ = 1, `rl` while μ = 0, `mixed` otherwise (the `stage` field of metrics rows)."""
    mu = mu_at(step, arm)
    return "sft" if mu == 1.0 else "rl" if mu == 0.0 else "mixed"


def lr_factor(step: int, arm, warmup_steps: int, lr: float, sft_lr: float | None) -> float:
    """Multiplier of the base learning rate `lr` for update `step`.

    Linear warm-up as HF's `constant_with_warmup` (step / W for step < W), times `sft_lr / lr` on
    pure-SFT updates (μ = 1), so the SFT stage of sft_then_rl runs at the SFT learning rate.
    """
    factor = step / warmup_steps if step < warmup_steps else 1.0
    if sft_lr is not None and mu_at(step, arm) == 1.0:
        factor *= sft_lr / lr
    return factor


def is_eval_step(
    step: int, max_steps: int, eval_every: int, early_every: int = 0, early_until: int = 0
) -> bool:
    """Whether to evaluate after update `step` (step 0 is the base and is always evaluated).

    Every `eval_every` steps and at the last step; in addition every `early_every` steps up to
    `early_until`, because the shift happens within the first few dozen SFT steps and a coarse grid
    steps over its bottom.
    """
    if step == 0 or step == max_steps or step % eval_every == 0:
        return True
    return bool(early_every) and step <= early_until and step % early_every == 0
