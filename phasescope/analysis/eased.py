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

Speed: the candidate fits of one knot count (every width; every moved knot of a refinement step)
have designs of the same size, so they are stacked and solved in one batch (``fit_batch``), and a
hinge column evaluates ndtr only within 8.4 widths of its knot (``hinges``); results equal the
one-at-a-time fits to rounding (tests/analysis/test_segment_speed_equivalence.py). The single fits
(``smoothed_hinge``, ``hinge_fit``, ``turning_points``) skip only work whose result is known to the
bit (a saturated hinge, np.linspace's and the dot products' own arithmetic), so they give what they
always gave.
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
    # The formula is evaluated where it is not saturated; outside, max(w z, 0) is the same bits
    # (see ``_LINEAR_Z``; below z = -40, ndtr and the exponential are both 0.0 in floating point).
    out = np.maximum(width * z, 0.0)
    mid = (z > _FLOOR_Z) & (z < _LINEAR_Z)
    zm = z[mid]
    out[mid] = width * (zm * ndtr(zm) + np.exp(-0.5 * zm * zm) * _INV_SQRT_2PI)
    return out


def design(x: np.ndarray, knots, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Column-scaled design [1, x - x0, hinges...] and the scales to undo."""
    return _scaled(x, [smoothed_hinge(x, k, width) for k in knots])


def _scaled(x: np.ndarray, hinges: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    X = np.column_stack([np.ones_like(x), x - x[0], *hinges])
    # Every column is non-negative and non-decreasing in x, so its largest value is its last.
    scale = np.maximum(X[-1], 1e-300)
    return X / scale, scale


def _solve(X: np.ndarray, scale: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        beta = np.linalg.solve(X.T @ X, X.T @ y)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
    fitted = X @ beta
    r = y - fitted
    return fitted, beta / scale, float(r @ r)


_LINEAR_Z, _ZERO_Z, _FLOOR_Z = 8.4, -8.4, -40.0
"""Beyond these z the smoothed hinge is ``width * z`` and ``0.0``. Above 8.4 that is exact bit for
bit (ndtr(z) rounds to 1 and phi(z) is below half an ulp of z; checked on a fine grid of z for
several widths); below -8.4 the true value, about width * phi(z) / z^2, is under 1e-18 * width,
which moves an SSE by far less than its rounding. Only the points between need ndtr (which costs
more than everything else in a fit), about 17 widths' worth of the curve per knot. Below -40 (ndtr
and the exponential both underflow to 0.0) the exact formula gives 0.0 too, which is what lets
``smoothed_hinge`` skip that side and keep every bit (checked for widths 1e-3 to 7)."""


def hinges(x: np.ndarray, knots, widths) -> np.ndarray:
    """Hinge columns for every width at once: shape (len(widths), len(knots), len(x)); each row is
    ``smoothed_hinge(x, knot, width)`` (the same formula where it is not saturated, see ``_ZERO_Z``)."""
    k = np.asarray(knots, float).reshape(1, -1, 1)
    w = np.asarray(widths, float).ravel()
    sharp = w <= 0
    n_sharp = int(np.count_nonzero(sharp))
    d = x - k
    if n_sharp == len(w):
        return np.broadcast_to(np.maximum(d, 0.0), (len(w), k.shape[1], len(x))).copy()
    ws = w[~sharp].reshape(-1, 1, 1) if n_sharp else w.reshape(-1, 1, 1)
    z = d / ws
    h = np.maximum(ws * z, 0.0)  # right for z >= _LINEAR_Z and z <= _ZERO_Z; the rest is overwritten
    mid = np.abs(z) < _LINEAR_Z  # _ZERO_Z == -_LINEAR_Z
    zm = z[mid]
    wm = float(ws[0, 0, 0]) if ws.size == 1 else np.broadcast_to(ws, z.shape)[mid]
    h[mid] = wm * (zm * ndtr(zm) + np.exp(-0.5 * zm * zm) * _INV_SQRT_2PI)
    if not n_sharp:
        return h
    out = np.empty((len(w), k.shape[1], len(x)))
    out[sharp] = np.maximum(d, 0.0)
    out[~sharp] = h
    return out


def fit_batch(x: np.ndarray, y: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fit`` for B designs at once, given their hinge columns ``H`` of shape (B, k, n): (fitted
    values (B, n), raw coefficients (B, k + 2), SSEs (B,)).

    The candidate fits (widths, moved knots) differ in one or all hinge columns but have the same
    size, so stacking them replaces B small ``solve`` calls (each mostly numpy overhead) by one
    batched call; the arithmetic is that of ``_solve``, so results agree to rounding."""
    B, k, n = H.shape
    Xt = np.empty((B, k + 2, n))  # transposed designs: the hinge rows are copied, not transposed
    Xt[:, 0] = 1.0
    Xt[:, 1] = x - x[0]
    Xt[:, 2:] = H
    scale = np.maximum(Xt[:, :, -1], 1e-300)  # columns are non-decreasing: the last value is the max
    Xt /= scale[:, :, None]
    try:
        beta = np.linalg.solve(Xt @ Xt.transpose(0, 2, 1), (Xt @ y)[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # one singular design: solve each as ``_solve`` does
        beta = np.array([_solve(Xt[b].T, np.ones(k + 2), y)[1] for b in range(B)])
    fitted = (beta[:, None, :] @ Xt)[:, 0]
    r = y - fitted
    return fitted, beta / scale, np.einsum("bi,bi->b", r, r)


def fit(x: np.ndarray, y: np.ndarray, knots, width: float = 0.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares fit: (fitted values, coefficients in raw units, SSE).

    Solved by the normal equations of the column-scaled design (at most five columns, so this is
    well conditioned and several times faster than an SVD); ``lstsq`` when they are singular."""
    return _solve(*design(x, knots, width), y)


def hinge_sse(x: np.ndarray, y: np.ndarray, knot_steps, width: float = 0.0) -> float:
    """Residual sum of squares of the continuous piecewise-linear (eased when width > 0) fit."""
    return fit(x, y, knot_steps, width)[2]


def hinge_fit(
    x: np.ndarray, y: np.ndarray, knot_steps, width: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares continuous piecewise-linear fit (rounded by ``width``) with knots at ``knot_steps``.

    Returns (fitted values, per-segment slopes, per-segment slope standard errors per unit sigma);
    a segment's slope is the asymptotic one, away from the rounded corners.
    """
    X, scale = design(x, knot_steps, width)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    XtX_inv = np.linalg.pinv(X.T @ X)
    # Row `seg` of C: the slope of segment `seg` is the sum of the linear and the first `seg` hinge
    # coefficients, each divided by its column scale. Row sums of products are the dot products
    # (in the same order, for these few columns); c @ XtX_inv stays one product per row.
    col = np.arange(X.shape[1])
    C = np.where((col >= 1) & (col <= col[:-1, None] + 1), 1.0 / scale, 0.0)
    quad = (np.array([c @ XtX_inv for c in C]) * C).sum(axis=1)
    return X @ beta, (C * beta).sum(axis=1), np.sqrt(np.maximum(quad, 0.0))


# ----------------------------------------------------------------------------------------------


def best_width(x: np.ndarray, y: np.ndarray, knots, widths=WIDTHS) -> tuple[float, float]:
    """The rounding width (from ``widths``) with the smallest SSE, and that SSE (ties: the smaller width)."""
    if not len(knots):
        return 0.0, fit(x, y, knots, 0.0)[2]
    sse = fit_batch(x, y, hinges(x, knots, widths))[2]
    return min(zip(sse.tolist(), widths))[::-1]


def plain_and_best_width(x: np.ndarray, y: np.ndarray, knots, widths) -> tuple[float, float, float]:
    """(SSE of the plain fit, ``best_width``'s width and SSE), all fitted in one batch."""
    sse = fit_batch(x, y, hinges(x, knots, [0.0, *widths]))[2].tolist()
    best, width = min(zip(sse[1:], widths))
    return sse[0], width, best


def slope_at(x: np.ndarray, coef: np.ndarray, knots, width: float) -> np.ndarray:
    """Derivative of the fitted eased curve at ``x``."""
    x = np.asarray(x, float)
    d = np.full_like(x, coef[1])
    if width > 0 and len(knots):  # every knot's ndtr in one call; the sum in the same order
        steps = ndtr((x - np.asarray(knots, float)[:, None]) / width)
        for c, step in zip(coef[2:], steps, strict=True):
            d = d + c * step
        return d
    for c, k in zip(coef[2:], knots, strict=True):
        d = d + c * (x >= k)
    return d


def _linspace(a: float, b: float, num: int) -> np.ndarray:
    """``np.linspace(a, b, num)`` (num >= 2) by its own arithmetic (the same values), without the
    overhead that made it a tenth of ``turning_points``."""
    delta = b - a
    step = delta / (num - 1)
    y = np.arange(num, dtype=float)
    if step == 0:  # as np.linspace does for denormal steps
        y /= num - 1
        y *= delta
    else:
        y *= step
    y += a
    y[-1] = b
    return y


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
        if width <= 0 or (turns is not None and not turns[j]):
            out.append(float(k))
            continue
        left = coef[1] + coef[2 : 2 + j].sum()
        right = left + coef[2 + j]
        if left * right >= 0:
            out.append(float(k))
            continue
        # Search between the neighbouring knots (no further than 4 widths: beyond that the
        # smoothing of this corner is complete and the slope has the far side's sign).
        a = max(knots[j - 1] if j else lo, k - MAX_OFFSET * width, lo)
        b = min(knots[j + 1] if j + 1 < len(knots) else hi, k + MAX_OFFSET * width, hi)
        grid = _linspace(float(a), float(b), 801)
        d = slope_at(grid, coef, knots, width)
        sign = np.sign(d)
        sign_change = np.flatnonzero(sign[:-1] != sign[1:])
        if len(sign_change) == 0:
            out.append(float(k))
            continue
        i = sign_change[np.argmin(np.abs(grid[sign_change] - k))]
        # Linear interpolation of the slope between the two grid points that bracket zero.
        t = d[i] / (d[i] - d[i + 1])
        out.append(float(grid[i] + t * (grid[i + 1] - grid[i])))
    return out


def refine(
    x: np.ndarray, y: np.ndarray, knots, width: float, rounds: int = 2
) -> tuple[np.ndarray, float, float]:
    """Knots and width refined jointly from a grid start by coordinate search: each knot over a
    few positions within 1.5 widths of it (never past its neighbours), then the width over a
    local grid, both finer each round; returns (knots, width, SSE).

    A move is kept when it lowers the SSE; of a knot's (or the width's) candidates the first with
    the lowest SSE wins, which is what trying them in turn and keeping strict improvements gives,
    so each knot's candidates (and the widths) are fitted in one batch."""
    ks = np.asarray(knots, float).copy()
    best = fit(x, y, ks, width)[2]
    if width <= 0 or not len(ks):
        return ks, width, best
    for r in range(rounds):
        # A knot's candidates depend only on its own position, which no earlier move this round
        # changes, so every candidate column of the round is computed at once.
        steps = width * np.array([-1.5, -0.75, -0.25, 0.25, 0.75, 1.5]) * 0.4**r
        all_cands = ks[:, None] + steps
        all_cols = hinges(x, np.concatenate([ks, all_cands.ravel()]), [width])[0]
        cols = all_cols[: len(ks)].copy()  # only the moved knot's column changes
        for j in range(len(ks)):
            lo = ks[j - 1] if j else x[0]
            hi = ks[j + 1] if j + 1 < len(ks) else x[-1]
            inside = (lo < all_cands[j]) & (all_cands[j] < hi)
            if not inside.any():
                continue
            cands = all_cands[j][inside]
            H = np.repeat(cols[None], len(cands), axis=0)
            H[:, j] = all_cols[len(ks) :].reshape(len(ks), len(steps), -1)[j][inside]
            sse = fit_batch(x, y, H)[2]
            i = int(np.argmin(sse))
            if sse[i] < best:
                best, ks[j], cols[j] = float(sse[i]), cands[i], H[i, j]
        ws = width * (1 + np.array([-0.4, -0.2, 0.25, 0.6]) * 0.5**r)
        sse = fit_batch(x, y, hinges(x, ks, ws))[2]
        i = int(np.argmin(sse))
        if sse[i] < best:
            best, width = float(sse[i]), float(ws[i])
    return ks, width, best
