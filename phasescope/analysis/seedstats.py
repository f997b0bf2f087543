"""Small-sample statistics over seeds (pure): per-quantity summaries and the unpaired tests that
``pairwise`` falls back to where a log has no per-problem results (foreign logs, NLL metrics).

- ``summarize_values``: mean ± sample std over seeds, a percentile bootstrap CI of the mean, *and* a
  Student-t CI. With 2–5 seeds the bootstrap CI is too narrow (3 values have 10 distinct
  resamples), so the t interval is the one to quote; both are stored.
- ``welch``: difference of means with a Welch t interval and p (unequal variances, few seeds).
- ``permutation_p``: the exact two-sided permutation p over all relabellings, with the smallest p it
  could ever reach (0.1 for 3 vs 3 seeds).
- ``hedges_g``: the bias-corrected standardised difference with its large-sample normal CI (rough at
  these sample sizes).
"""

from __future__ import annotations

import math

import numpy as np

from phasescope.analysis.noise import Z95


def _t_quantile(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def summarize_values(values, n_boot: int = 2000, rng: np.random.Generator | int | None = 0) -> dict:
    """Mean, std (ddof=1), bootstrap and t 95% CIs of the mean over seeds; per-seed values kept.
    CIs are None with fewer than two values (no spread to estimate)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    out = {
        "n": int(len(x)),
        "values": [float(v) for v in x],
        "mean": None,
        "std": None,
        "ci": None,
        "ci_t": None,
    }
    if len(x) == 0:
        return out
    out["mean"] = float(x.mean())
    if len(x) < 2:
        return out
    out["std"] = float(x.std(ddof=1))
    rng = np.random.default_rng(rng)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    out["ci"] = [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]
    half = _t_quantile(len(x) - 1) * out["std"] / math.sqrt(len(x))
    out["ci_t"] = [out["mean"] - half, out["mean"] + half]
    return out


def welch(a, b) -> dict:
    """Welch's t test of mean(a) − mean(b) (scipy's ttest_ind(equal_var=False)): diff, 95% CI, t, df,
    two-sided p. Needs ≥ 2 values per side; zero spread on both sides gives no test (None fields)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    out = {"diff": diff, "ci": None, "t": None, "df": None, "p": None}
    # scipy answers nan here; None says "no test" to the report and the JSON alike.
    if len(a) < 2 or len(b) < 2 or a.var(ddof=1) + b.var(ddof=1) == 0:
        return out
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    out.update(ci=[float(ci.low), float(ci.high)], t=float(res.statistic), df=float(res.df))
    out["p"] = float(res.pvalue)
    return out


def permutation_p(
    a, b, max_exact: int = 20000, n_random: int = 20000, rng=0
) -> tuple[float | None, float | None]:
    """Two-sided permutation p-value of the difference in means (scipy's permutation_test on
    |mean(a) − mean(b)|, not its 2·min(one-sided p), which differs for unequal group sizes), and the
    smallest p the design can reach. Exact over every relabelling when there are at most `max_exact`
    (always, for seed counts), else `n_random` random ones. None unless both groups hold two or
    more finite values (fewer seeds than a test needs is no test, not an error)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return None, None
    total = math.comb(len(a) + len(b), len(a))
    res = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis)),
        permutation_type="independent",
        vectorized=True,
        n_resamples=total if total <= max_exact else n_random,
        alternative="greater",
        random_state=rng,
    )
    null = res.null_distribution
    # A tolerance so ties from floating-point summation count as ties.
    p_min = float(np.mean(null >= null.max() - 1e-12 * max(1.0, null.max())))
    return float(res.pvalue), p_min


def hedges_g(a, b) -> tuple[float | None, list[float] | None]:
    """Hedges' g (bias-corrected standardised mean difference) and its normal-approximation 95% CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None, None
    sp = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if sp == 0:
        return None, None
    j = 1 - 3 / (4 * (na + nb) - 9)
    g = j * (a.mean() - b.mean()) / sp
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    return float(g), [float(g - Z95 * se), float(g + Z95 * se)]
