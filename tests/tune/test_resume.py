"""Resuming a search: the rerun continues, interrupted and stale trials are failed and kept (training faked)."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState

from phasescope.errors import PhasescopeError, UsageError
from phasescope.tune import TuneRequest, tune


def _study(tmp_path, arm="rl"):
    storage = f"sqlite:///{tmp_path / 'default-tune' / arm / 'study.db'}"
    return optuna.load_study(study_name=arm, storage=storage)


def _req(tmp_path, **kw):
    return TuneRequest(**{"arms": ["rl"], "trials": 2, "seeds": 1, "out": str(tmp_path), **kw})


def test_rerun_continues_the_study_without_repeating_a_trial(tmp_path, fake_training):
    tune(_req(tmp_path, trials=2), log=lambda *_: None)
    tune(_req(tmp_path, trials=4), log=lambda *_: None)
    trials = _study(tmp_path).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert len({t.params["arms.rl.lr"] for t in trials}) == 4  # no replay of the first run's proposals
    assert len({str(d) for _, _, d in fake_training}) == 4
    tune(_req(tmp_path, trials=4), log=lambda *_: None)  # already at 4: nothing more is trained
    assert len(fake_training) == 4 and len(_study(tmp_path).get_trials()) == 4


def test_an_interrupted_trial_is_marked_failed_and_kept(tmp_path, fake_training):
    def interrupted(cfg, exp_dir, log):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tune(_req(tmp_path), log=lambda *_: None, train=interrupted)
    (t,) = _study(tmp_path).get_trials()
    assert t.state == TrialState.FAIL and t.user_attrs["error"].startswith("interrupted: KeyboardInterrupt")
    tune(_req(tmp_path), log=lambda *_: None)
    states = [t.state for t in _study(tmp_path).get_trials()]
    assert states == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]


def test_the_pools_sigint_says_how_to_continue_the_tune(tmp_path, fake_training):
    def stopped(cfg, exp_dir, log):
        exc = PhasescopeError("interrupted by SIGINT; ... continue with: phasescope run --resume ...")
        exc.exit_code = 130
        raise exc

    with pytest.raises(PhasescopeError, match="rl trial 0 is marked failed; rerun the same command") as got:
        tune(_req(tmp_path), log=lambda *_: None, train=stopped)
    assert got.value.exit_code == 130
    assert _study(tmp_path).get_trials()[0].state == TrialState.FAIL


def test_a_trial_left_running_by_a_killed_process_is_failed_on_the_next_run(tmp_path, fake_training):
    tune(_req(tmp_path, trials=1), log=lambda *_: None)
    _study(tmp_path).ask()  # what a SIGKILL during training leaves behind
    tune(_req(tmp_path, trials=2), log=lambda *_: None)
    t = _study(tmp_path).get_trials()[1]
    assert t.state == TrialState.FAIL and t.user_attrs["stale"] is True
    assert sum(t.state == TrialState.COMPLETE for t in _study(tmp_path).get_trials()) == 2


def test_a_study_is_not_continued_at_another_budget(tmp_path, fake_training):
    tune(_req(tmp_path, trials=1), log=lambda *_: None)
    with pytest.raises(UsageError, match="max_steps=600.*max_steps=300"):
        tune(_req(tmp_path, trials=2, overrides=["train.max_steps=300"]), log=lambda *_: None)


def test_an_interruption_in_a_later_arm_keeps_the_table_of_the_arms_done(tmp_path, fake_training):
    from phasescope.tune.objective import run_trial

    def stops_at_chord_mu(cfg, exp_dir, log):
        if cfg.experiment.arms == ["chord_mu"]:
            raise KeyboardInterrupt
        return run_trial(cfg, exp_dir, log)

    with pytest.raises(KeyboardInterrupt):
        tune(_req(tmp_path, arms=["rl", "chord_mu"]), log=lambda *_: None, train=stops_at_chord_mu)
    summary = json.loads((tmp_path / "default-tune" / "summary.json").read_text())
    assert [r["arm"] for r in summary["arms"]] == ["rl"]
    assert (tmp_path / "default-tune" / "best.toml").is_file()
