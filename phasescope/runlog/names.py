"""phasescope's metric names and TRL's for the same quantity, so that either name finds the metric.

phasescope groups its names by what they describe (`train/`, `rollout/`, `eval/`); TRL's GRPOTrainer
logs flat names (`reward`, `completions/mean_length`, `clip_ratio/region_mean`, ...) to
trainer_state.json, W&B and TensorBoard. `-m reward` on a phasescope run and `-m rollout/reward_mean`
on a TRL log both resolve through `metric_aliases`. The README's table is this dict.
"""

from __future__ import annotations

METRIC_ALIASES: dict[str, str] = {
    # phasescope name → TRL (GRPOTrainer / transformers Trainer) name
    "train/loss": "loss",
    "train/lr": "learning_rate",
    "train/grad_norm": "grad_norm",
    "rollout/reward_mean": "reward",
    "rollout/reward_std": "reward_std",
    "rollout/frac_zero_std": "frac_reward_zero_std",
    "rollout/response_length": "completions/mean_length",
    "rollout/entropy": "entropy",
    "rollout/clip_frac": "clip_ratio/region_mean",
}

_TO_PHASESCOPE = {trl: ours for ours, trl in METRIC_ALIASES.items()}


def metric_aliases(name: str) -> list[str]:
    """The other names of metric `name` (TRL's for a phasescope name and the reverse); [] if none."""
    out = [METRIC_ALIASES[name]] if name in METRIC_ALIASES else []
    return out + ([_TO_PHASESCOPE[name]] if name in _TO_PHASESCOPE else [])
