"""Holm's correction and rliable's IQM and probability of improvement against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phasescope.analysis.multiplicity import holm_adjust, holm_levels
from phasescope.analysis.replicates import replicate_key
from phasescope.analysis.rliable_stats import iqm, probability_of_improvement


def test_holm_adjusted_p_by_hand():
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, then max(0.06, 0.04·1) = 0.06.
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.6, 0.7]) == [1.0, 1.0]  # capped at 1, and monotone
    # A pair without a test is not in the family: m = 2 here.
    out = holm_adjust([0.02, None, 0.5])
    assert out[0] == pytest.approx(0.04) and out[1] is None and out[2] == pytest.approx(0.5)


def test_holm_levels_decide_exactly_as_the_adjusted_p():
    ps = [0.01, 0.04, 0.03, 0.005]
    # 0.005 < 0.05/4 and 0.01 < 0.05/3 are rejected at their own levels; 0.03 ≥ 0.05/2 stops the
    # procedure, and it and 0.04 stand at that level.
    assert holm_levels(ps) == pytest.approx([0.05 / 3, 0.025, 0.025, 0.0125])
    rng = np.random.default_rng(3)
    for _ in range(200):
        ps = list(rng.uniform(0, 0.1, size=int(rng.integers(1, 12))))
        for p, adj, level in zip(ps, holm_adjust(ps), holm_levels(ps), strict=True):
            assert (p < level) == (adj < 0.05)
            assert level <= 0.05


def test_iqm_is_rliables_trimmed_mean():
    from scipy import stats

    assert iqm([1, 2, 3, 4]) == pytest.approx(2.5)  # drop 1 and 4
    assert iqm([1, 2, 3, 4, 50]) == pytest.approx(3.0)  # n = 5: drop ⌊5/4⌋ = 1 each end
    assert iqm([10, 1, 2, 3, 4, 100, 5, 6]) == pytest.approx(4.5)  # 3, 4, 5, 6
    x = np.random.default_rng(0).normal(size=13)
    assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))  # what rliable's aggregate_iqm calls
    assert iqm([1, 2, 3]) is None and iqm([1, None, 2, 3]) is None  # too few to trim anything


def test_probability_of_improvement_by_hand():
    # One task: 1 vs 2 loses thrice, 2 vs 2 ties thrice, 3 vs 2 wins thrice: (0 + 1.5 + 3) / 9.
    assert probability_of_improvement([1, 2, 3], [2, 2, 2]) == pytest.approx(0.5)
    assert probability_of_improvement([3, 4], [1, 2, 3]) == pytest.approx(5.5 / 6)
    # Two tasks (columns), averaged: task 0 gives 1, task 1 gives (0 + .5 + .5 + 1) / 4.
    x, y = [[1, 0], [1, 1]], [[0, 1], [0, 0]]
    assert probability_of_improvement(x, y) == pytest.approx(0.75)
    # Paired: run i against run i only. Unpaired 3>2, 3>0, 1<2, 1>0 gives 0.75; paired both win.
    assert probability_of_improvement([[3], [1]], [[2], [0]]) == pytest.approx(0.75)
    assert probability_of_improvement([[3], [1]], [[2], [0]], paired=True) == pytest.approx(1.0)
    assert probability_of_improvement([], [1.0]) is None


def test_replicate_key_reads_the_world_column_or_zero():
    frame = pd.DataFrame({"seed": [0, 1, np.nan], "value": [1.0, 2.0, 3.0]})
    assert list(replicate_key(frame)) == [(0, 0), (0, 1), (0, None)]
    frame["world"] = [2, 0, np.nan]
    assert list(replicate_key(frame)) == [(2, 0), (0, 1), (0, None)]
