"""The noise floor no phase is called below (issue 22): eval-set size, its 1/n grid, seed
replicates, first differences; the 9 flat curves of the default run; the words for the shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasescope.analysis.noise import (
    ASSUMED_N,
    EVAL_MAX_POINTS,
    SEPARABLE_Z,
    Z95,
    binomial_se,
    first_difference_sd,
    grid_n,
    looks_like_eval_series,
    mean_change_z,
    noise_floor,
    residual_lag1,
)
from phasescope.analysis.online import OnlineDetector
from phasescope.analysis.phases import EARLY_BEST, NAMED, label_phases
from phasescope.analysis.segment import PhaseSegmenter

FLAT = json.loads((Path(__file__).parents[1] / "fixtures" / "flat_general_curves.json").read_text())


def _flat_curves():
    return [(name, np.array(c["steps"], float), np.array(c["values"])) for name, c in FLAT["curves"].items()]


def test_grid_n_reads_the_eval_set_size_from_rates_logged_as_k_over_n():
    rng = np.random.default_rng(0)
    assert grid_n(rng.integers(60, 140, 30) / 200) == 200
    assert grid_n(np.float32(rng.integers(60, 140, 30) / 300)) == 300  # float32 dust and thirds
    assert grid_n(rng.uniform(0.3, 0.7, 30)) is None  # not on any grid
    assert grid_n([0.1, 0.2, 0.3, 0.4]) is None  # too few distinct values to tell
    assert grid_n(np.array([1, 2, 3, 4, 5, 6]) * 0.5) is None  # not rates


def test_first_difference_sd_is_the_noise_sd_on_independent_points_and_larger_when_they_wander():
    rng = np.random.default_rng(1)
    white = 0.02 * rng.standard_normal(2000) + np.linspace(0, 1, 2000)  # a trend does not count
    assert first_difference_sd(white) == pytest.approx(0.02, rel=0.1)
    e, phi = 0.02 * rng.standard_normal(2000), 0.8
    ar = np.zeros_like(e)
    for i in range(1, len(e)):
        ar[i] = phi * ar[i - 1] + e[i]
    marginal = 0.02 / np.sqrt(1 - phi**2)  # the AR(1) process's own sd, 0.033
    assert first_difference_sd(ar, max_phi=0.9) == pytest.approx(marginal, rel=0.25)
    assert first_difference_sd(ar) < 0.6 * marginal  # unscaled: what one step's wander shows


def test_noise_floor_prefers_the_eval_set_then_its_grid_then_seeds_then_differences():
    rng = np.random.default_rng(2)
    # A fixed eval set: counts of 200 that move by a problem or two between evaluations.
    rates = (100 + np.cumsum(rng.integers(-2, 3, size=(3, 30)), axis=1)) / 200
    assert noise_floor(rates, eval_n=500).kind == "binomial" and noise_floor(rates, 500).eval_n == 500
    inferred = noise_floor(rates[0])
    assert (inferred.kind, inferred.eval_n) == ("binomial-inferred", 200)
    assert inferred.sd == pytest.approx(binomial_se(rates[0].mean(), 200))
    # Fresh problems at every point (per-step rollout rewards, k of 16): on a grid, but independent.
    fresh = rng.binomial(16, 0.4, size=300) / 16
    assert grid_n(fresh) == 16 and noise_floor(fresh).kind == "first-difference"
    off = rates + rng.uniform(-1e-3, 1e-3, rates.shape)
    seeds = noise_floor(off)
    assert seeds.kind == "seeds" and seeds.sd >= np.sqrt(off.var(axis=0, ddof=1).mean()) - 1e-12
    # One such curve off its grid: smoother than independent evaluations could be, so a fixed eval
    # set of unknown size (the conservative assumed floor), unless it is no rate.
    assert noise_floor(off[0]).kind == "binomial-assumed"
    assert noise_floor(100 * off[0]).kind == "first-difference"  # not a rate: no grid read


@pytest.mark.parametrize("eval_n", [200, None])
def test_the_nine_flat_default_run_curves_have_no_phase_offline(eval_n):
    """rl, chord_phi and chord_mu's eval/general_accuracy, 3 seeds each: all within ±0.05 of 0.46
    on 200 problems. Without eval_n the size is read from the values' 1/200 grid."""
    for name, x, y in _flat_curves():
        seg = PhaseSegmenter(eval_n=eval_n, n_bootstrap=0).fit(x, y).predict()
        assert not [p.label for p in label_phases(seg) if p.label in NAMED], name
        assert seg.noise.startswith("binomial, eval set of 200")


