import math

import pytest

from phasescope.arms import constant_mu, mu_at, stage_at, step_mu, warmup_cosine_mu
from phasescope.config import ArmConfig
from phasescope.train.schedules import is_eval_step, lr_factor


def test_constant():
    assert constant_mu(0, 0.1) == 0.1
    assert constant_mu(10_000, 0.1) == 0.1


def test_step_schedule_is_sft_for_exactly_s_updates():
    # updates are numbered from 1 (Trinity-RFT's global_steps); step 0 is the base model's row
    assert [step_mu(s, 3) for s in range(1, 6)] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert step_mu(1, 0) == 0.0  # S = 0 is pure RL


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.0),  # warm-up starts at 0
        (5, 0.45),  # halfway through a 10-step warm-up to 0.9
        (10, 0.9),  # end of warm-up = peak
        (20, 0.05 + 0.85 * 0.5),  # halfway through the 20-step cosine decay: (peak + valley) / 2
        (30, 0.05),  # end of decay = valley
        (1000, 0.05),
    ],
)
def test_warmup_cosine_named_steps(step, expected):
    assert warmup_cosine_mu(step, 10, 20, 0.9, 0.05) == pytest.approx(expected)


def test_warmup_cosine_quarter_point():
    # a quarter into the decay the half-cosine is at (1 + cos(pi/4)) / 2 of the way from valley to peak
    got = warmup_cosine_mu(15, 10, 20, 0.9, 0.05)
    assert got == pytest.approx(0.05 + 0.85 * 0.5 * (1 + math.cos(math.pi / 4)))


def test_warmup_cosine_without_warmup_starts_at_peak():
    # the paper's math setting: W = 0, 0.9 -> 0.05 over 200 steps
    assert warmup_cosine_mu(0, 0, 200, 0.9, 0.05) == pytest.approx(0.9)
    assert warmup_cosine_mu(200, 0, 200, 0.9, 0.05) == pytest.approx(0.05)


def test_warmup_cosine_w_equals_d_equals_zero_is_valley_throughout():
    assert [warmup_cosine_mu(s, 0, 0, 0.9, 0.05) for s in (0, 1, 100)] == [0.05, 0.05, 0.05]


def test_warmup_cosine_is_monotone_during_decay():
    vals = [warmup_cosine_mu(s, 0, 50, 0.9, 0.05) for s in range(51)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


def test_mu_at_and_stage_for_arms():
    stl = ArmConfig(schedule="step", sft_steps=2)
    assert [stage_at(s, stl) for s in range(1, 5)] == ["sft", "sft", "rl", "rl"]
    phi = ArmConfig(schedule="constant", mu=0.1, weighting="phi")
    assert mu_at(7, phi) == 0.1 and stage_at(7, phi) == "mixed"
    cm = ArmConfig(schedule="warmup_cosine", mu_decay_steps=10, mu_peak=0.9, mu_valley=0.05)
    assert mu_at(10, cm) == pytest.approx(0.05)


def test_lr_factor_switches_at_the_stage_boundary_and_warms_up():
    # lr_factor counts scheduler steps from 0: its step s is update s + 1
    stl = ArmConfig(schedule="step", sft_steps=3)
    got = [lr_factor(s, stl, 0, 1e-4, 1e-3) for s in range(5)]
    assert got == pytest.approx([10.0, 10.0, 10.0, 1.0, 1.0])
    rl = ArmConfig(schedule="constant", mu=0.0)
    assert [lr_factor(s, rl, 4, 1e-4, 1e-3) for s in (0, 2, 4, 9)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert lr_factor(0, ArmConfig(schedule="constant", mu=1.0), 0, 1e-4, None) == 1.0


def test_eval_grid_is_dense_early_then_regular():
    steps = [s for s in range(0, 101) if is_eval_step(s, 100, 20, 5, 40)]
    assert steps == [0, 5, 10, 15, 20, 25, 30, 35, 40, 60, 80, 100]
    assert [s for s in range(0, 51) if is_eval_step(s, 50, 20)] == [0, 20, 40, 50]  # last step always


def test_step_origin_is_trinity_rft_global_steps():
    # Trinity-RFT's mu_schedule_function(global_steps=1, W=10, ...) for the first update: 0.09, not 0
    cm = ArmConfig(
        schedule="warmup_cosine", mu_warmup_steps=10, mu_decay_steps=20, mu_peak=0.9, mu_valley=0.05
    )
    assert mu_at(1, cm) == pytest.approx(0.09)
    assert mu_at(10, cm) == pytest.approx(0.9)
