"""Phase-labelling rules on trend sequences and on fitted curves."""

from __future__ import annotations

import numpy as np
import pytest

from phasescope.analysis.curves import infer_direction
from phasescope.analysis.phases import DIP, segment_labels
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.segment_results import describe_phases, segment_arrays


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


def test_a_dip_the_curve_regains_is_no_overfit_but_a_decline_it_never_regains_is():
    """An overfit is the decline from the curve's best point: rise to 0.7, dip to 0.5, back to
    0.75 (above the best) reads no overfit; back only to 0.6 (below the best) keeps it."""
    steps = np.arange(0, 201) * 5.0
    wiggle = 1e-3 * (-1.0) ** np.arange(201)
    regained = np.interp(steps, [0, 400, 600, 800, 1000], [0.3, 0.7, 0.5, 0.75, 0.75]) + wiggle
    r = segment_arrays(steps, regained, "higher", PhaseSegmenter(n_bootstrap=0))
    labels = [p["label"] for p in r["phases"]]
    assert "overfit" not in labels and labels[0] == "improve"
    (dip,) = [p for p in r["phases"] if p.get("note") == DIP]
    assert dip["label"] == "plateau" and 350 <= dip["start_step"] <= 450
    partial = np.interp(steps, [0, 400, 600, 800, 1000], [0.3, 0.7, 0.5, 0.6, 0.6]) + wiggle
    r = segment_arrays(steps, partial, "higher", PhaseSegmenter(n_bootstrap=0))
    over = [p for p in r["phases"] if p["label"] == "overfit"]
    assert over and 350 <= over[0]["start_step"] <= 450


def test_a_level_held_over_many_evaluations_is_a_phase_below_the_single_point_floor():
    """On 200 problems one evaluation's noise is 0.034 and a single-point change must exceed 0.094;
    a step of 0.06 held by 10 evaluations before and 20 after (means known to about 0.013) is an
    improvement, while the same curve without the step is one plateau."""
    rng = np.random.default_rng(3)
    steps = np.arange(30) * 10.0
    noise = np.round(rng.normal(0, 0.006, 30) * 200) / 200
    step = np.where(steps < 100, 0.36, 0.42) + noise
    r = segment_arrays(steps, step, "higher", PhaseSegmenter(n_bootstrap=0), eval_n=200)
    assert [p["label"] for p in r["phases"] if p["label"] != "plateau"] == ["improve"]
    flat = segment_arrays(steps, 0.39 + noise, "higher", PhaseSegmenter(n_bootstrap=0), eval_n=200)
    assert [p["label"] for p in flat["phases"]] == ["plateau"]
    # The same 0.06 as a wander over 6 evaluations (0.01 each, within the point-to-point noise of
    # this draw) passes the means test but holds no step: a plateau.
    drift = np.interp(np.arange(30), [0, 10, 16, 29], [0.36, 0.36, 0.42, 0.42]) + noise
    r = segment_arrays(steps, drift, "higher", PhaseSegmenter(n_bootstrap=0), eval_n=200)
    assert [p["label"] for p in r["phases"]] == ["plateau"]


def test_a_recovered_dip_is_worded_as_such():
    steps = np.arange(0, 201) * 5.0
    y = np.interp(steps, [0, 400, 600, 800, 1000], [0.3, 0.7, 0.5, 0.75, 0.75]) + 1e-3 * (-1.0) ** np.arange(
        201
    )
    r = segment_arrays(steps, y, "higher", PhaseSegmenter(n_bootstrap=0)) | {"metric": "acc"}
    words = describe_phases(r)
    assert any(w.startswith("plateau (steps 4") and DIP in w for w in words), words
    assert not any(w.startswith("overfit") for w in words)
