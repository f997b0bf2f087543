"""The arm registry: one place says what a schedule and a weighting do, for the arm being trained."""

import pytest

from phasescope.arms import ARM_NAMES, SCHEDULES, WEIGHTINGS, describe, needs_expert, needs_rollouts, ordered
from phasescope.config import ArmConfig, default_arms, load_config
from phasescope.errors import UsageError


def test_each_default_arm_says_what_it_needs():
    arms = default_arms()
    need = {a: (needs_rollouts(arms[a], 350), needs_expert(arms[a], 350)) for a in ARM_NAMES}
    assert need == {
        "sft": (False, True),
        "rl": (True, False),
        "sft_then_rl": (True, True),
        "chord_mu": (True, True),
        "chord_phi": (True, True),
        "chord_adaptive": (True, True),
        "chord_phase": (True, True),
    }
    # sft_then_rl within its SFT stage only: no rollouts yet
    assert not needs_rollouts(arms["sft_then_rl"], 250) and needs_rollouts(arms["sft_then_rl"], 251)


def test_descriptions_come_from_the_registry():
    arms = default_arms()
    assert describe("sft", arms["sft"]) == "sft: μ ≡ 1"
    assert describe("sft_then_rl", arms["sft_then_rl"]) == "sft_then_rl: μ = 1 for 250 steps, then 0"
    assert (
        describe("chord_phi", arms["chord_phi"]) == "chord_phi: μ ≡ 0.1, expert tokens weighted by φ = p(1−p)"
    )
    assert describe("chord_mu", arms["chord_mu"]).endswith("then 0.9→0.05 over 200 steps (cosine)")
    assert describe("chord_adaptive", arms["chord_adaptive"]) == (
        "chord_adaptive: μ = max(0, 0.5 − mean reward) (CHORD appendix B.1)"
    )
    assert describe("chord_phase", arms["chord_phase"]).startswith(
        "chord_phase: μ = 0.9 until eval/accuracy readapts (confirmed online)"
    )


def test_config_accepts_exactly_the_registered_names():
    assert set(SCHEDULES) == {"constant", "step", "warmup_cosine", "adaptive", "phase"} and set(
        WEIGHTINGS
    ) == {
        "none",
        "phi",
        "is",
    }
    with pytest.raises(UsageError, match="schedule 'ramp' is unknown"):
        ArmConfig(schedule="ramp")
    with pytest.raises(UsageError, match="leaves no RL stage"):  # the step schedule's own check
        load_config(None, ["arms.sft_then_rl.sft_steps=400"])


def test_display_order_puts_builtin_arms_first():
    assert ordered({"zeta", "chord_phi", "sft", "alpha"}) == ["sft", "chord_phi", "alpha", "zeta"]
