"""Eased transitions: a continuous piecewise-linear trend whose corners are rounded, and where its
turning points lie.

Real curves bend gradually: an eased dip, a rounded peak. The model here is the segmenter's hinge
model convolved with a Gaussian of standard deviation ``w`` (the same ``w`` for every knot):

    y = a + b x + sum_j c_j * w * H((x - k_j) / w),   H(z) = z Phi(z) + phi(z)

which is the exact smoothing of ``a + b x + sum_j c_j (x - k_j)+`` and equals it at ``w = 0``. For
fixed knots and ``w`` it is linear in (a, b, c), so a fit is one least-squares solve, and ``w`` is
chosen from a short grid by SSE. The knots ``k_j`` stay where the piecewise-linear search put them
(where the tangents meet, which the smoothing does not move); what moves is the *event*: on an
asymmetric rounded dip the worst point lies on the gentler side of the corner, so a changepoint
between a falling and a rising piece is reported at the fitted curve's turning point, i.e. where
its slope b + sum_j c_j Phi((x - k_j)/w) crosses zero. This is a departure from Muggeo-style
segmented regression (which reports k_j) chosen because the phases are named by their extremes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

WIDTHS = (0.0, 0.005, 0.01, 0.02, 0.035)
"""Candidate rounding widths, as fractions of the step span (the segmenter works on [0, 1])."""

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def smoothed_hinge(x: np.ndarray, knot: float, width: float) -> np.ndarray:
    """(x - knot)+ convolved with a Gaussian of standard deviation ``width`` (exact)."""
    if width <= 0:
        return np.maximum(x - knot, 0.0)
    z = (x - knot) / width
    return width * (z * ndtr(z) + np.exp(-0.5 * z * z) * _INV_SQRT_2PI)


def design(x: np.ndarray, knots, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Column-scaled design [1, x - x0, hinges...] and the scales to undo."""
    cols = [np.ones_like(x), x - x[0]] + [smoothed_hinge(x, k, width) for k in knots]
    X = np.column_stack(cols)
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    return X / scale, scale


def fit(x: np.ndarray, y: np.ndarray, knots, width: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares fit: (fitted values, coefficients in raw units, SSE)."""
    X, scale = design(x, knots, width)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    fitted = X @ beta
    r = y - fitted
    return fitted, beta / scale, float(r @ r)


def best_width(x: np.ndarray, y: np.ndarray, knots, widths=WIDTHS) -> tuple[float, float]:
    """The rounding width (from ``widths``) with the smallest SSE, and that SSE."""
    if not len(knots):
        return 0.0, fit(x, y, knots, 0.0)[2]
    results = [(fit(x, y, knots, w)[2], w) for w in widths]
    sse, w = min(results)
    return w, sse


def slope_at(x: np.ndarray, coef: np.ndarray, knots, width: float) -> np.ndarray:
    """Derivative of the fitted eased curve at ``x``."""
    d = np.full_like(np.asarray(x, float), coef[1])
    for c, k in zip(coef[2:], knots, strict=True):
        d = d + c * (ndtr((x - k) / width) if width > 0 else (x >= k))
    return d


MAX_OFFSET = 2.5
"""A turning point further than this many widths from its knot is a near-flat side's drift (the
slope crosses zero far out only when one side is almost level), not the corner's extreme."""


def turning_points(coef: np.ndarray, knots, width: float, lo: float, hi: float, turns=None) -> list[float]:
    """For each knot: where the fitted slope crosses zero near it when the slopes on its two sides
    have opposite signs (a dip or a peak) and ``turns[j]`` allows it, else the knot itself.
    ``lo``/``hi`` bound the curve."""
    knots = list(knots)
    out = []
    for j, k in enumerate(knots):
        left = coef[1] + coef[2 : 2 + j].sum()
        right = left + coef[2 + j]
        if width <= 0 or left * right >= 0 or (turns is not None and not turns[j]):
            out.append(float(k))
            continue
        # Search between the neighbouring knots (no further than 4 widths: beyond that the
        # smoothing of this corner is complete and the slope has the far side's sign).
        a = max(knots[j - 1] if j else lo, k - MAX_OFFSET * width, lo)
        b = min(knots[j + 1] if j + 1 < len(knots) else hi, k + MAX_OFFSET * width, hi)
        grid = np.linspace(a, b, 801)
        d = slope_at(grid, coef, knots, width)
        sign_change = np.nonzero(np.sign(d[:-1]) != np.sign(d[1:]))[0]
        if len(sign_change) == 0:
            out.append(float(k))
            continue
        i = sign_change[np.argmin(np.abs(grid[sign_change] - k))]
        # Linear interpolation of the slope between the two grid points that bracket zero.
        t = d[i] / (d[i] - d[i + 1])
        out.append(float(grid[i] + t * (grid[i + 1] - grid[i])))
    return out


def refine(x: np.ndarray, y: np.ndarray, knots, width: float) -> tuple[np.ndarray, float, float]:
    """Knots and width jointly refined by least squares (the linear coefficients profiled out),
    from a grid start; returns (knots, width, SSE). Knots stay inside the curve and in order."""
    from scipy.optimize import least_squares

    k0 = np.asarray(knots, float)
    if width <= 0 or not len(k0):
        return k0, width, fit(x, y, k0, width)[2]

    def resid(theta):
        ks = np.sort(np.clip(theta[:-1], x[0], x[-1]))
        return y - fit(x, y, ks, float(np.exp(theta[-1])))[0]

    lo = np.r_[np.full(len(k0), x[0]), np.log(1e-4)]
    hi = np.r_[np.full(len(k0), x[-1]), np.log(WIDTHS[-1] * 1.5)]
    theta0 = np.clip(np.r_[k0, np.log(width)], lo + 1e-9, hi - 1e-9)
    sol = least_squares(
        resid, theta0, bounds=(lo, hi), max_nfev=30, x_scale=np.r_[np.full(len(k0), width), 1.0]
    )
    ks, w = np.sort(sol.x[:-1]), float(np.exp(sol.x[-1]))
    sse = float(sol.fun @ sol.fun)
    base = fit(x, y, k0, width)[2]
    return (ks, w, sse) if sse < base else (k0, width, base)
