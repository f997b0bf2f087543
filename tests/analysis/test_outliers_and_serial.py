"""One-step spikes (``outliers``), the autocorrelated floor (``noise.correlated_floor``), final spans
and rises measured as a whole (``phases``): known answers on curves built for each case (issue 22)."""

from __future__ import annotations

import numpy as np
import pytest

from phasescope.analysis import curve_noise
from phasescope.analysis.curve_families import VISIBLE_RISE, family_curve
from phasescope.analysis.noise import (
    MIN_LAG1,
    NoiseFloor,
    correlated_floor,
    lag1_from_differences,
    serial_lag1,
)
from phasescope.analysis.outliers import despiked, one_step_spikes
from phasescope.analysis.phases import NAMED, label_phases
from phasescope.analysis.search import noise_sigma
from phasescope.analysis.segment import PhaseSegmenter

X = np.arange(40.0) * 10


def test_a_spike_is_flagged_and_replaced_by_its_neighbours_line():
    y = np.zeros(40)
    y[17] = 6.0
    mask = one_step_spikes(X, y, sigma=1.0)
    assert np.flatnonzero(mask).tolist() == [17]
    assert despiked(X, y, mask)[17] == 0.0
    assert y[17] == 6.0  # the input is not changed
    y[17] = -6.0
    assert np.flatnonzero(one_step_spikes(X, y, sigma=1.0)).tolist() == [17]
    y[17] = 3.5  # under SPIKE_Z
    assert not one_step_spikes(X, y, sigma=1.0).any()


@pytest.mark.parametrize(
    "shape",
    [
        np.abs(X - 200.0) / 10,  # a sharp V: 1 per step either side of its corner
        ((X - 200.0) / 10) ** 2 / 10,  # a rounded bottom
        np.where(X < 200, 0.0, 8.0),  # a level step
        np.where(X < 200, 0.0, -8.0),
        -np.abs(X - 200.0) / 2,  # a sharp peak, 5 per step
    ],
)
def test_corners_bends_and_steps_are_no_spikes_even_without_noise(shape):
    assert not one_step_spikes(X, shape, sigma=0.1).any()


def test_two_outliers_in_a_row_and_the_ends_are_left_to_the_fit():
    y = np.zeros(40)
    y[[10, 11]] = 6.0
    y[[0, 1, 39]] = 9.0
    assert not one_step_spikes(X, y, sigma=1.0).any()
    y = np.zeros(40)
    y[38] = 9.0  # the last but one: carried back flat from the last
    assert np.flatnonzero(one_step_spikes(X, y, sigma=1.0)).tolist() == [38]


def test_a_spike_beside_another_does_not_hide_it():
    """The carried lines use the median of three slopes, so a spike two points away bends neither."""
    y = np.zeros(40)
    y[[20, 22]] = [7.0, -7.0]
    assert np.flatnonzero(one_step_spikes(X, y, sigma=1.0)).tolist() == [20, 22]


def test_spikes_on_a_flat_curve_buy_no_phase_and_are_reported():
    """A flat loss (sd 0.01) with two spikes of 9-10 sd: without despiking the least-squares fit
    buys three knots for the first and reads improve -> overfit around it."""
    rng = np.random.default_rng(0)
    y = 2.0 + rng.normal(0, 0.01, 60)
    y[[25, 41]] += [0.1, -0.09]
    x = np.arange(60.0)
    seg = PhaseSegmenter(n_bootstrap=0).fit(x, y).predict()
    assert seg.spikes == [25.0, 41.0]
    assert seg.values[25] == y[25]  # the curve reported is the raw one
    assert [p.label for p in label_phases(seg)] == ["plateau"]
    raw = PhaseSegmenter(n_bootstrap=0, despike=False).fit(x, y).predict()
    assert raw.changepoints == [24.0, 25.0, 26.0]
    assert "overfit" in [p.label for p in label_phases(raw)]


def test_lag1_from_differences_reads_ar1_correlation():
    rng = np.random.default_rng(0)
    for rho in (0.0, 0.5, 0.9):
        z = curve_noise.ar1_normal(200, 400, rho, rng)
        est = np.median([lag1_from_differences(row) for row in z])
        assert est == pytest.approx(rho, abs=0.06)
    assert serial_lag1(np.full(30, 1e-17), sigma=1e-9) == 0.0  # float dust says nothing
    assert serial_lag1(np.ones(8), sigma=1.0) == 0.0  # too few points


