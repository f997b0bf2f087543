"""Where a dip or a peak is: the data's extreme near a fitted corner, not the corner.

The segmenter fits straight pieces with (optionally rounded) corners. Real curves are not built
that way: a reward that rises slowly to its best and then collapses, an accuracy that saturates
before a slow decline, a power-law recovery. On such shapes the fitted corner sits where the
curvature is, often well before the best (or worst) value, and a changepoint reported there misses
the event by a tenth of the run. So a dip or a peak is reported where the data have their extreme
between the two neighbouring knots, on a running mean whose width the noise sets: m = (4 sigma /
(slope dx))^(2/3) points, where its noise sigma / sqrt(m) matches how far the gentler side moves the
curve over the window (at least 3, at most a fifth of the stretch, odd). The event moves only when
the running mean there beats the one at the fit's event by more than the best of the stretch's
len / m windows could by noise alone (Bonferroni over them, at least 2 sd of the difference): a
sharp corner, which the fit places exactly, keeps its place on a long noisy bottom. It moves to the
best single point inside the best window (the running mean of an uneven V has its extreme displaced
towards the gentler side).

On the families benchmark (60 curves per family and direction, seed 0) this took changepoint F1
from 0.911 to 0.925 and coverage from 0.854 to 0.892 without changing phase presence (the labels
measure each phase's change at the fit's own turning points, ``Segmentation.fit_events``). Without
the Bonferroni guard it reached 0.934 / 0.913 (with m = (4 sigma / change)^2 and no guard, 0.940 /
0.937), but moved sharp corners of long planted curves by 1% of the run.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def data_extremes(x, xn, yn, sigma: float, events, knots, turns, slopes, z: float = 2.0) -> list[float]:
    """``events`` with each dip or peak (knot j with ``turns[j]`` and ``slopes`` of opposite sign
    on its two sides) moved to the data's extreme between knots j-1 and j+1 (indices ``knots``;
    the curve's ends for the first and last), when the running mean there beats the running mean
    at the fit's event by ``z`` of its differences' sd. ``x``: steps; ``xn``, ``yn``, ``sigma``,
    ``slopes``: the normalised curve, its noise and the fitted slopes per segment, in those units."""
    out = list(events)
    dx = float(np.median(np.diff(xn))) if len(knots) else 0.0
    for j in range(len(knots)):
        if not turns[j] or slopes[j] * slopes[j + 1] >= 0:
            continue
        lo = knots[j - 1] if j else 0
        hi = knots[j + 1] if j + 1 < len(knots) else len(x) - 1
        stretch = yn[lo : hi + 1]
        m = _width(sigma, min(abs(slopes[j]), abs(slopes[j + 1])), dx, len(stretch))
        if len(stretch) < m + 2:
            continue
        smooth = np.convolve(stretch, np.ones(m) / m, mode="valid")
        sign = 1.0 if slopes[j] > 0 else -1.0
        at = int(np.argmax(sign * smooth))
        here = int(np.clip(np.searchsorted(x, events[j]) - lo - m // 2, 0, len(smooth) - 1))
        # The best of len / m windows: Bonferroni over them, or noise alone would often move it.
        zb = max(z, float(norm.ppf(1.0 - 0.025 / max(1.0, len(stretch) / m))))
        if sign * (smooth[at] - smooth[here]) > zb * np.sqrt(2.0 / m) * sigma:
            # The best point inside the best window: a running mean of an uneven V has its extreme
            # displaced towards the gentler side.
            out[j] = float(x[lo + at + int(np.argmax(sign * stretch[at : at + m]))])
    return out


def _width(sigma: float, slope: float, dx: float, n: int) -> int:
    """Points in the running mean: where its noise, sigma / sqrt(m), matches how far the curve moves
    over it at the gentler side's slope (m dx slope): m = (sigma / (slope dx))^(2/3), 3 to n / 5, odd."""
    m = (sigma / max(slope * dx, 1e-12)) ** (2.0 / 3.0)
    return int(np.clip(m, 3, max(3, n // 5))) | 1
