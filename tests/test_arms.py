"""The arm registry: one place says what a schedule and a weighting do, for the arm being trained."""

import pytest

from phasescope.arms import (
    ARM_NAMES,
    SCHEDULES,
    WEIGHTINGS,
    arm_summary,
    needs_expert,
    needs_rollouts,
    ordered,
    run_length,
)
from phasescope.config import ArmConfig, default_arms, load_config
from phasescope.errors import UsageError


def test_each_default_arm_says_what_it_needs():
    arms = default_arms()
    need = {a: (needs_rollouts(arms[a], 350), needs_expert(arms[a], 350)) for a in ARM_NAMES}
    assert need == {
        "sft": (False, True),
        "rl": (True, False),
        "sft_then_rl": (True, True),
        "sft_light_then_rl": (True, True),
        "chord_mu": (True, True),
        "chord_phi": (True, True),
        "chord_adaptive": (True, True),
        "chord_phase": (True, True),
        "sft_scaled": (True, True),
        "chord_phi_mu03": (True, True),
        "chord_phi_mu1": (False, True),  # μ ≡ 1: φ-weighted SFT, no rollouts
    }
    # the one-optimizer step schedule within its SFT stage only: no rollouts yet
    step = ArmConfig(schedule="step", sft_steps=250)
    assert not needs_rollouts(step, 250) and needs_rollouts(step, 251)
    # a two-stage arm has its RL stage after however long an SFT stage
    fixed = ArmConfig(schedule="sft_then_rl", sft_steps=400)
    assert needs_rollouts(fixed, 350) and needs_expert(fixed, 350)
    assert run_length(fixed, 350) == 750 and run_length(arms["sft_then_rl"], 350) == 700


def test_descriptions_come_from_the_registry():
    arms = default_arms()
    assert arm_summary("sft", arms["sft"]) == "sft: μ ≡ 1"
    assert arm_summary("sft_then_rl", arms["sft_then_rl"]) == (
        "sft_then_rl: SFT, best dev-accuracy checkpoint, then RL as long as the rl arm (fresh optimizer and schedule)"
    )
    assert arm_summary("x", ArmConfig(schedule="step", sft_steps=250)) == "x: μ = 1 for 250 steps, then 0"
    assert (
        arm_summary("chord_phi", arms["chord_phi"])
        == "chord_phi: μ ≡ 0.1, expert tokens weighted by φ = p(1−p)"
    )
    assert arm_summary("sft_scaled", arms["sft_scaled"]) == "sft_scaled: μ ≡ 0.1, expert term scaled by 0.032"
    assert arm_summary("chord_phi_mu03", arms["chord_phi_mu03"]) == (
        "chord_phi_mu03: μ ≡ 0.3, expert tokens weighted by φ = p(1−p)"
    )
    assert arm_summary("chord_mu", arms["chord_mu"]).endswith("then 0.9→0.05 over 200 steps (cosine)")
    assert arm_summary("chord_adaptive", arms["chord_adaptive"]) == (
        "chord_adaptive: μ = max(0, 0.5 − mean reward) (CHORD appendix B.1)"
    )
    assert arm_summary("chord_phase", arms["chord_phase"]).startswith(
        "chord_phase: μ = 0.9 until dev/accuracy readapts (confirmed online)"
    )


def test_config_accepts_exactly_the_registered_names():
    assert set(SCHEDULES) == {
        "constant",
        "step",
        "sft_then_rl",
        "warmup_cosine",
        "adaptive",
        "phase",
    } and set(WEIGHTINGS) == {
        "none",
        "phi",
        "is",
    }
    with pytest.raises(UsageError, match="schedule 'ramp' is unknown"):
        ArmConfig(schedule="ramp")
    with pytest.raises(UsageError, match="leaves no RL stage"):  # the step schedule's own check
        load_config(None, ['arms.sft_then_rl.schedule="step"', "arms.sft_then_rl.sft_steps=600"])
    with pytest.raises(UsageError, match="must be an integer >= 0, got 'best'"):
        load_config(None, ['arms.sft_then_rl.schedule="step"'])  # "best" needs two stages
    load_config(None, ["arms.sft_then_rl.sft_steps=600"])  # two stages: the RL stage follows anyway


def test_display_order_puts_builtin_arms_first():
    assert ordered({"zeta", "chord_phi", "sft", "alpha"}) == ["sft", "chord_phi", "alpha", "zeta"]


def test_the_chord_phi_controls_are_registered_but_not_in_the_default_run():
    cfg = load_config(None)
    assert cfg.experiment.arms == ["sft", "rl", "sft_then_rl", "sft_light_then_rl", "chord_mu", "chord_phi"]
    controls = {"sft_scaled", "chord_phi_mu03", "chord_phi_mu1"}
    assert controls <= set(ARM_NAMES) and controls <= set(cfg.arms)
    a = cfg.arms
    # sft_scaled keeps chord_phi's μ and only swaps φ's shape for its base-measured mean
    assert (a["sft_scaled"].mu, a["sft_scaled"].weighting, a["sft_scaled"].sft_weight) == (0.1, "none", 0.032)
    assert [(a[n].mu, a[n].weighting) for n in ("chord_phi_mu03", "chord_phi_mu1")] == [
        (0.3, "phi"),
        (1.0, "phi"),
    ]
    assert load_config(None, ['experiment.arms=["sft_scaled","chord_phi_mu1"]']).experiment.arms == [
        "sft_scaled",
        "chord_phi_mu1",
    ]
    with pytest.raises(UsageError, match="arms.sft_scaled.sft_weight must be > 0, got 0"):
        load_config(None, ["arms.sft_scaled.sft_weight=0"])
