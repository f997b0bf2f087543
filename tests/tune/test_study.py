"""The search: dev-only scoring, failed trainings, the grid, the config's values first (training faked)."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from phasescope.errors import PhasescopeError
from phasescope.tune import TuneRequest, tune
from phasescope.tune.objective import TrialResult, dev_score
from tests.tune.conftest import fake_rows, known_score


def _study(tmp_path, arm="rl"):
    storage = f"sqlite:///{tmp_path / 'default-tune' / arm / 'study.db'}"
    return optuna.load_study(study_name=arm, storage=storage)


def _req(tmp_path, **kw):
    return TuneRequest(**{"arms": ["rl"], "trials": 2, "seeds": 1, "out": str(tmp_path), **kw})


def test_score_is_the_mean_of_the_last_three_dev_evaluations():
    rows = [
        {"step": 0, "dev/accuracy": 0.9},
        {"step": 5, "dev/accuracy": 0.2},
        {"step": 6, "train/loss": 1.0},
    ]
    rows += [{"step": s, "dev/accuracy": v} for s, v in [(10, 0.4), (15, 0.5), (20, 0.9)]]
    assert dev_score(rows) == pytest.approx((0.4 + 0.5 + 0.9) / 3)
    assert dev_score(rows[:2]) == 0.2  # the base (step 0) never counts
    assert dev_score([{"step": 0, "dev/accuracy": 0.9}]) is None


def test_trials_train_without_held_out_evaluation_and_never_read_eval_metrics(tmp_path, fake_training):
    result = tune(_req(tmp_path, seeds=2), log=lambda *_: None)
    assert len(fake_training) == 2
    for _arm, cfg, _dir in fake_training:
        assert cfg.train.eval_heldout is False and cfg.train.probes is False
        assert cfg.experiment.seeds == 2 and cfg.experiment.wandb == "off"
    # The rows carry eval/accuracy = 0.99 behind a trap (tests/tune/conftest.py): the scores are the dev ones.
    for t in _study(tmp_path).get_trials():
        assert t.value == pytest.approx(known_score(t.params["arms.rl.lr"]))
        assert t.user_attrs["seed_scores"] == [pytest.approx(t.value)] * 2
    assert result.rows[0]["best_score"] == max(t.value for t in _study(tmp_path).get_trials())
    first = _study(tmp_path).get_trials()[0]  # the config's own values come first, for comparison
    assert first.params == {"arms.rl.lr": 3e-4} and first.user_attrs["baseline"] is True  # the world's rate
    assert result.rows[0]["config_score"] == pytest.approx(known_score(3e-4))


def test_failed_trainings_are_recorded_and_three_in_a_row_stop(tmp_path, fake_training):
    outcomes = iter([TrialResult(False, error="training failed: rl/seed0"), None, None, None, None])

    def flaky(cfg, exp_dir, log):
        got = next(outcomes)
        return got or TrialResult(False, error="loss went non-finite")

    with pytest.raises(PhasescopeError, match="3 trials failed in a row"):
        tune(_req(tmp_path, trials=5), log=lambda *_: None, train=flaky)
    trials = _study(tmp_path).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 3
    assert trials[0].user_attrs["error"] == "training failed: rl/seed0"


def test_grid_walks_the_learning_rate_and_finds_the_known_best(tmp_path, fake_training):
    result = tune(_req(tmp_path, trials=10, sampler="grid"), log=lambda *_: None)
    lrs = sorted(t.params["arms.rl.lr"] for t in _study(tmp_path).get_trials())
    assert lrs == [1e-5, 3e-5, 1e-4, 3e-4, 1e-3]  # exhausted after five, not ten
    (row,) = result.rows
    assert row["best"] == {"arms.rl.lr": 1e-4} and row["best_score"] == pytest.approx(1.0)
    assert row["spread"]["min"] == pytest.approx(known_score(1e-5))


def test_fake_rows_score_what_they_say():
    assert dev_score(fake_rows(0.5)) == pytest.approx(0.5)
