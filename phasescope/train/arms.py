"""The arm registry: every arm is a μ schedule plus an expert-token weighting of the one trainer.

The defaults live in `phasescope.config.default_arms` so that an experiment file can override any
field (`[arms.chord_mu] mu_peak = 0.5`) or define a new arm from the same knobs.
"""

from __future__ import annotations

from phasescope.config import ARM_NAMES, ArmConfig, default_arms

__all__ = ["ARM_NAMES", "ArmConfig", "default_arms", "describe"]


def describe(name: str, arm: ArmConfig) -> str:
    """One line a reader of a report understands, e.g. `chord_mu: μ 0.9→0.05 over 200 steps (cosine)`."""
    if arm.schedule == "constant":
        sched = f"μ ≡ {arm.mu:g}"
    elif arm.schedule == "step":
        sched = f"μ = 1 for {arm.sft_steps} steps, then 0"
    else:
        sched = (
            f"μ 0→{arm.mu_peak:g} over {arm.mu_warmup_steps} steps, then {arm.mu_peak:g}→{arm.mu_valley:g} "
            f"over {arm.mu_decay_steps} steps (cosine)"
        )
    weight = {
        "none": "",
        "phi": ", expert tokens weighted by φ = p(1−p)",
        "is": ", expert tokens weighted by sg(p)",
    }
    return f"{name}: {sched}{weight[arm.weighting]}"
