"""One-step spikes: single evaluations far off the curve on both sides, which no phase may rest on.

A least-squares fit of a piecewise-linear curve buys a spike of 6-8 noise sd with two or three
knots (a rise, a fall, back to the line), and the labels then read a shift or an overfit where one
logged value misbehaved: a NaN-free but broken evaluation, a reward hacked for one batch, a
heavy-tailed metric. The segmenter therefore fits the curve with such points replaced by the line
through their neighbours; the raw values are kept, and the output lists the steps it set aside.

A point i is a spike when it sticks out by more than ``SPIKE_Z`` noise sd, in the same direction,

- beyond both its neighbours (a peak or a trough of one point), and
- beyond both one-sided extrapolations: the curve before it carried forward to step i (from point
  i-1 at the median slope among points i-3..i-1, so that one spike among them does not bend it),
  and the curve after it carried back.

The second test is what keeps real corners. The corner of a sharp V lies on the lines coming into
it, so at least one extrapolation passes through it. A rounded bottom lies above the lines coming
into it while being below its neighbours, so the two tests disagree in sign. A level step is met
by the extrapolation from its own side. Only a point that leaves the curve and comes straight back
to it passes both. The first two points are never tested (a fall at the start may rest on them),
nor the last (it has one side); the last but one is carried back to flat from the last. Spikes
are taken strongest first and never beside one already taken (the point between two spikes sticks
out the other way). Two consecutive outliers are not one-step spikes and are left to the fit.

A robust fit (Huber weights by IRLS) would down-weight spikes too, but it would have to run inside
every dynamic-programming cost and every refinement. This test is O(n), runs once, and leaves the
least-squares machinery as it is.
"""

from __future__ import annotations

import numpy as np

SPIKE_Z = 4.0
"""How far, in noise sd, a point must stick out of both its neighbours and both extrapolations."""


def _carried(x, y, i: np.ndarray, side: int) -> np.ndarray:
    """The curve on one side of each point i (``side`` -1: before it, +1: after it) carried to step
    x[i]: from the nearest point, at the median of the slopes among the three nearest points (two
    where only two exist; flat where only one does), so a spike among them does not bend it."""
    n = len(y)
    near = [np.clip(i + side * k, 0, n - 1) for k in (1, 2, 3)]
    ok2 = (i + 2 * side >= 0) & (i + 2 * side < n)
    ok3 = (i + 3 * side >= 0) & (i + 3 * side < n)

    def slope(a, b):
        dx = x[b] - x[a]
        return np.divide(y[b] - y[a], dx, out=np.zeros(len(i)), where=dx != 0)

    s12, s23, s13 = slope(near[1], near[0]), slope(near[2], near[1]), slope(near[2], near[0])
    s = np.where(ok3, np.median([s12, s23, s13], axis=0), np.where(ok2, s12, 0.0))
    return y[near[0]] + s * (x[i] - x[near[0]])


def one_step_spikes(x, y, sigma: float, z: float = SPIKE_Z, passes: int = 3) -> np.ndarray:
    """Boolean mask of the one-step spikes of the curve (``x``, ``y``) with noise sd ``sigma``.
    Up to ``passes`` passes, each on the curve with the spikes found so far replaced: a spike two
    points from another bends the line carried from that side until the other is gone."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    out = np.zeros(len(y), dtype=bool)
    if len(y) < 5 or not sigma > 0:
        return out
    for _ in range(passes):
        found = _one_pass(x, despiked(x, y, out), sigma * z, out)
        if not found.any():
            break
        out |= found
    return out


def _one_pass(x: np.ndarray, y: np.ndarray, cut: float, taken: np.ndarray) -> np.ndarray:
    i = np.arange(2, len(y) - 1)  # the first two are kept for a fall at the start; the last has one side
    left, right = _carried(x, y, i, -1), _carried(x, y, i, +1)
    gaps = [y[i] - y[i - 1], y[i] - y[i + 1], y[i] - left, y[i] - right]
    strength = np.maximum(np.minimum.reduce(gaps), -np.maximum.reduce(gaps))
    out = np.zeros(len(y), dtype=bool)
    # Strongest first, and never beside one already taken: a point between two spikes sticks out
    # the other way, and a spike's replacement needs its neighbours as they are.
    for k in np.argsort(-strength):
        if strength[k] <= cut:
            break
        j = i[k]
        if not (out[j - 1] or out[j + 1] or taken[j - 1] or taken[j + 1] or taken[j]):
            out[j] = True
    return out


def despiked(x, y, spikes) -> np.ndarray:
    """``y`` with each spike replaced by the line through its two neighbours (at its step)."""
    x, y = np.asarray(x, dtype=float), np.array(y, dtype=float)
    i = np.nonzero(spikes)[0]
    if len(i):
        w = (x[i] - x[i - 1]) / (x[i + 1] - x[i - 1])
        y[i] = (1 - w) * y[i - 1] + w * y[i + 1]
    return y