def test_a_short_smooth_rate_of_unknown_size_gets_the_assumed_binomial_floor():
    """A [0, 1] curve of at most EVAL_MAX_POINTS points whose consecutive values differ by less than
    independent evaluations of ASSUMED_N problems could (a fixed eval set: the same problems every
    time) is tested against ASSUMED_N problems' binomial noise; independent noise, a long curve or a
    curve outside [0, 1] keeps the first-difference noise."""
    rng = np.random.default_rng(5)
    wander = 0.5 + np.cumsum(rng.normal(0, 0.004, 30))  # moves ~0.004 per point; se at 200 is 0.035
    assert looks_like_eval_series(wander)
    floor = noise_floor(wander)
    assert (floor.kind, floor.eval_n) == ("binomial-assumed", ASSUMED_N)
    assert floor.sd == pytest.approx(binomial_se(wander.mean(), ASSUMED_N))
    assert floor.sd_at(0.2) == pytest.approx(np.sqrt(0.2 * 0.8 / ASSUMED_N))
    assert floor.describe().startswith(f"binomial, assumed eval set of {ASSUMED_N}")
    fresh = 0.5 + rng.normal(0, binomial_se(0.5, ASSUMED_N), 30)  # independent evaluations of 200
    assert not looks_like_eval_series(fresh) and noise_floor(fresh).kind == "first-difference"
    long = 0.5 + np.cumsum(rng.normal(0, 0.004, EVAL_MAX_POINTS + 1))
    assert not looks_like_eval_series(long) and noise_floor(long).kind == "first-difference"
    assert noise_floor(wander + 1.0).kind == "first-difference"  # outside [0, 1]: no rate
    assert noise_floor(wander, rate=False).kind == "first-difference"
    assert noise_floor(wander, eval_n=1000).kind == "binomial"  # a known size wins
    # Independent evaluations of 1,000 problems, logged as k/1000: the grid gives the size, and the
    # points are independent (not smoother than that size's noise), so first differences stay.
    on_grid = rng.binomial(1000, 0.5, 30) / 1000
    assert grid_n(on_grid) == 1000 and looks_like_eval_series(on_grid)
    assert noise_floor(on_grid).kind == "first-difference"
    # Under 5 distinct values no grid can be told from chance: no size is assumed either.
    assert not looks_like_eval_series(np.resize([0.45, 0.46, 0.47, 0.46], 30))


def _jittered_flat_curves(seed: int):
    """The 9 flat curves moved off their 1/200 grid (as a foreign log without eval_n might be)."""
    rng = np.random.default_rng(seed)
    return [(name, x, y + rng.uniform(-1e-3, 1e-3, len(y))) for name, x, y in _flat_curves()]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_nine_flat_curves_off_their_grid_have_no_phase_by_the_assumed_floor(seed):
    """Before the assumed floor: a phase on 9 of 9 offline and 5 of 9 online (first differences)."""
    for name, x, y in _jittered_flat_curves(seed):
        seg = PhaseSegmenter(n_bootstrap=0).fit(x, y).predict()
        assert not [p.label for p in label_phases(seg) if p.label in NAMED], name
        assert seg.noise.startswith(f"binomial, assumed eval set of {ASSUMED_N}"), name
        assert seg.floor.kind == "binomial-assumed"
        for min_points in (20, 10):
            assert OnlineDetector(FLAT["metric"], min_points=min_points).run(x, y) == [], (name, min_points)


@pytest.mark.parametrize("label, size", [("shift", -0.2), ("improve", 0.2)])
def test_a_planted_change_well_above_the_assumed_floor_is_still_found_offline(label, size):
    """The same curves with a lasting change of 0.2 (twice the assumed floor on one change, 2.77 se of
    200 problems = 0.1) over steps 300-350: found, where it is. (The change's two large differences
    can lift a curve's first-difference noise over the smoothness bound: then it is read on that.)"""
    assumed = 0
    for name, x, y in _jittered_flat_curves(2):
        planted = y + size * np.clip((x - 300) / 50, 0, 1)
        seg = PhaseSegmenter(n_bootstrap=0).fit(x, planted).predict()
        assumed += seg.floor.kind == "binomial-assumed"
        named = [p for p in label_phases(seg) if p.label in NAMED]
        # Adjacent phases of one name are one phase here (a knot BIC pays for inside the change).
        assert {p.label for p in named} == {label}, name
        assert any(p.start_step <= 325 <= p.end_step for p in named), name  # the change is in one
    assert assumed >= 7  # the test is of the assumed floor


def test_a_planted_decline_well_above_the_assumed_floor_is_confirmed_online():
    """A decline of 0.3 from step 100 to the end (the online detector confirms trends, not steps):
    confirmed as one shift on every curve, starting inside the decline, and just as the eval set's
    true size (200) would have it."""
    for name, x, y in _jittered_flat_curves(2):
        planted = y - 0.3 * np.clip((x - 100) / 500, 0, 1)
        events = OnlineDetector(FLAT["metric"]).run(x, planted)
        assert [e.label for e in events] == ["shift"], name
        assert 100 <= events[0].start_step <= 300, name
        assert events == OnlineDetector(FLAT["metric"], eval_n=200).run(x, planted), name


def test_the_flat_curves_mean_over_seeds_off_the_grid_has_no_phase_by_the_seed_floor():
    rng = np.random.default_rng(3)
    for arm in ("rl", "chord_phi", "chord_mu"):
        cs = [FLAT["curves"][f"{arm}/seed{k}"] for k in range(3)]
        V = np.array([c["values"] for c in cs]) + rng.uniform(-5e-4, 5e-4, (3, len(cs[0]["values"])))
        seg = PhaseSegmenter(n_bootstrap=0).fit(cs[0]["steps"], V).predict()
        assert not [p.label for p in label_phases(seg) if p.label in NAMED], arm
        assert seg.noise == "seed replicates (3 seeds)"


