"""Which TRL GRPOConfig options phasescope's loss implements, and a one-line refusal of the others.

`PhaseTrainer` replaces TRL's `_compute_loss` (TRL 1.16) by the CHORD mix of `losses.py`. What that
loss implements of TRL's: the clipped surrogate with ε (`epsilon`), token-level ratios, the
aggregation of `loss_type="dapo"` (TRL's default: a token mean over the update), no KL, and the
vLLM importance-sampling correction (`vllm_importance_sampling_*`, whose ratio TRL computes at
generation). Everything TRL does before the loss (advantages, `scale_rewards`, masking truncated
completions, old log-probabilities for `num_iterations` > 1) comes from TRL unchanged.

An option that changes TRL's loss in a way the override does not reproduce is refused rather than
silently ignored: `unsupported_trl_options` lists them (pure: a GRPOConfig, or a mapping of option
names to values in which a missing name means TRL's default), `refuse_unsupported` raises the
one-line `UsageError` (exit 2). `PhaseTrainer` calls it on its GRPOConfig when it is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasescope.errors import UsageError

IMPLEMENTED_LOSS_TYPE = "dapo"

# option -> (TRL 1.16 default, what setting it would do that the override does not)
_DEFAULTS: dict[str, tuple[Any, str]] = {
    "delta": (None, "two-sided clipping of the ratio (INTELLECT-2)"),
    "importance_sampling_level": ("token", "sequence-level ratios (GSPO)"),
    "top_entropy_quantile": (1.0, "a loss only on the highest-entropy tokens"),
    "entropy_coef": (0.0, "an entropy bonus"),
    "use_adaptive_entropy": (False, "an adaptive entropy bonus"),
    "off_policy_mask_threshold": (None, "off-policy sequence masking"),
    "beta": (0.0, "a KL term to a reference model"),
}


def _get(options: Any, name: str, default: Any) -> Any:
    if isinstance(options, Mapping):
        return options.get(name, default)
    return getattr(options, name, default)


def unsupported_trl_options(options: Any, moe_aux_loss: bool = False) -> list[str]:
    """One phrase per TRL option set to a value phasescope's loss does not implement (empty: all fine).

    `options`: a GRPOConfig or a mapping of its option names; `moe_aux_loss`: whether TRL would add a
    Mixture-of-Experts router auxiliary loss (the trainer's `aux_loss_enabled`).
    """
    problems = []
    loss_type = _get(options, "loss_type", IMPLEMENTED_LOSS_TYPE)
    if loss_type != IMPLEMENTED_LOSS_TYPE:
        problems.append(
            f"loss_type={loss_type!r} (phasescope's loss aggregates as {IMPLEMENTED_LOSS_TYPE!r})"
        )
    epsilon = _get(options, "epsilon", 0.2)
    epsilon_high = _get(options, "epsilon_high", None)
    if epsilon_high is not None and epsilon_high != epsilon:
        problems.append(f"epsilon_high={epsilon_high!r} (an asymmetric clip; phasescope clips at ±epsilon)")
    for name, (default, what) in _DEFAULTS.items():
        value = _get(options, name, default)
        if value != default:
            problems.append(f"{name}={value!r} ({what})")
    if moe_aux_loss:
        problems.append("a Mixture-of-Experts router auxiliary loss (set router_aux_loss_coef = 0)")
    return problems


def refuse_unsupported(options: Any, moe_aux_loss: bool = False) -> None:
    """Raise a one-line UsageError naming every unsupported option, or return when there is none."""
    problems = unsupported_trl_options(options, moe_aux_loss)
    if problems:
        raise UsageError(
            "TRL option(s) that phasescope's CHORD loss does not implement: " + "; ".join(problems)
        )
