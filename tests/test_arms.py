"""The arm registry: one place says what a schedule and a weighting do, for the arm being trained."""

import math
import re
from pathlib import Path

import pytest
import torch

from phasescope.arms import (
    ARM_NAMES,
    SCHEDULES,
    WEIGHTINGS,
    arm_summary,
    expert_weights,
    mu_at,
    needs_expert,
    needs_rollouts,
    ordered,
    run_length,
)
from phasescope.arms.mixing import MIXES, is_paired
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
        "luffy": (True, True),
        "srft": (True, True),
        "hpt": (True, True),
        "relift": (True, True),
        "dft": (False, True),
        "dft_then_rl": (True, True),
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
    } and set(WEIGHTINGS) == {"none", "phi", "is", "luffy", "srft"}
    assert set(MIXES) == {"step", "group", "gate", "buffer"}
    with pytest.raises(UsageError, match="schedule 'ramp' is unknown"):
        ArmConfig(schedule="ramp")
    with pytest.raises(UsageError, match="leaves no RL stage"):  # the step schedule's own check
        load_config(None, ['arms.sft_then_rl.schedule="step"', "arms.sft_then_rl.sft_steps=600"])
    with pytest.raises(UsageError, match="must be an integer >= 0, got 'best'"):
        load_config(None, ['arms.sft_then_rl.schedule="step"'])  # "best" needs two stages
    # two stages with the SFT stage on top of the budget: the RL stage follows anyway; within it, refused
    load_config(None, ["arms.sft_then_rl.sft_steps=600", 'train.stage_budget="added"'])
    with pytest.raises(UsageError, match="leaves no RL update"):
        load_config(None, ["arms.sft_then_rl.sft_steps=600"])


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


def test_the_published_mixes_have_their_papers_defaults():
    a = default_arms()
    assert (a["luffy"].mix, a["luffy"].weighting) == ("group", "luffy")
    assert (a["srft"].mix, a["srft"].weighting) == ("group", "srft")
    assert (a["hpt"].mix, a["hpt"].gate, a["hpt"].sft_weight) == ("gate", 0, 1.0)  # switch_gate 0, coef 1
    assert (a["relift"].mix, a["relift"].gate, a["relift"].buffer_size) == ("buffer", 0, 0)
    assert (a["dft"].mu, a["dft"].weighting) == (1.0, "is")
    assert (a["dft_then_rl"].schedule, a["dft_then_rl"].sft_steps, a["dft_then_rl"].weighting) == (
        "sft_then_rl",
        "best",
        "is",
    )
    assert [n for n in ARM_NAMES if is_paired(a[n])] == ["luffy", "srft", "hpt", "relift"]
    # before training a per-prompt μ may be anything: planned at 0.5 (RL learning rate, both terms)
    assert mu_at(1, a["hpt"]) == 0.5 and mu_at(7, a["hpt"], {"train/mu": 0.25}) == 0.25
    assert arm_summary("hpt", a["hpt"]) == (
        "hpt: per prompt: SFT on its demonstration when ≤ 0 of its rollouts are correct, else GRPO"
    )
    assert arm_summary("dft", a["dft"]) == "dft: μ ≡ 1, expert tokens weighted by sg(p)"


def test_bad_mixes_are_one_line_errors():
    with pytest.raises(UsageError, match="mix 'halfway' is unknown"):
        ArmConfig(mix="halfway")
    with pytest.raises(
        UsageError, match='weighting "luffy" reads the group\'s advantage: it needs mix = "group"'
    ):
        ArmConfig(weighting="luffy")
    with pytest.raises(UsageError, match="arms.hpt.gate must be >= 0, got -1"):
        load_config(None, ["arms.hpt.gate=-1"])
    with pytest.raises(UsageError, match="buffer_size must be >= 0"):
        ArmConfig(mix="buffer", buffer_size=-4)


def test_each_new_arm_learning_rate_is_a_config_field():
    """What a tuner sets: the arm's own lr (else train.learning_rate) and train.sft_lr (ReLIFT's SFT update,
    DFT's SFT stage)."""
    cfg = load_config(None, ["arms.luffy.lr=3e-5", "train.sft_lr=5e-4"])
    assert cfg.arms["luffy"].lr == 3e-5 and cfg.train.sft_lr == 5e-4


def _doc_block(tag: str) -> str:
    """The fenced block of docs/arms.md whose first line is `# example: <tag>`."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "arms.md").read_text(encoding="utf-8")
    return re.search(rf"```\w+\n# example: {tag}[^\n]*\n(.*?)```", text, flags=re.S).group(1)


def test_the_toml_arm_of_the_docs_loads(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(_doc_block("arm-in-toml"), encoding="utf-8")
    cfg = load_config(path)
    arm = cfg.arms["hpt_wide"]
    assert cfg.experiment.arms == ["hpt", "hpt_wide"] and (arm.mix, arm.gate, arm.sft_weight) == (
        "gate",
        1,
        0.5,
    )
    assert arm_summary("hpt_wide", arm) == (
        "hpt_wide: per prompt: SFT on its demonstration when ≤ 1 of its rollouts are correct, else GRPO, "
        "expert tokens weighted by sg(p), expert term scaled by 0.5"
    )
    logp = torch.log(torch.tensor([[0.5, 0.8]]))
    assert expert_weights(arm, logp).tolist()[0] == pytest.approx([0.25, 0.4])  # 0.5 · sg(p)


def test_the_python_arm_of_the_docs_registers_a_weighting_that_reads_entropy():
    scope: dict = {}
    try:
        exec(_doc_block("arm-in-python"), scope)
        arm = scope["cfg"].arms["hpt_damped"]
        logp, ent = torch.log(torch.tensor([[0.5, 0.8]])), torch.tensor([[0.0, 1.0]])
        assert expert_weights(arm, logp, ent).tolist()[0] == pytest.approx([1.0, math.exp(-1.0)])
        assert arm_summary("hpt_damped", arm).endswith("expert tokens weighted by sg(e^−H)")
    finally:
        WEIGHTINGS.pop("entropy_damped", None)
