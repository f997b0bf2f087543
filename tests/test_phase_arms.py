"""The two arms whose μ follows training: chord_adaptive (reward) and chord_phase (online phases)."""

import numpy as np
import pytest

from phasescope.arms import (
    DEFAULT_RUN,
    OVERFIT_KEY,
    READAPT_KEYS,
    adaptive_mu,
    dev_metric_for,
    mu_at,
    needs_dev,
    watched_metric,
    watches_dev,
)
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
    assert mu_at(50, arm, {"phase/code": 1.0, "phase/shift_confirmed_step": 20.0}) == 0.9  # shift: stays high
    readapt = {READAPT_KEYS[0]: 40.0, "phase/code": 2.0}
    assert mu_at(40, arm, readapt) == pytest.approx(0.9)  # confirmed at 40: the decay starts there
    assert mu_at(90, arm, readapt) == pytest.approx(0.5)  # halfway: (0.9 + 0.1) / 2
    assert mu_at(140, arm, readapt) == pytest.approx(0.1)
    assert mu_at(400, arm, readapt) == pytest.approx(0.1)
    assert mu_at(90, arm, {**readapt, OVERFIT_KEY: 80.0}) == 0.0  # overfit confirmed: no expert term
    # With no shift before it, an improvement starts the decay; the first of the two counts
    assert mu_at(90, arm, {"phase/improve_confirmed_step": 40.0}) == pytest.approx(0.5)
    assert mu_at(90, arm, {READAPT_KEYS[0]: 70.0, "phase/improve_confirmed_step": 40.0}) == pytest.approx(0.5)


def _planted_accuracy():
    steps = np.arange(0, 801, 10)
    clean = np.interp(steps, [0, 100, 400, 800], [0.5, 0.35, 0.75, 0.6])
    return steps, clean + 0.004 * np.random.default_rng(0).standard_normal(len(steps))


def test_the_trainer_tracks_the_phase_metric_and_mu_follows_its_confirmed_phases():
    from types import SimpleNamespace

    from phasescope.train.trainer import PhaseTrainer, phase_tracker_for

    arm = default_arms()["chord_phase"]
    trainer = SimpleNamespace(tracker=phase_tracker_for(arm))  # what PhaseTrainer.observe reads
    steps, values = _planted_accuracy()
    state: dict = {}
    mus = []
    for s, v in zip(steps, values, strict=True):
        assert PhaseTrainer.observe(trainer, {"step": int(s), "train/loss": 1.0}) == {}  # no metric, nothing
        # The held-out value beside it (a steady climb with no phases) is only reported, never read.
        row = {"step": int(s), "eval/accuracy": 0.3 + s / 2000, "dev/accuracy": float(v)}
        state.update(PhaseTrainer.observe(trainer, row))
        mus.append(mu_at(int(s), arm, state))
    # The steps the detector confirms them at (pinned: μ follows them). 130 and 460 until issue 22: this
    # planted curve is off any 1/n grid, in [0, 1] and smooth, so up to 60 points it is now read on an
    # assumed eval set of 200 problems (noise.ASSUMED_N), which confirms later; the real dev/accuracy is
    # k of 256 and keeps the floor its grid gives.
    assert (state[READAPT_KEYS[0]], state[OVERFIT_KEY]) == (200.0, 610.0)
    assert state["phase/code"] == 4.0 and state["phase/events"] == 3.0
    assert state["phase/shift_confirmed_step"] < state[READAPT_KEYS[0]]
    i_readapt, i_overfit = np.searchsorted(steps, [state[READAPT_KEYS[0]], state[OVERFIT_KEY]])
    assert set(mus[:i_readapt]) == {0.9} and mus[i_overfit] == 0.0
    decay = mus[i_readapt:i_overfit]
    assert decay[0] == 0.9 and all(a >= b for a, b in zip(decay, decay[1:], strict=False))


def test_only_the_phase_schedule_watches_a_metric():
    from phasescope.train.trainer import phase_tracker_for

    arms = default_arms()
    assert watched_metric(arms["chord_phase"]) == "dev/accuracy"
    assert phase_tracker_for(arms["chord_phase"]).detector.min_points == 10
    assert watched_metric(arms["chord_mu"]) is None and phase_tracker_for(arms["chord_mu"]) is None
    # What chooses during training reads the dev split: chord_phase's μ and the selecting switch
    assert watches_dev(arms["chord_phase"]) and needs_dev(arms["chord_phase"])
    assert [a for a in DEFAULT_RUN if needs_dev(arms[a])] == ["sft_then_rl"]
    assert not watches_dev(ArmConfig(schedule="phase", phase_metric="train/loss"))


@pytest.mark.parametrize(
    ("held_out", "dev"),
    [
        ("eval/accuracy", "dev/accuracy"),
        ("eval/expert_nll", "dev/expert_nll"),
        ("eval/general_accuracy", "dev/accuracy"),  # the dev split has no general skill
        ("eval/gsm8k_accuracy", "dev/accuracy"),
    ],
)
def test_a_held_out_phase_metric_is_refused_naming_the_dev_metric(held_out, dev, cli, tmp_path, monkeypatch):
    assert dev_metric_for(held_out) == dev
    monkeypatch.chdir(tmp_path)
    r = cli("run", "--arms", "chord_phase", "--set", f"arms.chord_phase.phase_metric={held_out}")
    assert r.returncode == 2
    assert r.stderr == (
        f"error: arms.chord_phase.phase_metric = {held_out} reads the held-out set, which is only ever "
        f"reported; use {dev}\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_held_out_phase_metric_of_an_arm_that_does_not_run_is_not_refused():
    from phasescope.config import load_config

    cfg = load_config(None, ["arms.chord_phase.phase_metric='eval/accuracy'"])
    assert "chord_phase" not in cfg.experiment.arms  # a stored run of the default arms still loads


@pytest.mark.parametrize(("watched", "best_of"), [(None, max), ("dev/expert_nll", min)])
def test_chord_phase_reads_the_dev_split_at_every_evaluation(
    watched, best_of, tmp_path, tiny_cache, tiny_world
):
    """A tiny-world run: the dev split joins every evaluation row, and phase/* follow the dev metric
    (the default's, dev/accuracy; and dev/expert_nll, whose values the held-out NLL never takes)."""
    import json

    from phasescope.config import load_config
    from phasescope.train.train_one import train_one

    sets = [] if watched is None else [f"arms.chord_phase.phase_metric='{watched}'"]
    cfg = load_config(None, [*tiny_world, *sets])
    metric = cfg.arms["chord_phase"].phase_metric
    assert metric == (watched or "dev/accuracy")
    train_one(cfg, "chord_phase", 0, tmp_path, threads=1)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evaluated = [r["step"] for r in rows if "eval/accuracy" in r]
    assert evaluated == [0, 2, 3]
    assert [r["step"] for r in rows if "dev/accuracy" in r] == evaluated
    assert all("dev/expert_nll" in r and "time/dev_s" in r for r in rows if r["step"] in evaluated)
    assert [r["budget/selection"] for r in rows] == [1, 1, 2, 3]  # the dev evaluations μ is chosen on
    assert [r["step"] for r in rows if "phase/code" in r] == evaluated
    # The tracker's best value is the watched dev curve's running best
    dev = [r[metric] for r in rows if metric in r]
    best = [r["phase/best_value"] for r in rows if "phase/best_value" in r]
    assert best == pytest.approx([best_of(dev[: i + 1]) for i in range(len(dev))])
    if watched is not None:
        assert best[-1] not in [r["eval/expert_nll"] for r in rows if "eval/expert_nll" in r]
