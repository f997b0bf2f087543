"""The GLR decline test: exact statistics on hand-computable curves, and its fits against brute force."""

import numpy as np
import pytest

from phasescope.analysis.glr import (
    decline_glr,
    prefix_isotonic_rss,
    rise_glr,
    suffix_line_fits,
    threshold_for,
)


def test_step_down_equals_two_sample_glr():
    # 10 points at 0 then 10 at -1, sigma 0.5: n1 n2 / n * d^2 / (2 sigma^2) = 5 * 1 / 0.5 = 10.
    x = np.arange(20.0)
    y = np.r_[np.zeros(10), -np.ones(10)]
    r = decline_glr(x, y, sigma=0.5)
    assert r.stat == pytest.approx(10.0)
    assert r.best == 9 and r.best_step == 9.0 and r.best_level == pytest.approx(0.0)


def test_unequal_step_and_sigma_scaling():
    # 6 points at 2, 12 at 1.5: 6 * 12 / 18 * 0.25 / (2 * 0.2^2) = 4 * 0.25 / 0.08 = 12.5.
    y = np.r_[np.full(6, 2.0), np.full(12, 1.5)]
    assert decline_glr(np.arange(18.0), y, sigma=0.2).stat == pytest.approx(12.5)
    assert decline_glr(np.arange(18.0), y, sigma=0.4).stat == pytest.approx(12.5 / 4)


def test_rise_then_linear_decline_is_fit_exactly():
    # A noiseless rise and a linear decline: H1 fits exactly, so G = RSS of the isotonic fit / 2s^2.
    x = np.arange(30.0)
    y = np.where(x < 15, x / 15, 1 - (x - 14) / 20)
    r = decline_glr(x, y, sigma=0.1)
    rss0 = prefix_isotonic_rss(y)[0][-1]
    assert r.stat == pytest.approx(rss0 / (2 * 0.01))
    assert r.best == 14


def test_no_decline_gives_zero():
    x = np.arange(40.0)
    assert decline_glr(x, np.sqrt(x), sigma=0.1).stat == 0.0  # a saturating rise
    assert decline_glr(x, np.ones(40), sigma=0.1).stat == 0.0
    assert decline_glr(x[:5], -x[:5], sigma=0.1).stat == 0.0  # too short for 2 + 4 points


def test_rise_glr_mirrors():
    x = np.arange(20.0)
    y = np.r_[np.zeros(10), np.ones(10)]
    r = rise_glr(x, y, sigma=0.5)
    assert r.stat == pytest.approx(10.0) and r.best_level == pytest.approx(0.0)
    assert decline_glr(x, y, sigma=0.5).stat == 0.0


def _iso_brute(y):
    # Non-decreasing least squares by repeated pooling (obviously right, slow).
    blocks = [[v] for v in y]
    merged = True
    while merged:
        merged = False
        for i in range(len(blocks) - 1):
            if np.mean(blocks[i]) > np.mean(blocks[i + 1]):
                blocks[i : i + 2] = [blocks[i] + blocks[i + 1]]
                merged = True
                break
    fit = np.concatenate([np.full(len(b), np.mean(b)) for b in blocks])
    return float(np.sum((np.asarray(y) - fit) ** 2)), float(fit[-1])


def test_fits_match_brute_force():
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 100, 25))
    y = rng.normal(size=25).cumsum()
    rss, level = prefix_isotonic_rss(y)
    post, end = suffix_line_fits(x, y)
    for k in (0, 4, 13, 24):
        assert (rss[k], level[k]) == pytest.approx(_iso_brute(y[: k + 1]))
        if k < 23:
            coef = np.polyfit(x[k:], y[k:], 1)
            assert post[k] == pytest.approx(np.sum((y[k:] - np.polyval(coef, x[k:])) ** 2), abs=1e-9)
            assert end[k] == pytest.approx(np.polyval(coef, x[-1]))


def test_threshold_quantile_and_false_alarm_rate():
    # On pure noise the statistic's per-curve maximum, thresholded at its 90% quantile, alarms on
    # about 10% of fresh noise curves.
    rng = np.random.default_rng(0)
    x = np.arange(60.0)
    calib = [decline_glr(x, rng.normal(size=60), 1.0).stat for _ in range(300)]
    h = threshold_for(calib, 0.10)
    fresh = [decline_glr(x, rng.normal(size=60), 1.0).stat >= h for _ in range(300)]
    assert 0.05 <= np.mean(fresh) <= 0.16
    with pytest.raises(ValueError):
        threshold_for([], 0.1)


def test_correlated_residuals_shrink_the_statistic():
    # A random walk (AR(1) with phi near 1) declining by chance: the correction divides the
    # statistic by (1 + r) / (1 - r) for the residuals' lag-1 correlation r, here well above 0.
    rng = np.random.default_rng(5)
    x = np.arange(80.0)
    y = np.r_[np.zeros(40), -np.cumsum(np.abs(rng.normal(0.05, 0.05, 40)))] + np.cumsum(
        rng.normal(0, 0.05, 80)
    )
    plain = decline_glr(x, y, 0.05)
    corr = decline_glr(x, y, 0.05, correlated=True)
    assert plain.stat > 0 and corr.stat < 0.5 * plain.stat
    # Independent noise around an exact step: r is clipped at 0 and nothing changes.
    z = np.r_[np.zeros(10), -np.ones(10)]
    assert decline_glr(np.arange(20.0), z, 0.5, correlated=True).stat == pytest.approx(10.0)


def test_winsorise_pulls_a_far_point_to_its_local_median_plus_c_sigma():
    from phasescope.analysis.online_rules import winsorise  # noqa: PLC0415 - the detector's helper

    y = np.r_[np.zeros(4), 10.0, -0.5, np.zeros(3)]
    out = winsorise(y, sigma=1.0, c=2.5)
    assert out[4] == pytest.approx(2.5) and out[5] == pytest.approx(-0.5)
    assert np.array_equal(out[[0, 1, 2, 3, 6, 7, 8]], np.zeros(7))
