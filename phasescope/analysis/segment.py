"""Changepoints on a learning curve: where the slope of a noisy, unevenly sampled curve changes.

The model is a *continuous piecewise-linear* function of the step (in the curve's own step units)
with 0-3 knots, fitted by least squares, with the number of knots chosen by BIC with the noise
level estimated beforehand. Why this model: the phases we look for (shift, readapt, overfit) are
changes of *trend*, not of level, and a held-out metric moves continuously between evaluations, so
a change in slope with continuity is the smallest model that says what we mean; a mean-shift model
(ruptures' default ``l2``) would staircase every trend into many spurious changepoints.

How it is computed, and how it departs from the literature (CPOP; Muggeo's segmented regression;
ruptures' Dynp):

1. Noise: sigma is estimated robustly from Gasser et al.'s (1986) pseudo-residuals (each point
   against the line through its two neighbours, which is exact for uneven spacing), via the MAD.
   Penalties are then in units of sigma^2, so one setting works for accuracy, loss and reward.
2. Search: an exact dynamic programme over *discontinuous* segmented linear regression (ruptures'
   ``linear`` cost model on the design [1, step]) for each k in 0..3, with segment costs in O(1)
   from prefix sums and the recursion vectorised in numpy. ruptures' own ``Dynp`` gives the same
   answer (see ``CostStepLinear``, and the test that compares them) but calls Python per segment
   (about 50x slower on 150 points, and the gap grows with n). Curves longer than ``max_exact``
   points are searched on equal-count bins (coarse) and every knot is then refined on the raw
   points (fine), so binning never shifts a changepoint. jump is always 1.
3. Refinement: CPOP fits the continuous model exactly; instead each knot is moved, with its
   neighbours fixed, to the raw point that minimises a local continuous two-piece fit between the
   neighbouring knots (every candidate at once, from prefix sums), until no knot moves. This
   lets the first segment be as short as two points (no ``min_size`` bind on a short shift).
4. Selection: BIC = SSE/sigma^2 + penalty * k * log(n) on the global continuous hinge fit
   (each knot costs a slope change and a location). 0 knots is always a candidate.
5. Uncertainty: each knot's interval is the 2.5-97.5% range of its re-estimated location over
   bootstrap replicates, re-estimated by the same local profile with the other knots held at
   their estimates (conditional on k). Replicates resample seeds when there are several, else
   moving blocks of residuals of the fit (blocks keep the autocorrelation real curves have).

No smoothing is applied anywhere, so nothing shifts a changepoint in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import ruptures as rpt

MIN_POINTS = 6
"""The fewest points a curve needs: two are needed per line and one knot needs a line on each side."""


def noise_sigma(steps: np.ndarray, values: np.ndarray) -> float:
    """Robust noise standard deviation of ``values`` around a smooth trend, for uneven ``steps``."""
    x = np.asarray(steps, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(y) < 3:
        return float(np.std(y)) or 1e-12
    x0, x1, x2 = x[:-2], x[1:-1], x[2:]
    a = (x2 - x1) / (x2 - x0)
    b = (x1 - x0) / (x2 - x0)
    # A pseudo-residual has variance sigma^2 * (a^2 + b^2 + 1) when the trend is locally linear.
    z = (a * y[:-2] + b * y[2:] - y[1:-1]) / np.sqrt(a * a + b * b + 1.0)
    sigma = 1.4826 * float(np.median(np.abs(z - np.median(z))))
    if sigma == 0.0:
        # Quantised metrics (accuracy on a few examples) tie so often that the MAD is zero.
        sigma = float(np.sqrt(np.mean(z * z)))
    if sigma == 0.0:
        sigma = 1e-9 * max(1.0, float(np.ptp(y)))
    return sigma


# ----------------------------------------------------------------------------------------------
# Search: exact DP over discontinuous segmented linear regression


def _prefix(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    def c0(a: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(a)])

    return c0(w), c0(w * x), c0(w * y), c0(w * x * x), c0(w * x * y), c0(w * y * y)


def _linear_sse(sums: tuple[np.ndarray, ...], i, j) -> np.ndarray:
    """Weighted least-squares SSE of a line fitted to points i..j-1 (vectorised over i, j)."""
    sw, sx, sy, sxx, sxy, syy = (s[j] - s[i] for s in sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        vxx = sxx - sx * sx / sw
        vxy = sxy - sx * sy / sw
        vyy = syy - sy * sy / sw
        sse = np.where(vxx > 1e-300, vyy - vxy * vxy / vxx, vyy)
    return np.maximum(sse, 0.0)


def dp_segment(x: np.ndarray, y: np.ndarray, max_k: int, min_size: int = 3, weights=None) -> list[list[int]]:
    """Best discontinuous segmented-linear partition for each k = 0..max_k.

    Returns, for each k, the k changepoint indices (the first index of each new segment).
    ``k`` values that do not fit ``min_size`` points per segment are omitted from the end.
    """
    n = len(x)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    sums = _prefix(x, y, w)
    idx = np.arange(n + 1)
    cost = _linear_sse(sums, idx[:, None], idx[None, :])
    cost[idx[None, :] - idx[:, None] < min_size] = np.inf
    best = [cost[0].copy()]
    back = []
    for _ in range(max_k):
        total = best[-1][:, None] + cost
        arg = np.argmin(total, axis=0)
        best.append(total[arg, idx])
        back.append(arg)
    out: list[list[int]] = []
    for k in range(max_k + 1):
        if not np.isfinite(best[k][n]):
            break
        cps, end = [], n
        for level in range(k, 0, -1):
            end = int(back[level - 1][end])
            cps.append(end)
        out.append(sorted(cps))
    return out


class CostStepLinear(rpt.base.BaseCost):
    """ruptures cost: SSE of a least-squares line in step units, O(1) per segment.

    ``fit`` takes a (n, 2) signal whose columns are step and value. Usable with any ruptures
    search method, e.g. ``rpt.Dynp(custom_cost=CostStepLinear(), jump=1, min_size=3)``.
    """

    model = "step_linear"
    min_size = 3

    def fit(self, signal):
        signal = np.asarray(signal, dtype=float)
        self.signal = signal
        self._sums = _prefix(signal[:, 0], signal[:, 1], np.ones(len(signal)))
        return self

    def error(self, start, end):
        return float(_linear_sse(self._sums, start, end))


# ----------------------------------------------------------------------------------------------
# Refinement and bootstrap: local continuous two-piece profile over every candidate knot


class _Sums:
    """Prefix sums of 1, x, x^2, y and xy over a curve (y may be B replicates), built once so that
    every window's profile is a handful of vector operations on slices."""

    def __init__(self, x: np.ndarray, Y: np.ndarray):
        def c0(a: np.ndarray) -> np.ndarray:
            out = np.zeros(a.shape[:-1] + (a.shape[-1] + 1,))
            np.cumsum(a, axis=-1, out=out[..., 1:])
            return out

        self.x = x
        self.x1, self.x2 = c0(x), c0(x * x)
        self.y, self.xy = c0(Y), c0(Y * x)


