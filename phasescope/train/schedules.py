"""When the trainer does what: the learning-rate factor of each update and the evaluation grid.

μ itself is the arm's schedule (`phasescope.arms`, whose `step` is the update's number from 1, as
Trinity-RFT's `global_steps`); these are the step-indexed rules of the loop around it, as pure
functions. `lr_factor` follows torch's LambdaLR and counts scheduler steps from 0: its `step` is the
number of optimizer updates already applied, so its update is number `step + 1`.
"""

from __future__ import annotations

from phasescope.arms import mu_at


def lr_factor(step: int, arm, warmup_steps: int, lr: float, sft_lr: float | None) -> float:
    """Multiplier of the base learning rate `lr` for update `step`.

    Linear warm-up as HF's `constant_with_warmup` (step / W for step < W), times `sft_lr / lr` on
    pure-SFT updates (μ = 1), so the SFT stage of sft_then_rl runs at the SFT learning rate.
    """
    factor = step / warmup_steps if step < warmup_steps else 1.0
    if sft_lr is not None and mu_at(step + 1, arm) == 1.0:
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
