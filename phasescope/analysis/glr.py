"""A generalised likelihood ratio (GLR) test for a sustained decline after the best point, with
the noise known: the sequential confirmation step the online detector can use for an overfit (a
decline after an improvement) and, on the mirrored curve, for the end of a shift (a rise after
the minimum).

The two hypotheses, on a window of points (x_i, y_i) in goodness units (higher is better):

- H0, "it never declines": the mean is non-decreasing (any rise, levelling off at any point; the
  fit is the isotonic regression, so a rise that saturates smoothly is no evidence of a decline);
- H1, "it rose to a best point k and has declined since": the mean is non-decreasing up to k and
  a straight line after it that ends below the level reached at k (a slow decline, a drop, or a
  drop that levels off).

With Gaussian noise of known sd sigma, the log GLR is

    G = (RSS_H0 - min_k RSS_H1(k)) / (2 sigma^2)

and a sequential test raises the alarm at the first look where G reaches a threshold h. On a
step of size d between two flat runs of n1 and n2 points, G = n1 n2 / (n1 + n2) d^2 / (2 sigma^2),
the classic two-sample GLR for a change in mean (``tests/analysis/test_glr.py``).

How this departs from the textbook GLR (Lorden; Siegmund & Venkatraman for a change in mean): the
pre-change mean is neither known nor constant but any non-decreasing curve (the improvement
before an overfit), and the post-change mean is a line rather than a constant, so a slow decline
is caught as it accumulates. h is not derived from an asymptotic formula but calibrated on curves
without the event (``benchmarks/families_online.py --calibrate-glr``), because the looks are
irregular and the noise of real curves is not Gaussian. Every fit is exact least squares in O(n)
per look: the prefix isotonic fits by pool-adjacent-violators on a stack, the suffix lines from
running sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GLRResult:
    """The log GLR ``stat`` and, where the best H1 fit was found, its best point: the index
    ``best`` into the window (the last point before the decline), its step and fitted level."""

    stat: float
    best: int | None = None
    best_step: float | None = None
    best_level: float | None = None


def isotonic_fit(values) -> np.ndarray:
    """The least-squares non-decreasing fit of ``values`` (pool-adjacent-violators)."""
    y = np.asarray(values, dtype=float)
    blocks: list[list[float]] = []  # [sum, count]
    for v in y:
        s, c = float(v), 1
        while blocks and blocks[-1][0] * c > s * blocks[-1][1]:
            ps, pc = blocks.pop()
            s, c = s + ps, c + pc
        blocks.append([s, c])
    return np.concatenate([np.full(int(c), s / c) for s, c in blocks]) if blocks else y


def prefix_isotonic_rss(values) -> tuple[np.ndarray, np.ndarray]:
    """For every prefix ``values[:k+1]``: the residual sum of squares of its least-squares
    non-decreasing fit, and that fit's last level (pool-adjacent-violators, one pass)."""
    y = np.asarray(values, dtype=float)
    rss, level = np.empty(len(y)), np.empty(len(y))
    sums: list[float] = []
    counts: list[int] = []
    block_rss: list[float] = []
    total = 0.0
    for i, v in enumerate(y):
        s, c, r = float(v), 1, 0.0
        # Merge while the block before has a higher mean: the fit must not go down.
        while sums and sums[-1] * c > s * counts[-1]:
            ps, pc, pr = sums.pop(), counts.pop(), block_rss.pop()
            total -= pr
            # RSS of the merged block: both blocks' own RSS plus the spread of their two means.
            r = r + pr + (ps / pc - s / c) ** 2 * pc * c / (pc + c)
            s, c = s + ps, c + pc
        sums.append(s)
        counts.append(c)
        block_rss.append(r)
        total += r
        rss[i], level[i] = total, s / c
    return rss, level