@pytest.mark.parametrize("eval_n", [200, None])
@pytest.mark.parametrize("min_points", [20, 10])
def test_the_nine_flat_curves_confirm_no_phase_online(eval_n, min_points):
    for name, x, y in _flat_curves():
        assert OnlineDetector(FLAT["metric"], eval_n=eval_n, min_points=min_points).run(x, y) == [], name


def _curve(steps, knots, levels, sd=0.004, seed=0):
    return np.interp(steps, knots, levels) + sd * np.random.default_rng(seed).standard_normal(len(steps))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_small_early_rise_before_the_fall_is_a_shift_not_improve_then_overfit(seed):
    """A rise of 2 noise sd over 30 points (a significant slope, but no best beyond the noise),
    then the fall and the recovery: before issue 22 this read improve → overfit → improve."""
    x = np.arange(0, 401, 2.0)
    y = _curve(x, [0, 60, 120, 400], [0.50, 0.508, 0.30, 0.60], seed=seed)
    labels = [p.label for p in label_phases(PhaseSegmenter(n_bootstrap=0).fit(x, y).predict())]
    assert labels == ["plateau", "shift", "readapt"]


def test_a_decline_from_a_first_evaluation_after_step_0_is_an_early_best_overfit():
    x = np.arange(5, 401, 5.0)
    y = _curve(x, [5, 400], [0.6, 0.3])
    phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(x, y).predict())
    assert [p.label for p in phases if p.label in NAMED] == ["overfit"]
    assert phases[0].extra["note"] == EARLY_BEST and phases[0].extra["best_step"] == 5
    # From the untrained model (step 0) the same fall is a shift; one that recovers stays a shift.
    x0 = x - 5
    assert [p.label for p in label_phases(PhaseSegmenter(n_bootstrap=0).fit(x0, y).predict())] == ["shift"]
    back = _curve(x, [5, 150, 400], [0.6, 0.3, 0.7])
    labels = [p.label for p in label_phases(PhaseSegmenter(n_bootstrap=0).fit(x, back).predict())]
    assert labels[:2] == ["shift", "readapt"]


def test_mean_change_z_is_the_difference_of_means_in_its_standard_errors_worth_fewer_when_correlated():
    # 4 points at 0, 4 at 1, sd 1: se = sqrt(1/4 + 1/4), z = sqrt(2).
    assert mean_change_z([0.0] * 4, [1.0] * 4, 1.0) == pytest.approx(2**0.5)
    # One point each side: a change of SEPARABLE_Z sd is Z95, the single-point floor.
    assert mean_change_z([0.0], [SEPARABLE_Z], 1.0) == pytest.approx(Z95)
    # r = 1/3: each point is worth (1 - r)/(1 + r) = 1/2, so 4 points count as 2 and z = 1.
    assert mean_change_z([0.0] * 4, [1.0] * 4, 1.0, r=1 / 3) == pytest.approx(1.0)
    assert mean_change_z([], [1.0], 1.0) == 0.0 and mean_change_z([0.0], [1.0], 0.0) == 0.0
    assert residual_lag1((-1.0) ** np.arange(50)) == 0.0  # negative correlation clips to 0
    walk = np.cumsum(np.random.default_rng(4).standard_normal(400))
    assert residual_lag1(walk) > 0.9  # a random walk repeats its last value's luck


def _peak_then_steps(end: float, seed: int, lower: bool = False):
    """31 evaluations of a 400-problem set (floor: 2.77 se = 0.064 near 0.3): a rise of 0.08 to a
    best at step 1200, then falls of 0.04 and, after a small rise, of 0.045 to ``end``."""
    x = np.linspace(0, 12000, 31)
    y = _curve(x, [0, 1200, 3600, 8800, 12000], [0.26, 0.34, 0.30, 0.31, end], sd=0.003, seed=seed)
    seg = PhaseSegmenter(eval_n=400, n_bootstrap=0).fit(x, 1 - y if lower else y).predict()
    return label_phases(seg, "lower" if lower else "higher"), seg


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("lower", [False, True])
def test_an_overfit_is_the_decline_from_the_best_measured_as_a_whole(seed, lower):
    """Each fall after the best is within the floor, the whole decline (0.075) is not: the first fall
    starts an overfit at the best. A decline of 0.05 in all, or one the curve regains, is none."""
    phases, seg = _peak_then_steps(0.265, seed, lower)
    named = [p for p in phases if p.label in NAMED]
    assert [p.label for p in named] == ["improve", "overfit"]
    assert 1000 <= named[1].start_step <= 1500
    assert all(h["start_step"] != named[1].start_step for h in seg.not_separable)
    for end in (0.29, 0.35):
        phases, seg = _peak_then_steps(end, seed, lower)
        assert [p.label for p in phases if p.label in NAMED] == ["improve"], end
        assert seg.not_separable  # the falls are listed as within the noise
