"""The scipy-based Welch test, its CI and the exact permutation test give the numbers phasescope gave
before it used scipy.stats for them.

The expected values were printed by the hand-written implementation of `welch`, `permutation_p` and
`hedges_g` in phasescope/analysis/compare.py at commit 0397382 (before the switch to
`scipy.stats.ttest_ind(equal_var=False)` and `scipy.stats.permutation_test`), on the inputs below.
"""

import pytest

from phasescope.analysis.compare import hedges_g, permutation_p, welch

CASES = [
    # (a, b, welch diff, ci, t, df, p, permutation p, p_min, hedges g, g ci)
    (
        [0.61, 0.58, 0.66],
        [0.52, 0.55, 0.50],
        (0.09333333333333338, [0.010785407656951296, 0.17588125900971546]),
        (3.39549875050866, 3.3482983345401878, 0.036045556840442715),
        (0.1, 0.1),
        (2.2179304962677495, [0.18428362724793557, 4.251577365287563]),
    ),
    (
        [1, 2, 3],
        [4, 5, 6],
        (-3.0, [-5.266957935527519, -0.7330420644724809]),
        (-3.6742346141747673, 4.0, 0.021311641128756713),
        (0.1, 0.1),
        (-2.4000000000000004, [-4.4987788785535745, -0.30122112144642665]),
    ),
    (
        [0.2, 0.25, 0.31, 0.22],
        [0.3, 0.28],
        (-0.04500000000000004, [-0.11873570866255813, 0.02873570866255805]),
        (-1.7320508075688794, 3.790294627383014, 0.16225221572682103),
        (0.3333333333333333, 0.06666666666666667),
        (-0.8544827938995753, [-2.619370310992661, 0.9104047231935105]),
    ),
    (  # ties in the pooled values
        [0.5, 0.5, 0.7],
        [0.5, 0.6, 0.6, 0.4, 0.55],
        (0.036666666666666625, [-0.1947586442509908, 0.268091977584324]),
        (0.4796227922166416, 3.294977908513856, 0.6615527847914964),
        (0.6964285714285714, 0.017857142857142856),
        (0.3340318805854501, [-1.106650861119784, 1.7747146222906842]),
    ),
    (
        [3.1, 2.9, 3.4, 3.0, 3.3],
        [2.2, 2.8, 2.5, 3.1, 2.0],
        (0.6199999999999997, [0.0761736191068687, 1.1638263808931306]),
        (2.829899880443357, 5.666781445226032, 0.031897950067100514),
        (0.03968253968253968, 0.007936507936507936),
        (1.6165807537309516, [0.18880831124755093, 3.0443531962143524]),
    ),
]


@pytest.mark.parametrize("a, b, diff_ci, t_df_p, perm, g", CASES)
def test_numbers_unchanged_by_scipy(a, b, diff_ci, t_df_p, perm, g):
    w = welch(a, b)
    assert w["diff"] == pytest.approx(diff_ci[0], rel=1e-12, abs=1e-15)
    assert w["ci"] == pytest.approx(diff_ci[1], rel=1e-9)
    assert (w["t"], w["df"], w["p"]) == pytest.approx(t_df_p, rel=1e-9)
    assert permutation_p(a, b) == pytest.approx(perm, rel=1e-12)
    got_g, got_ci = hedges_g(a, b)
    assert got_g == pytest.approx(g[0], rel=1e-12) and got_ci == pytest.approx(g[1], rel=1e-12)


def test_no_spread_and_too_few_values_give_no_test():
    assert welch([1, 1], [1, 1]) == {"diff": 0.0, "ci": None, "t": None, "df": None, "p": None}
    assert welch([1], [2, 3])["p"] is None
    assert permutation_p([1], [2]) == (None, None)
    assert permutation_p([1, 2, 3], [1, 2, 3])[0] == pytest.approx(1.0)
