"""Rules the online detector checks a candidate phase against, as pure functions: what the
offline reading of a whole curve says the online events should have been (``offline_reference``),
whether a curve since a phase began turns into a decline or only levels off (``plateau_z``), and
the GLR confirmation of an overfit or a shift's end (``glr_test``, ``OnlineDetector(confirm="glr")``).
Split from ``online`` so the detector's class reads on its own.
"""

from __future__ import annotations

import math

import numpy as np

from phasescope.analysis.glr import GLRResult, decline_glr, rise_glr
from phasescope.analysis.search import noise_sigma

GLR_NEXT = {"improve": "overfit", "readapt": "overfit", "shift": "readapt"}
"""The phase a GLR test looks for after each confirmed phase: a decline after an improvement is an
overfit, a rise after a shift is its end."""

GLR_THRESHOLDS = {"overfit": 42.0, "readapt": 53.1}
"""The log-GLR alarm thresholds at a 2% false-alarm rate per curve, calibrated on the no-event
families (``curve_families.NO_EVENT``, both directions) with seed 7, not the benchmark's 0:
``python benchmarks/families_online.py --calibrate-glr``."""


def offline_reference(phases: list) -> list[tuple[str, float, float]]:
    """What the online detector should have reported by the end of a run, from the offline
    ``label_phases`` of the whole curve: per trend phase, (label, earliest start, latest start).

    Plateaus are left out and equal neighbours merged. A trend that follows a plateau may be
    reported from anywhere in that plateau (a rounded turn: the prefix fits often place the knot at
    the plateau's start), hence the start range.
    """
    out: list[tuple[str, float, float]] = []
    plateau_start = None
    for ph in phases:
        if ph.label == "plateau":
            plateau_start = ph.start_step if plateau_start is None else plateau_start
            continue
        if not out or out[-1][0] != ph.label:
            earliest = ph.start_step if plateau_start is None else plateau_start
            out.append((ph.label, float(earliest), float(ph.start_step)))
        plateau_start = None
    return out


def _hinge_fits(
    x: np.ndarray, y: np.ndarray, knots: np.ndarray, after: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares continuous hinges ``a + b*min(x-k, 0) [+ c*max(x-k, 0)]``, one per knot k:
    (residual sums of squares, c); c is 0 where ``after`` is False (flat after the knot)."""
    d = x[None, :] - knots[:, None]
    cols = [np.ones_like(d), np.minimum(d, 0.0), *([np.maximum(d, 0.0)] if after else [])]
    design = np.stack(cols, axis=-1)  # knots x points x parameters
    gram = np.einsum("kni,knj->kij", design, design) + 1e-12 * np.eye(len(cols))
    beta = np.linalg.solve(gram, np.einsum("kni,n->ki", design, y)[..., None])[..., 0]
    resid = y[None, :] - np.einsum("kni,ki->kn", design, beta)
    return np.einsum("kn,kn->k", resid, resid), (beta[:, 2] if after else np.zeros(len(knots)))


def plateau_z(steps, values, sigma: float, max_knots: int = 256) -> float:
    """How much better a rise that turns into a decline fits than a rise that levels off, each with
    the corner where it fits best: sqrt(drop in the residual sum of squares) / sigma, positive when
    the better turning fit declines after its corner and negative when it still rises. 0 with fewer
    than 5 points. At most ``max_knots`` corners are tried (evenly spread over the points)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if len(x) < 5 or not sigma > 0:
        return 0.0
    x = (x - x[0]) / max(float(x[-1] - x[0]), 1e-12)
    knots = x[np.unique(np.linspace(1, len(x) - 1, min(max_knots, len(x) - 1)).round().astype(int))]
    rss_flat, _ = _hinge_fits(x, y, knots, after=False)
    rss_turn, slope = _hinge_fits(x, y, knots[knots < 1.0], after=True)
    i = int(np.argmin(rss_turn))
    gain = max(float(rss_flat.min() - rss_turn[i]), 0.0)
    return math.copysign(math.sqrt(gain) / sigma, -slope[i])


def despike(values, sigma: float, z: float = 5.0) -> np.ndarray:
    """``values`` with each lone outlier replaced by the mean of its two neighbours: a point more
    than ``z`` ``sigma`` above both neighbours, or below both. The latest point has one neighbour, so
    it counts as an outlier when it is that far from the one before; once the next point shares its
    level it is not one any more. So one outlying evaluation never makes a phase, while two in a row
    (the shortest shift a curve can show) are kept: a real change is seen one point late at most.
    ``sigma``: the curve's robust noise (a window's own MAD would be 0 on a run of equal rates)."""
    y = np.asarray(values, dtype=float).copy()
    if len(y) < 3 or not sigma > 0:
        return y
    left, mid, right = y[:-2], y[1:-1], y[2:]
    lone = ((mid - left > z * sigma) & (mid - right > z * sigma)) | (
        (left - mid > z * sigma) & (right - mid > z * sigma)
    )
    y[1:-1] = np.where(lone, 0.5 * (left + right), mid)
    if abs(y[-1] - y[-2]) > z * sigma:
        y[-1] = y[-2]
    return y


def glr_test(
    steps, values, direction: str, label: str, since: float, floor_sd=0.0, spike_sd=0.0
) -> GLRResult:
    """The GLR statistic for ``label`` ("overfit": a sustained decline after the best point;
    "readapt": a sustained rise after the lowest) on the points from step ``since`` on. Lone
    outliers are replaced first (``despike`` at ``spike_sd``), as for the detector's fits; the noise
    is the larger of the robust estimate and ``floor_sd`` (the eval set's binomial sd, the fit's),
    and the statistic is corrected for correlated residuals (``decline_glr(correlated=True)``).
    Heavy-tailed noise is pulled in first (``winsorise``): the GLR assumes Gaussian noise, and a
    few points far out would otherwise be read as a change."""
    x = np.asarray(steps, dtype=float)
    g = despike(values, spike_sd) * (1.0 if direction == "higher" else -1.0)
    sigma = max(noise_sigma(x, g), floor_sd)
    g = winsorise(g, noise_sigma(x, g))
    w = x >= since
    return (decline_glr if label == "overfit" else rise_glr)(x[w], g[w], sigma, correlated=True)


def winsorise(values, sigma: float, c: float = 2.5) -> np.ndarray:
    """``values`` with each point's distance from the median of the five around it clipped to
    ``c`` ``sigma`` (at the ends the edge point stands in for the missing neighbours)."""
    y = np.asarray(values, dtype=float)
    if len(y) < 5 or not sigma > 0:
        return y
    med = np.median(
        np.lib.stride_tricks.sliding_window_view(np.r_[y[:1], y[:1], y, y[-1:], y[-1:]], 5), axis=1
    )
    return med + np.clip(y - med, -c * sigma, c * sigma)