def test_the_correlated_floor_is_one_points_marginal_noise():
    """AR(1) noise of marginal sd 1 at rho 0.9: the point-to-point noise is about a third of it; the
    floor read back from it is within 30% of 1 on most curves (white noise keeps its floor)."""
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 120)
    got = []
    for z in curve_noise.ar1_normal(50, 120, 0.9, rng):
        sigma = noise_sigma(x, z)
        assert sigma < 0.5
        f = correlated_floor(NoiseFloor("first-difference", sigma), z - z.mean(), sigma)
        got.append(f.sd if f.kind == "autocorrelated" else 0.0)
        assert f.kind != "autocorrelated" or f.lag1 > MIN_LAG1
    assert 0.7 <= np.median(got) <= 1.3
    white = rng.normal(0, 1, 120)
    f = correlated_floor(NoiseFloor("first-difference", 1.0), white, noise_sigma(x, white))
    assert f.kind == "first-difference"
    kept = NoiseFloor("binomial", 0.03, 200)
    assert correlated_floor(kept, z, 0.1) is kept  # a sized floor is never replaced


def test_a_final_span_of_one_evaluation_past_its_knot_is_no_phase():
    x = np.arange(30.0)
    y = np.where(x < 28, 0.5, 0.5)
    y = y + np.random.default_rng(2).normal(0, 0.002, 30)
    y[-1] -= 0.2
    phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(x, y).predict())
    assert [p.label for p in phases if p.label in NAMED] == []
    y[-3:] = 0.3 + np.random.default_rng(3).normal(0, 0.002, 3)  # three points past it: a fall
    phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(x, y).predict())
    assert [p.label for p in phases if p.label in NAMED] == ["shift"]


def test_a_rise_in_two_steps_each_within_the_floor_is_one_improvement():
    """Accuracy on 200 problems (sd about 0.035): +0.07 over 3 evaluations then +0.06 over 8, each
    under 2.77 sd, together 0.13; then a fall of 0.3. The rise is an improvement and the fall an
    overfit, not a flat start and an early-best fall."""
    x = 100.0 * np.arange(1, 31)
    good = np.interp(x, [100, 300, 1100, 1300, 3000], [0.40, 0.47, 0.53, 0.53, 0.23])
    seg = PhaseSegmenter(n_bootstrap=0, eval_n=200).fit(x, good).predict()
    labels = [p.label for p in label_phases(seg)]
    assert list(dict.fromkeys(labels)) == ["improve", "overfit"]  # the two steps may stay two improves


def test_early_peak_curves_rise_visibly_before_their_best():
    rng = np.random.default_rng(5)
    for direction in ("higher", "lower"):
        for _ in range(20):
            c = family_curve("early_peak", rng, direction)
            good = c.clean if direction == "higher" else -c.clean
            assert good.max() - good[0] >= VISIBLE_RISE * c.noise
            assert c.neutral  # the bends of the rise and of the decline


def test_the_point_between_two_spikes_is_not_taken_for_one():
    """Up, down, up: the middle point sticks out below its two neighbours, but the spikes are taken
    strongest first and never beside one already taken."""
    y = np.zeros(40)
    y[[20, 22]] = [7.0, 7.5]
    assert np.flatnonzero(one_step_spikes(X, y, sigma=1.0)).tolist() == [20, 22]


def test_a_peak_is_placed_at_the_datas_best_not_at_the_fits_corner():
    """A rise that keeps climbing slowly after its bend, to a best at 0.87 of the run, then a
    collapse (a PPO reward's policy collapse). Told the fit's corner at the bend (0.6), the event
    moves to the data's best; the fit's own corner is kept in ``fit_events``."""
    from phasescope.analysis.extremes import data_extremes

    x = np.arange(0.0, 1001.0)
    xn = x / 1000
    clean = np.where(xn <= 0.87, 0.6 * (1 - np.exp(-xn / 0.1)) + 0.3 * xn, 0.0)
    clean = np.where(xn > 0.87, clean[870] - 4.0 * (xn - 0.87), clean)
    yn = clean + np.random.default_rng(0).normal(0, 0.01, len(x))
    moved = data_extremes(x, xn, yn, 0.01, [600.0], [600], [True], [0.9, -4.0])
    assert abs(moved[0] - 870) <= 10


def test_a_sharp_corner_on_a_long_noisy_curve_stays_where_the_fit_puts_it():
    from phasescope.analysis.extremes import data_extremes

    x = np.arange(2001.0)
    xn = x / 2000
    yn = np.abs(xn - 0.5) + np.random.default_rng(1).normal(0, 0.05, len(x))
    # one knot at the corner, pieces of slope -1 and +1: the running mean's best cannot beat the
    # corner's by more than noise, so the event stays
    assert data_extremes(x, xn, yn, 0.05, [1000.0], [1000], [True], [-1.0, 1.0]) == [1000.0]
    shifted = data_extremes(
        x, xn, yn - 0.3 * np.exp(-(((xn - 0.7) / 0.01) ** 2)), 0.05, [1000.0], [1000], [True], [-1.0, 1.0]
    )
    assert abs(shifted[0] - 1400) <= 20  # a deeper dip elsewhere between the knots is found
