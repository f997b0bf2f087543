"""Phase-labelling rules on trend sequences and on fitted curves."""

from __future__ import annotations

import numpy as np
import pytest

from phasescope.analysis.curves import infer_direction
from phasescope.analysis.phases import segment_labels
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.segment_results import segment_arrays


@pytest.mark.parametrize(
    ("trends", "labels"),
    [
        ([-1, 1, -1], ["shift", "readapt", "overfit"]),
        ([1, -1], ["improve", "overfit"]),
        ([0], ["plateau"]),
        ([0, -1, 1], ["plateau", "shift", "readapt"]),
        ([-1, 0, 1, 0], ["shift", "plateau", "readapt", "plateau"]),
        ([1, 0, -1], ["improve", "plateau", "overfit"]),
        ([-1, 1, -1, 1], ["shift", "readapt", "overfit", "improve"]),
    ],
)
def test_label_rules(trends, labels):
    assert segment_labels(trends) == labels


def test_recovery_is_the_first_evaluation_back_at_the_initial_level():
    steps = np.arange(0, 101) * 10.0
    y = np.interp(steps, [0, 200, 600, 1000], [0.5, 0.3, 0.7, 0.6]) + 1e-4 * (-1.0) ** np.arange(
        101
    )  # back at 400
    r = segment_arrays(steps, y, "higher", PhaseSegmenter(n_bootstrap=0))
    shift, readapt, overfit = r["phases"]
    assert (shift["label"], readapt["label"], overfit["label"]) == ("shift", "readapt", "overfit")
    assert shift["recover_step"] == readapt["recover_step"] == 400  # the data, not the fit's crossing
    assert readapt["time_to_recover"] == pytest.approx(400 - readapt["start_step"])
    assert readapt["time_to_recover"] == pytest.approx(200, abs=10)
    assert overfit["best_step"] == pytest.approx(600, abs=10)
    assert overfit["decline"] == pytest.approx(0.1, abs=0.01)


def test_readapt_that_never_recovers_says_so():
    steps = np.arange(0, 60) * 1.0
    y = np.interp(steps, [0, 10, 59], [0.5, 0.2, 0.4]) + 1e-4 * np.cos(steps)
    phases = segment_arrays(steps, y, "higher", PhaseSegmenter(n_bootstrap=0))["phases"]
    assert [p["label"] for p in phases] == ["shift", "readapt"]
    assert phases[1]["recover_step"] is None and phases[1]["time_to_recover"] is None


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("eval/accuracy", "higher"),
        ("eval_accuracy", "higher"),
        ("rollout/reward_mean", "higher"),
        ("ep_rew_mean", "higher"),
        ("train/loss", "lower"),
        ("val_perplexity", "lower"),
        ("expert/nll", "lower"),
        ("eval_wer", "lower"),
        ("train/ploss_0", "lower"),
        ("error_rate", "lower"),
        ("grad_norm", None),
    ],
)
def test_direction_from_name(name, direction):
    assert infer_direction(name) == direction
