"""The searches behind the segmenter (see ``segment``'s docstring for the method): the robust noise
estimate, the exact dynamic programme over segmented linear regression, and the local continuous
two-piece profile that refines knots and re-locates them in bootstrap replicates.

Pure numpy on normalised curves; everything is vectorised over candidates (and replicates).
A profile is some 50 small numpy operations per window, so the speed comes from making fewer of
them: the refinements of every knot count advance in lockstep and score their windows in one pass
(``_refine_many``, ``_best_knots``), a curve's whole-window profiles are kept and reused by the
bootstrap (``_Sums.profiles``), and replicates take plain sums per window rather than prefix sums
of every replicate. Every change of this kind keeps the arithmetic of each candidate as it was, so
the segmenter's output is the same to the bit (tests/analysis/test_segment_speed_equivalence.py).
"""

from __future__ import annotations

import functools

import numpy as np
import ruptures as rpt


def median(a: np.ndarray) -> float:
    """``np.median`` of a 1-D float array (the same value: the middle one, or the mean of the two
    middle ones), without its bookkeeping, which costs several times the partition on the few
    hundred values of a curve; NaN anywhere gives NaN as it does."""
    m = len(a)
    h = m // 2
    if m == 0 or np.isnan(np.sum(a)):
        return float(np.median(a))
    if m % 2:
        return float(np.partition(a, h)[h])
    p = np.partition(a, (h - 1, h))
    return float((p[h - 1] + p[h]) / 2)


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
    sigma = 1.4826 * median(np.abs(z - median(z)))
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
    sw, sx, sy, sxx, sxy, syy = (s.take(j) - s.take(i) for s in sums)  # take: a faster gather
    with np.errstate(divide="ignore", invalid="ignore"):
        vxx = sxx - sx * sx / sw
        vxy = sxy - sx * sy / sw
        vyy = syy - sy * sy / sw
        sse = np.where(vxx > 1e-300, vyy - vxy * vxy / vxx, vyy)
    return np.maximum(sse, 0.0)