def suffix_line_fits(steps, values) -> tuple[np.ndarray, np.ndarray]:
    """For every suffix ``values[k:]``: the residual sum of squares of its least-squares line, and
    that line's value at the last step (one point: 0 and the point itself)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    x = (x - x[0]) / max(float(x[-1] - x[0]), 1e-12)  # centred and scaled: no cancellation
    y0 = float(y.mean())
    y = y - y0

    def rsum(a):
        return np.cumsum(a[::-1])[::-1]

    n = rsum(np.ones_like(x))
    sx, sy, sxx, sxy, syy = rsum(x), rsum(y), rsum(x * x), rsum(x * y), rsum(y * y)
    vxx = sxx - sx * sx / n
    vxy = sxy - sx * sy / n
    ok = vxx > 1e-12 * np.maximum(n, 1)
    slope = np.where(ok, vxy / np.where(ok, vxx, 1.0), 0.0)
    rss = np.maximum(syy - sy * sy / n - slope * vxy, 0.0)
    end = sy / n + slope * (x[-1] - sx / n)
    return rss, end + y0


def residual_correlation(steps, values, best: int) -> float:
    """The lag-1 autocorrelation of the residuals of the H1 fit split after ``best``, clipped to
    [0, 0.95] (0 when the fit is exact)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    k = best + 1
    xs = x[k:]
    fit = np.r_[isotonic_fit(y[:k]), np.polyval(np.polyfit(xs, y[k:], 1), xs) if len(xs) > 1 else y[k:]]
    r = y - fit
    rr = float(r @ r)
    return 0.0 if rr <= 1e-24 else min(max(float(r[1:] @ r[:-1]) / rr, 0.0), 0.95)


def decline_glr(
    steps, values, sigma: float, min_after: int = 4, min_before: int = 2, correlated: bool = False
) -> GLRResult:
    """The log GLR of "non-decreasing up to a best point, then a line ending below it" against
    "non-decreasing throughout" (see the module docstring), with the noise's sd ``sigma``.

    At least ``min_before`` points before the decline and ``min_after`` in it. 0 (no best point)
    when the window is too short or no split ends below its best level. ``correlated``: divide the
    statistic by (1 + r) / (1 - r), r the lag-1 autocorrelation of the best fit's residuals
    (``residual_correlation``): the variance of a sum of AR(1) noise grows by that factor, so a
    curve that wanders (a fixed eval set, no ``eval_n``) needs that much more evidence."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if len(x) != len(y):
        raise ValueError("steps and values differ in length")
    n = len(y)
    if n < min_before + min_after or not sigma > 0:
        return GLRResult(0.0)
    pre_rss, pre_level = prefix_isotonic_rss(y)
    post_rss, post_end = suffix_line_fits(x, y)
    # A split at k: points [0, k) rise, points [k, n) follow a line.
    k = np.arange(min_before, n - min_after + 1)
    h1 = pre_rss[k - 1] + post_rss[k]
    below = post_end[k] < pre_level[k - 1]
    if not below.any():
        return GLRResult(0.0)
    h1 = np.where(below, h1, np.inf)
    i = int(np.argmin(h1))
    stat = max(float(pre_rss[-1] - h1[i]), 0.0) / (2.0 * sigma**2)
    b = int(k[i] - 1)
    if correlated and stat > 0:
        r = residual_correlation(x, y, b)
        stat *= (1.0 - r) / (1.0 + r)
    return GLRResult(stat, b, float(x[b]), float(pre_level[b]))


def rise_glr(
    steps, values, sigma: float, min_after: int = 4, min_before: int = 2, correlated: bool = False
) -> GLRResult:
    """``decline_glr`` mirrored: "non-increasing down to a lowest point, then a line ending above
    it" against "non-increasing throughout" (the end of a shift). ``best_level`` is the minimum's
    level."""
    r = decline_glr(steps, -np.asarray(values, dtype=float), sigma, min_after, min_before, correlated)
    return r if r.best_level is None else GLRResult(r.stat, r.best, r.best_step, -r.best_level)


def threshold_for(max_stats, alpha: float) -> float:
    """The alarm threshold at false-alarm rate ``alpha`` per curve: the (1 - alpha) quantile of the
    largest statistic each curve without the event reached over all its looks (linear
    interpolation between order statistics)."""
    s = np.asarray(max_stats, dtype=float)
    if len(s) == 0 or not 0 < alpha < 1:
        raise ValueError("threshold_for needs statistics and 0 < alpha < 1")
    return float(np.quantile(s, 1.0 - alpha))
