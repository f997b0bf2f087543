"""The shortcuts behind the segmenter's speed give what the plain computations give, bit for bit:
the median, the linspace grid, the saturated smoothed hinge, the windows scored in one pass, and
the refinements run in lockstep. (The segmenter's output as a whole is pinned by
test_segment_speed_equivalence.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from phasescope.analysis import eased, search


def test_median_is_numpys():
    rng = np.random.default_rng(0)
    for m in (1, 2, 3, 4, 7, 8, 499, 500):
        for a in (rng.normal(size=m), rng.integers(0, 3, m) / 7.0, np.exp(20 * rng.normal(size=m))):
            assert search.median(a) == float(np.median(a))
    assert search.median(np.array([1.0, 3.0, 2.0, 10.0])) == 2.5  # the two middle values' mean
    assert np.isnan(search.median(np.array([1.0, np.nan, 2.0])))


def test_linspace_is_numpys():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = float(rng.uniform(-1, 1))
        b = a + float(rng.uniform(0, 1)) * 10.0 ** int(rng.integers(-12, 2))
        assert np.array_equal(eased._linspace(a, b, 801), np.linspace(a, b, 801))
    assert np.array_equal(eased._linspace(0.5, 0.5, 801), np.linspace(0.5, 0.5, 801))


def test_smoothed_hinge_is_the_formula_everywhere():
    x = np.linspace(-2.0, 2.0, 20_001)
    for width in (0.001, 0.01, 0.035, 0.3):
        z = x / width
        exact = width * (z * ndtr(z) + np.exp(-0.5 * z * z) * (1.0 / np.sqrt(2.0 * np.pi)))  # as it was
        assert np.array_equal(eased.smoothed_hinge(x, 0.0, width), exact)


def _curve(seed: int, n: int = 400, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 1, n))
    x = (x - x[0]) / (x[-1] - x[0])
    y = np.where(x < 0.3, -x, np.where(x < 0.7, x - 0.6, 0.8 - x)) + rng.normal(0, noise, n)
    return x, y


def test_windows_scored_together_equal_one_at_a_time():
    x, y = _curve(2)
    windows = [(0, 250), (120, 399), (30, 60), (200, 201)]
    together = search._Sums(x, y[None, :])
    search._profile_windows(together, windows)
    for lo, hi in windows:
        cand, score = search._profile(search._Sums(x, y[None, :]), lo, hi)
        got_cand, got_score = together.profiles[lo, hi]
        assert np.array_equal(got_cand, cand) and np.array_equal(got_score, score)


def _refine_alone(x, y, knots, max_rounds=3):
    """The refinement as it was written before the lockstep: one knot set, one window at a time."""
    knots, n = list(knots), len(x)
    S = search._Sums(x, y[None, :])
    pending, budget = list(range(len(knots))), max_rounds * len(knots)
    while pending and budget > 0:
        j = pending.pop(0)
        budget -= 1
        lo = knots[j - 1] if j > 0 else 0
        hi = knots[j + 1] if j + 1 < len(knots) else n - 1
        cand, score = search._profile(S, lo, hi)
        if len(cand) == 0:
            continue
        best = int(cand[int(np.argmin(score[0]))])
        if best != knots[j]:
            knots[j] = best
            pending += [i for i in (j - 1, j + 1) if 0 <= i < len(knots) and i not in pending]
    return knots


@pytest.mark.parametrize("seed", range(4))
def test_lockstep_refinement_moves_each_set_as_alone(seed):
    x, y = _curve(seed)
    rng = np.random.default_rng(seed + 10)
    sets = [
        [],
        [int(rng.integers(20, 380))],
        sorted(rng.choice(np.arange(10, 390), 2, replace=False).tolist()),
    ]
    sets.append(sorted(rng.choice(np.arange(10, 390), 3, replace=False).tolist()))
    assert search._refine_many(x, y, sets) == [_refine_alone(x, y, ks) for ks in sets]


def test_refinement_finds_planted_corners():
    x, y = _curve(5, noise=0.0)
    true = [int(np.searchsorted(x, 0.3)), int(np.searchsorted(x, 0.7))]
    got = search._refine_many(x, y, [[true[0] - 25, true[1] + 30]])[0]
    assert all(abs(g - t) <= 1 for g, t in zip(got, true))