def _local_profile(
    S: _Sums, lo: int, hi: int, first: int | None = None, last: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Continuous two-piece fit on points lo..hi (inclusive) for every knot lo < t < hi
    (or only first <= t <= last).

    Model: y = a + b x + c (x - x_t)+ on the window. Returns the candidate indices and a (B, T)
    array of -r'G^-1 r (the SSE up to a per-replicate constant), so argmin over axis 1 is the best
    knot for each replicate.
    """
    E = hi + 1
    first = lo + 1 if first is None else first
    last = hi - 1 if last is None else last
    if last < first:
        return np.arange(0), np.zeros((S.y.shape[0], 0))
    t = slice(first, last + 1)
    k = S.x[t]
    n1 = float(E - lo)
    x1 = S.x1[E] - S.x1[lo]
    cm = x1 / n1  # centring x on the window keeps the Gram matrices well-conditioned
    x2 = S.x2[E] - S.x2[lo] - cm * x1
    s_n = E - np.arange(first, last + 1, dtype=float)
    s_x = S.x1[E] - S.x1[t]  # sums over i >= t (uncentred; the hinge is shift-invariant)
    s_xx = S.x2[E] - S.x2[t]
    h1 = s_x - k * s_n
    h2 = s_xx - 2 * k * s_x + k * k * s_n
    xh = s_xx - k * s_x - cm * h1
    # Closed-form inverse of each symmetric 3x3 Gram matrix [[a, b, c], [b, d, e], [c, e, f]]
    # (with b = sum of centred x = 0); batched np.linalg.inv was the bottleneck of the segmenter.
    a, d, c, e, f = n1, x2, h1, xh, h2 + 1e-12 * (1.0 + x2)
    i00, i01, i02 = d * f - e * e, c * e, -c * d
    i11, i12, i22 = a * f - c * c, -a * e, a * d
    det = a * i00 + c * i02
    det = np.where(np.abs(det) > 1e-300, det, 1e-300)
    r0 = S.y[:, E] - S.y[:, lo]
    r1 = S.xy[:, E] - S.xy[:, lo] - cm * r0
    r2 = (S.xy[:, E : E + 1] - S.xy[:, t]) - k * (S.y[:, E : E + 1] - S.y[:, t])
    # r'G^-1 r with r = (r0, r1, r2): the r0/r1 terms as small matrix products over replicates.
    fixed = np.column_stack([r0 * r0, 2 * r0 * r1, r1 * r1]) @ (np.vstack([i00, i01, i11]) / det)
    cross = np.column_stack([r0, r1]) @ (np.vstack([i02, i12]) * (2 / det))
    quad = fixed + r2 * (cross + r2 * (i22 / det))
    return np.arange(first, last + 1), -quad


def _refine(x: np.ndarray, y: np.ndarray, knots: list[int], max_rounds: int = 3) -> list[int]:
    """Coordinate descent over knots: re-profile a knot only when a neighbour has moved since."""
    knots = list(knots)
    n = len(x)
    S = _Sums(x, y[None, :])
    pending = list(range(len(knots)))
    budget = max_rounds * len(knots)
    while pending and budget > 0:
        j = pending.pop(0)
        budget -= 1
        lo = knots[j - 1] if j > 0 else 0
        hi = knots[j + 1] if j + 1 < len(knots) else n - 1
        cand, score = _local_profile(S, lo, hi)
        if len(cand) == 0:
            continue
        best = int(cand[int(np.argmin(score[0]))])
        if best != knots[j]:
            knots[j] = best
            pending += [i for i in (j - 1, j + 1) if 0 <= i < len(knots) and i not in pending]
    return knots


def _hinge_design(x: np.ndarray, knot_steps) -> tuple[np.ndarray, np.ndarray]:
    cols = [np.ones_like(x), x - x[0]] + [np.maximum(x - k, 0.0) for k in knot_steps]
    X = np.column_stack(cols)
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    return X / scale, scale


def hinge_sse(x: np.ndarray, y: np.ndarray, knot_steps) -> float:
    """Residual sum of squares of the continuous piecewise-linear least-squares fit."""
    X, _ = _hinge_design(x, knot_steps)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    return float(r @ r)


def hinge_fit(x: np.ndarray, y: np.ndarray, knot_steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares continuous piecewise-linear fit with knots at ``knot_steps``.

    Returns (fitted values, per-segment slopes, per-segment slope standard errors per unit sigma).
    """
    X, scale = _hinge_design(x, knot_steps)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    XtX_inv = np.linalg.pinv(X.T @ X)
    slopes, ses = [], []
    for seg in range(len(knot_steps) + 1):
        # The slope of segment `seg` is the sum of the linear and the first `seg` hinge
        # coefficients, each divided by its column scale.
        c = np.zeros(X.shape[1])
        c[1 : 2 + seg] = 1.0 / scale[1 : 2 + seg]
        slopes.append(float(c @ beta))
        ses.append(float(math.sqrt(max(c @ XtX_inv @ c, 0.0))))
    return X @ beta, np.array(slopes), np.array(ses)


# ----------------------------------------------------------------------------------------------


@dataclass
class Segmentation:
    """What ``PhaseSegmenter.predict`` returns. Steps are in the curve's own units."""

    steps: np.ndarray
    values: np.ndarray  # the curve that was segmented (mean over seeds when there are several)
    changepoints: list[float]  # knot steps, sorted
    ci: list[tuple[float, float]]  # one (low, high) step interval per changepoint
    fitted: np.ndarray
    slopes: np.ndarray  # per segment, metric units per step
    slope_se: np.ndarray  # per segment
    sigma: float  # estimated noise standard deviation, metric units
    bic: dict[int, float] = field(default_factory=dict)
    n_seeds: int = 1
    knot_index: list[int] = field(default_factory=list)

    def value_at(self, step: float) -> float:
        """The fitted (piecewise-linear) value at any step inside the curve's range."""
        return float(np.interp(step, self.steps, self.fitted))


class PhaseSegmenter:
    """Changepoint estimator with the ruptures shape: ``PhaseSegmenter(...).fit(steps, values).predict()``.

    ``values`` may be 1-D (one curve) or 2-D (seeds x steps, on a common step grid); several seeds
    are segmented on their mean and bootstrapped over seeds. Unlike ruptures, ``predict`` returns a
    ``Segmentation`` with changepoints in step units, not indices.
    """

    def __init__(
        self,
        max_changepoints: int = 3,
        penalty: float = 2.0,
        n_bootstrap: int = 100,
        max_exact: int = 200,
        n_bins: int = 100,
        random_state: int | None = 0,
    ):
        self.max_changepoints = max_changepoints
        self.penalty = penalty
        self.n_bootstrap = n_bootstrap
        self.max_exact = max_exact
        self.n_bins = n_bins
        self.random_state = random_state

    def fit(self, steps, values) -> PhaseSegmenter:
        x = np.asarray(steps, dtype=float)
        V = np.atleast_2d(np.asarray(values, dtype=float))
        if V.shape[1] != len(x):
            raise ValueError(f"values have {V.shape[1]} columns but there are {len(x)} steps")
        if len(x) < MIN_POINTS:
            raise ValueError(f"a curve needs at least {MIN_POINTS} points to segment, got {len(x)}")
        if np.any(np.diff(x) <= 0) or not np.all(np.isfinite(V)):
            raise ValueError("steps must be strictly increasing and values finite")
        self.steps_ = x
        self.seed_values_ = V
        y = V.mean(axis=0)
        self.values_ = y
        # Work in normalised units; everything is mapped back to steps and metric units at the end.
        span = x[-1] - x[0]
        yscale = float(np.std(y)) or 1.0
        self._xn = (x - x[0]) / span
        self._yn = (y - y.mean()) / yscale
        self._yscale = yscale
        self._ymean = float(y.mean())
        self.sigma_ = noise_sigma(self._xn, self._yn)
        return self

    def _candidates(self) -> list[list[int]]:
        xn, yn = self._xn, self._yn
        n = len(xn)
        max_k = min(self.max_changepoints, max(0, (n - 1) // 2 - 1))
        if n <= self.max_exact:
            found = dp_segment(xn, yn, max_k, min_size=3 if n >= 12 else 2)
        else:
            edges = np.linspace(0, n, self.n_bins + 1).round().astype(int)
            counts = np.diff(edges)
            bx = np.add.reduceat(xn, edges[:-1]) / counts
            by = np.add.reduceat(yn, edges[:-1]) / counts
            found = [[int(edges[c]) for c in cps] for cps in dp_segment(bx, by, max_k, 2, counts)]
        return [_refine(xn, yn, cps) if cps else [] for cps in found]

    def predict(self) -> Segmentation:
        xn, yn, sigma = self._xn, self._yn, self.sigma_
        n = len(xn)
        best_bic, best_knots, bics = math.inf, [], {}
        for knots in self._candidates():
            knots = sorted(set(knots))
            sse = hinge_sse(xn, yn, xn[knots])
            bic = sse / sigma**2 + self.penalty * len(knots) * math.log(n)
            bics[len(knots)] = bic
            if bic < best_bic:
                best_bic, best_knots = bic, knots
        x = self.steps_
        fitted_n, slopes_n, se_n = hinge_fit(xn, yn, xn[best_knots])
        ci = self._bootstrap(best_knots, fitted_n)
        span = x[-1] - x[0]
        return Segmentation(
            steps=x,
            values=self.values_,
            changepoints=[float(x[k]) for k in best_knots],
            ci=ci,
            fitted=fitted_n * self._yscale + self._ymean,
            slopes=slopes_n * self._yscale / span,
            slope_se=se_n * sigma * self._yscale / span,
            sigma=sigma * self._yscale,
            bic=bics,
            n_seeds=self.seed_values_.shape[0],
            knot_index=best_knots,
        )

    def _bootstrap(self, knots: list[int], fitted_n: np.ndarray) -> list[tuple[float, float]]:
        x, xn = self.steps_, self._xn
        if not knots or self.n_bootstrap <= 0:
            return [(float(x[k]), float(x[k])) for k in knots]
        rng = np.random.default_rng(self.random_state)
        B, n = self.n_bootstrap, len(xn)
        V = self.seed_values_
        if V.shape[0] > 1:
            pick = rng.integers(0, V.shape[0], size=(B, V.shape[0]))
            Yb = (V[pick].mean(axis=1) - self._ymean) / self._yscale
        else:
            resid = self._yn - fitted_n
            resid = resid - resid.mean()
            block = max(1, round(n ** (1 / 3)))
            n_blocks = -(-n // block)
            starts = rng.integers(0, n - block + 1, size=(B, n_blocks))
            idx = (starts[:, :, None] + np.arange(block)).reshape(B, -1)[:, :n]
            Yb = fitted_n[None, :] + resid[idx]
        out = []
        S = _Sums(xn, Yb)
        S0 = _Sums(xn, self._yn[None, :])
        for j, k in enumerate(knots):
            lo = knots[j - 1] if j > 0 else 0
            hi = knots[j + 1] if j + 1 < len(knots) else n - 1
            # Only locations whose profile SSE on the data is within 50 sigma^2 of the best can win
            # a replicate (a likelihood-ratio bound far beyond any 95% interval); skipping the rest
            # makes sharp changepoints cheap without narrowing uncertain ones.
            cand0, score0 = _local_profile(S0, lo, hi)
            if len(cand0) == 0:
                out.append((float(x[k]), float(x[k])))
                continue
            near = cand0[score0[0] - score0[0].min() <= 50.0 * self.sigma_**2]
            cand, score = _local_profile(S, lo, hi, int(near.min()), int(near.max()))
            if len(cand) == 0:
                out.append((float(x[k]), float(x[k])))
                continue
            located = np.sort(x[cand[np.argmin(score, axis=1)]])
            low, high = located[int(0.025 * (B - 1))], located[int(np.ceil(0.975 * (B - 1)))]
            out.append((float(min(low, x[k])), float(max(high, x[k]))))
        return out
