"""The two arms whose μ follows training: chord_adaptive (reward) and chord_phase (online phases)."""

import numpy as np
import pytest

from phasescope.arms import OVERFIT_KEY, READAPT_KEY, PhaseSignal, adaptive_mu, mu_at, tracker_for
from phasescope.config import ArmConfig, default_arms
from phasescope.errors import UsageError


@pytest.mark.parametrize(
    ("reward", "tau", "mu"),
    [(0.0, 0.5, 0.5), (0.2, 0.5, 0.3), (0.5, 0.5, 0.0), (0.9, 0.5, 0.0), (None, 0.5, 0.5), (0.25, 1.0, 0.75)],
)
def test_adaptive_mu_is_tau_minus_the_mean_reward_floored_at_zero(reward, tau, mu):
    assert adaptive_mu(reward, tau) == pytest.approx(mu)


def test_chord_adaptive_reads_the_last_rollout_reward_from_the_trainer_signals():
    arm = default_arms()["chord_adaptive"]
    assert mu_at(7, arm, {"rollout/reward_mean": 0.1}) == pytest.approx(0.4)
    assert mu_at(7, arm, {"eval/accuracy": 0.9}) == pytest.approx(0.5)  # no rollout yet
    assert mu_at(7, arm, None) == pytest.approx(0.5)  # planning: μ may be anywhere in (0, 1)
    assert mu_at(7, ArmConfig(schedule="adaptive", tau=0.3), {"rollout/reward_mean": 0.1}) == pytest.approx(
        0.2
    )
    with pytest.raises(UsageError, match=r"tau must be in \[0, 1\]"):
        ArmConfig(schedule="adaptive", tau=1.5)


def test_chord_phase_mu_at_each_phase():
    arm = ArmConfig(schedule="phase", mu_peak=0.9, mu_valley=0.1, mu_decay_steps=100)
    assert mu_at(50, arm, None) == 0.9  # nothing known yet
    assert mu_at(50, arm, {"phase/sft_code": 1.0}) == 0.9  # shift: the expert term stays high
    readapt = {READAPT_KEY: 40.0, "phase/sft_code": 2.0}
    assert mu_at(40, arm, readapt) == pytest.approx(0.9)  # confirmed at 40: the decay starts there
    assert mu_at(90, arm, readapt) == pytest.approx(0.5)  # halfway: (0.9 + 0.1) / 2
    assert mu_at(140, arm, readapt) == pytest.approx(0.1)
    assert mu_at(400, arm, readapt) == pytest.approx(0.1)
    assert mu_at(90, arm, {**readapt, OVERFIT_KEY: 80.0}) == 0.0  # overfit confirmed: no expert term


def test_phase_signal_confirms_readapt_then_overfit_on_a_planted_accuracy_curve():
    steps = np.arange(0, 801, 10)
    clean = np.interp(steps, [0, 100, 400, 800], [0.5, 0.35, 0.75, 0.6])
    values = clean + 0.004 * np.random.default_rng(0).standard_normal(len(steps))
    signal = tracker_for(default_arms()["chord_phase"])
    assert isinstance(signal, PhaseSignal)
    state: dict = {}
    mus = []
    for s, v in zip(steps, values, strict=True):
        assert signal({"step": int(s), "train/loss": 1.0}) == {}  # rows without the metric add nothing
        state.update(signal({"step": int(s), "eval/accuracy": float(v)}))
        mus.append(mu_at(int(s), default_arms()["chord_phase"], state))
    assert 100 < state[READAPT_KEY] < 400 < state[OVERFIT_KEY] < 800
    assert state["phase/sft_code"] == 4.0
    i_readapt, i_overfit = np.searchsorted(steps, [state[READAPT_KEY], state[OVERFIT_KEY]])
    assert set(mus[:i_readapt]) == {0.9} and mus[i_overfit] == 0.0
    decay = mus[i_readapt:i_overfit]
    assert decay[0] == 0.9 and all(a >= b for a, b in zip(decay, decay[1:], strict=False))


def test_other_schedules_observe_nothing():
    assert tracker_for(default_arms()["chord_mu"])({"step": 3, "eval/accuracy": 0.5}) == {}