@functools.lru_cache(maxsize=32)
def _band(m: int, min_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i, j) of an m x m matrix with j - i >= min_size, and the flat indices of
    (j, i), their places in the transposed matrix (read-only: shared between calls)."""
    i, j = np.triu_indices(m, k=min_size)
    flat = j * m + i
    for a in (i, j, flat):
        a.setflags(write=False)
    return i, j, flat


def dp_segment(x: np.ndarray, y: np.ndarray, max_k: int, min_size: int = 3, weights=None) -> list[list[int]]:
    """Best discontinuous segmented-linear partition for each k = 0..max_k.

    Returns, for each k, the k changepoint indices (the first index of each new segment).
    ``k`` values that do not fit ``min_size`` points per segment are omitted from the end.
    """
    n = len(x)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    sums = _prefix(x, y, w)
    idx = np.arange(n + 1)
    # cost_t[j, i]: the cost of points i..j-1 (transposed, so that the minimum over i runs along
    # rows); segments of fewer than min_size points cost inf, the others' SSEs are computed only there.
    i, j, flat = _band(n + 1, min_size)
    cost_t = np.full((n + 1, n + 1), np.inf)
    cost_t.ravel()[flat] = _linear_sse(sums, i, j)
    best = [cost_t[:, 0].copy()]
    back = []
    for _ in range(max_k):
        total = cost_t + best[-1]
        arg = np.argmin(total, axis=1)
        best.append(total[idx, arg])
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
    """Prefix sums of 1, x and x^2 over a curve and, for one curve (``Y`` of one row), of y and xy,
    built once so that every window's profile is a handful of vector operations on slices.

    For B replicates the y sums are taken per window instead (``_moments``): prefix sums of a
    (B, n) array cost a sequential pass over all of it (numpy's cumsum does not vectorise), while a
    relocation needs running sums only over its few candidates and plain (vectorised) sums over
    the rest of the window."""

    def __init__(self, x: np.ndarray, Y: np.ndarray):
        def c0(a: np.ndarray) -> np.ndarray:
            out = np.zeros(a.shape[:-1] + (a.shape[-1] + 1,))
            np.cumsum(a, axis=-1, out=out[..., 1:])
            return out

        self.x, self.Y = x, Y
        self.xx = x * x
        self.x1, self.x2 = c0(x), c0(self.xx)
        self.index = np.arange(len(x) + 1, dtype=float)
        self.prefix = Y.shape[0] == 1
        if self.prefix:
            self.y, self.xy = c0(Y), c0(Y * x)
            # Whole-window profiles by (lo, hi), kept: the bootstrap re-profiles the final knots'
            # windows on the data, every one of which the refinement has already scored.
            self.profiles: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        else:
            self.one = np.ones_like(x)


def _moments(S: _Sums, lo: int, E: int, t: slice, k: np.ndarray, cm: float):
    """For B replicates: the window's sums sum(y), sum((x - cm) y) (B,) and, per candidate t, the
    sum over i >= t of (x_i - x_t) y_i (B, T): matrix-vector products with 1 and x over the window
    and its tail, and one matrix product with the hinges (x_i - x_t)+ among the candidates."""
    Y, x, one = S.Y, S.x, S.one
    window, tail = Y[:, lo:E], Y[:, t.stop : E]
    r0 = window @ one[lo:E]
    r1 = window @ x[lo:E] - cm * r0
    hinge = np.maximum(k[:, None] - k[None, :], 0.0)  # (x_i - x_t)+ for candidates i, t
    return r0, r1, Y[:, t] @ hinge + ((tail @ x[t.stop : E])[:, None] - k * (tail @ one[t.stop : E])[:, None])


def _local_profile(
    S: _Sums, lo: int, hi: int, first: int | None = None, last: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Continuous two-piece fit on points lo..hi (inclusive) for every knot lo < t < hi
    (or only first <= t <= last).

    Model: y = a + b x + c (x - x_t)+ on the window. Returns the candidate indices and a (B, T)
    array of -r'G^-1 r (the SSE up to a per-replicate constant), so argmin over axis 1 is the best
    knot for each replicate. A whole window of one curve is scored once (``_Sums.profiles``);
    the arrays returned are then shared, not to be written to.
    """
    if not (S.prefix and first is None and last is None):
        return _profile(S, lo, hi, first, last)
    if (lo, hi) not in S.profiles:
        S.profiles[lo, hi] = _profile(S, lo, hi)
    return S.profiles[lo, hi]


def _profile(S: _Sums, lo: int, hi: int, first: int | None = None, last: int | None = None):
    """``_local_profile`` without the store."""
    E = hi + 1
    first = lo + 1 if first is None else first
    last = hi - 1 if last is None else last
    if last < first:
        return np.arange(0), np.zeros((S.Y.shape[0], 0))
    t = slice(first, last + 1)
    k = S.x[t]
    n1 = float(E - lo)
    x1 = float(S.x1[E] - S.x1[lo])
    cm = x1 / n1  # centring x on the window keeps the Gram matrices well-conditioned
    x2 = float(S.x2[E] - S.x2[lo]) - cm * x1
    s_n = E - S.index[t]
    s_x = S.x1[E] - S.x1[t]  # sums over i >= t (uncentred; the hinge is shift-invariant)
    s_xx = S.x2[E] - S.x2[t]
    # h2 = s_xx - 2 k s_x + k^2 s_n and xh = s_xx - k s_x - cm h1, with k s_x once and k^2 read
    # (scaling by 2 and negating are exact, so the bits are those of the formulas as written).
    ks_x = k * s_x
    h1 = s_x - k * s_n
    h2 = s_xx - 2 * ks_x + S.xx[t] * s_n
    xh = s_xx - ks_x - cm * h1
    # Closed-form inverse of each symmetric 3x3 Gram matrix [[a, b, c], [b, d, e], [c, e, f]]
    # (with b = sum of centred x = 0); batched np.linalg.inv was the bottleneck of the segmenter.
    a, d, c, e, f = n1, x2, h1, xh, h2 + 1e-12 * (1.0 + x2)
    i00, i01, i02 = d * f - e * e, c * e, c * -d
    i11, i12, i22 = a * f - c * c, -a * e, a * d
    det = a * i00 + c * i02
    det = np.where(np.abs(det) > 1e-300, det, 1e-300)
    w00, w01, w11, w22, two = i00 / det, i01 / det, i11 / det, i22 / det, 2 / det
    w02, w12 = i02 * two, i12 * two
    # r'G^-1 r with r = (r0, r1, r2). For one curve r0 and r1 are numbers and the terms are written
    # out in the order the replicates' matrix products sum them (which gives the same bits), so a
    # tie between candidates (a noiseless curve) is broken as it always was.
    if S.prefix:
        y, xy = S.y[0], S.xy[0]
        r0 = float(y[E] - y[lo])
        r1 = float(xy[E] - xy[lo]) - cm * r0
        r2 = (xy[E] - xy[t]) - k * (y[E] - y[t])
        fixed = (r0 * r0) * w00 + (2 * r0 * r1) * w01 + (r1 * r1) * w11
        cross = r0 * w02 + r1 * w12
        return np.arange(first, last + 1), -(fixed + r2 * (cross + r2 * w22))[None]
    r0, r1, r2 = _moments(S, lo, E, t, k, cm)
    left = np.stack([r0 * r0, 2 * r0 * r1, r1 * r1, r0, r1], axis=1)
    right = np.stack([w00, w01, w11, w02, w12])
    fixed, cross = left[:, :3] @ right[:3], left[:, 3:] @ right[3:]
    return np.arange(first, last + 1), -(fixed + r2 * (cross + r2 * w22))


def _best_knots(S: _Sums, windows: list[tuple[int, int]]) -> list[int | None]:
    """For each (lo, hi) window of one curve: the knot lo < t < hi that ``_local_profile`` scores
    best (the first of equal scores), or None when the window has no inner point.

    Several windows are scored in one pass over their candidates laid end to end (a profile costs
    about 40 small numpy calls whatever its length): each window's numbers are repeated over its
    candidates, so every candidate goes through the same operations as in ``_local_profile``, on
    the same values, and gets the same bits."""
    todo = [w for w in dict.fromkeys(windows) if w not in S.profiles]
    if len(todo) == 1:
        _local_profile(S, *todo[0])
    elif todo:
        _profile_windows(S, todo)
    out = []
    for w in windows:
        cand, score = S.profiles[w]
        out.append(int(cand[int(np.argmin(score[0]))]) if len(cand) else None)
    return out


def _profile_windows(S: _Sums, windows: list[tuple[int, int]]) -> None:
    """Whole-window profiles of one curve for several windows in one pass, into ``S.profiles``."""
    y, xy, x1s, x2s = S.y[0], S.xy[0], S.x1, S.x2
    table, starts, T = [], [], []
    for lo, hi in windows:  # each window's numbers, in Python floats (as _local_profile has them)
        E = hi + 1
        n1 = float(E - lo)
        x1 = float(x1s[E] - x1s[lo])
        cm = x1 / n1
        x2 = float(x2s[E] - x2s[lo]) - cm * x1
        r0 = float(y[E] - y[lo])
        r1 = float(xy[E] - xy[lo]) - cm * r0
        table.append([E, x1s[E], x2s[E], y[E], xy[E], n1, -n1, cm, x2, 1e-12 * (1.0 + x2)])
        table[-1] += [n1 * x2, r0 * r0, 2 * r0 * r1, r1 * r1, r0, r1]
        starts.append(lo + 1)
        T.append(max(E - lo - 2, 0))
    Ef, x1E, x2E, yE, xyE, a, na, cm, d, reg, i22, r00, r01, r11, r0, r1 = np.repeat(
        np.array(table).T, T, axis=1
    )
    t = np.concatenate([np.arange(first, first + m) for first, m in zip(starts, T)])
    k = S.x[t]
    s_n = Ef - S.index[t]
    s_x = x1E - x1s[t]
    s_xx = x2E - x2s[t]
    ks_x = k * s_x
    c = s_x - k * s_n
    f = s_xx - 2 * ks_x + k * k * s_n + reg
    e = s_xx - ks_x - cm * c
    i00 = d * f - e * e
    i02 = -c * d
    det = a * i00 + c * i02
    det = np.where(np.abs(det) > 1e-300, det, 1e-300)
    two = 2 / det
    r2 = (xyE - xy[t]) - k * (yE - y[t])
    fixed = r00 * (i00 / det) + r01 * ((c * e) / det) + r11 * ((a * f - c * c) / det)
    cross = r0 * (i02 * two) + r1 * ((na * e) * two)
    score = -(fixed + r2 * (cross + r2 * (i22 / det)))
    end = 0
    for w, first, m in zip(windows, starts, T):
        S.profiles[w] = (np.arange(first, first + m), score[None, end : end + m])
        end += m


def _refine_many(
    x: np.ndarray, y: np.ndarray, knot_sets: list[list[int]], max_rounds: int = 3, S: _Sums | None = None
) -> list[list[int]]:
    """``_refine`` for several knot sets of one curve (the segmenter's candidates for each knot
    count), in lockstep: each round takes the next pending knot of every set and scores their
    windows in one ``_best_knots`` pass. Each set's moves are those ``_refine`` makes alone.
    ``S``: the curve's ``_Sums``, when the caller keeps it for later profiles of the same curve."""
    n = len(x)
    S = _Sums(x, y[None, :]) if S is None else S
    knots = [list(ks) for ks in knot_sets]
    pending = [list(range(len(ks))) for ks in knots]
    budget = [max_rounds * len(ks) for ks in knots]
    while True:
        live = [i for i in range(len(knots)) if pending[i] and budget[i] > 0]
        if not live:
            return knots
        moves, windows = [], []
        for i in live:
            ks, j = knots[i], pending[i].pop(0)
            budget[i] -= 1
            moves.append((i, j))
            windows.append((ks[j - 1] if j > 0 else 0, ks[j + 1] if j + 1 < len(ks) else n - 1))
        for (i, j), best in zip(moves, _best_knots(S, windows), strict=True):
            ks = knots[i]
            if best is not None and best != ks[j]:
                ks[j] = best
                pending[i] += [m for m in (j - 1, j + 1) if 0 <= m < len(ks) and m not in pending[i]]


def _refine(x: np.ndarray, y: np.ndarray, knots: list[int], max_rounds: int = 3) -> list[int]:
    """Coordinate descent over knots: re-profile a knot only when a neighbour has moved since."""
    return _refine_many(x, y, [knots], max_rounds)[0]
