"""The private TRL / transformers members phasescope relies on, listed once, with why.

``PhaseTrainer`` (``train/trainer.py``) subclasses TRL's ``GRPOTrainer``; where no public hook does
the job it overrides or reads an underscore member. Nothing in TRL's or transformers' API keeps those
stable, so an upgrade can remove or rename one silently (an override that is never called any more
changes the training without an error). ``PRIVATE_MEMBERS`` names each of them;
``tests/train/test_upstream.py`` checks each still exists on the installed versions and, when one is
gone, names it, the package version and what phasescope needs it for.

A member is found when a class in the owner's MRO defines it, or (an instance attribute) assigns
``self.<name>`` in its source. Public members (``use_vllm``, ``current_gradient_accumulation_steps``,
...) are not listed: their removal is a documented API change.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version

from transformers import Trainer
from trl import GRPOTrainer

PRIVATE_MEMBERS: tuple[tuple[type, str, str], ...] = (
    (
        Trainer,
        "_get_train_sampler",
        "PhaseTrainer replaces TRL's RepeatSampler by EpochRepeatSampler (a resumed run replays its epoch's "
        "order); no public hook chooses the sampler",
    ),
    (
        GRPOTrainer,
        "_prepare_inputs",
        "PhaseTrainer skips generation while μ = 1 and adds the expert rows of the update; TRL generates here",
    ),
    (
        GRPOTrainer,
        "_compute_loss",
        "PhaseTrainer's μ-mixed loss replaces TRL's (and falls back to it for TRL's evaluation path)",
    ),
    (
        GRPOTrainer,
        "_get_per_token_logps_and_entropies",
        "the log-probabilities of rollouts and expert rows go through TRL's own (fused, temperature-scaled) "
        "LM head, so μ = 0 equals TRL's loss",
    ),
    (
        GRPOTrainer,
        "_step",
        "the micro-batch counter: which share of the update's expert rows this micro-batch takes",
    ),
    (
        GRPOTrainer,
        "_metrics",
        "the step's rollout statistics (reward, reward_std, frac_reward_zero_std, completions/*) that the "
        "metrics row reports",
    ),
    (
        Trainer,
        "_maybe_log_save_evaluate",
        "the one call after every optimizer step that gets the step's grad norm, before a checkpoint of the "
        "step: the metrics row is written there whatever the logging settings",
    ),
)
"""(owner class, member name, why phasescope needs it)."""


def _package(owner: type) -> str:
    return owner.__module__.split(".")[0]


def has_member(owner: type, name: str) -> bool:
    """Whether a class in ``owner``'s MRO defines ``name`` or assigns ``self.<name>`` in its source."""
    assigned = re.compile(rf"self\.{re.escape(name)}\s*(:[^=\n]*)?=[^=]")
    for cls in inspect.getmro(owner):
        if name in vars(cls):
            return True
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        if assigned.search(source):
            return True
    return False


def missing_members(members=PRIVATE_MEMBERS) -> list[str]:
    """One line per listed member the installed packages no longer have ([] when all are there)."""
    out = []
    for owner, name, why in members:
        if not has_member(owner, name):
            pkg = _package(owner)
            out.append(
                f"{owner.__name__}.{name} is gone in {pkg} {version(pkg)}; phasescope needs it because {why} "
                f"(see phasescope/train/upstream.py)"
            )
    return out
