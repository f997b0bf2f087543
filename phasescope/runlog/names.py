"""What a name says: which metric a name means (phasescope's or TRL's), which way it is better,
whether it is a rate, and whether a source is a W&B one. A leaf that every layer may import.

phasescope groups its names by what they describe (`train/`, `rollout/`, `eval/`); TRL's GRPOTrainer
logs flat names (`reward`, `completions/mean_length`, `clip_ratio/region_mean`, ...) to
trainer_state.json, W&B and TensorBoard. `-m reward` on a phasescope run and `-m rollout/reward_mean`
on a TRL log both resolve through `metric_aliases`. The README's table is this dict.
"""

from __future__ import annotations

import re

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


# Name fragments that mean lower is better. Substrings where they are unambiguous, whole tokens
# where a substring would misfire ("err" in "interr...", "cer" in "cancer").
_LOWER_SUBSTRINGS = ("loss", "perplexity", "nll", "error", "regret")
_LOWER_TOKENS = {"ppl", "err", "wer", "cer", "mse", "mae", "rmse", "kl", "ter"}
_HIGHER_TOKENS = {
    "acc", "accuracy", "reward", "rewards", "rew", "return", "score", "f1", "bleu", "rouge",
    "pass", "exact", "em", "win", "precision", "recall", "auc", "map", "success", "correct",
}  # fmt: skip


def infer_direction(metric: str) -> str | None:
    """'higher' or 'lower' when the name says which is better, else None."""
    name = metric.lower()
    tokens = set(re.split(r"[^a-z0-9]+", name))
    if any(s in name for s in _LOWER_SUBSTRINGS) or tokens & _LOWER_TOKENS:
        return "lower"
    if tokens & _HIGHER_TOKENS or "accuracy" in name or "reward" in name:
        return "higher"
    return None


RATE_WORDS = ("acc", "rate", "pass", "correct", "success")


def is_rate_name(metric: str) -> bool:
    """Whether the name says the metric is a share of problems (accuracy, a rate, pass@k)."""
    return any(k in metric.lower() for k in RATE_WORDS)


def rate_hint(metric: str | None) -> bool | None:
    """Whether a metric is a share of problems, as far as its name says: True for a rate name, False
    for a lower-is-better name (a loss, an NLL, a KL: values in [0, 1] are no eval set's share), None
    when the name does not say (then the values decide)."""
    if not metric:
        return None
    if is_rate_name(metric):
        return True
    return False if infer_direction(metric) == "lower" else None


def is_wandb_source(spec) -> bool:
    """Whether a path argument names a W&B run or group (``wandb:...`` or a wandb.ai URL)."""
    spec = str(spec)
    return spec.startswith("wandb:") or "wandb.ai/" in spec
