"""Changepoints on a learning curve: where the slope of a noisy, unevenly sampled curve changes.

The model is a *continuous piecewise-linear* function of the step (in the curve's own step units),
its corners optionally rounded, with 0-3 knots, fitted by least squares, with the number of knots chosen by BIC with the noise
level estimated beforehand. Why this model: the phases we look for (shift, readapt, overfit) are
changes of *trend*, not of level, and a held-out metric moves continuously between evaluations, so
a change in slope with continuity is the smallest model that says what we mean; a mean-shift model
(ruptures' default ``l2``) would staircase every trend into many spurious changepoints.

How it is computed, and how it departs from the literature (CPOP; Muggeo's segmented regression;
ruptures' Dynp):

1. Noise: sigma is estimated robustly from Gasser et al.'s (1986) pseudo-residuals (each point
   against the line through its two neighbours, which is exact for uneven spacing), via the MAD.
   Penalties are then in units of sigma^2, so one setting works for accuracy, loss and reward.
   One-step spikes (a point beyond both neighbours and both one-sided extrapolations by 4 sigma,
   ``outliers``) are fitted as the line through their neighbours, and listed (``spikes``): least
   squares would buy knots for them. The raw values are what the result reports.
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
4. Corners: each candidate knot set is also fitted with its corners rounded (``eased``: the
   hinge model smoothed by a Gaussian of width w, w from a short grid, then knots and w refined
   jointly by coordinate search for the two most promising rounded fits). Real curves bend
   gradually, and without this a rounded dip is fitted by two sharp knots.
5. Selection: BIC = SSE/sigma_b^2 + penalty * k * log(n) (+ log(n) for a rounded fit)
   + sum_i log(n / n_i) over the k + 1 segments of n_i points (the short-segment term of Zhang &
   Siegmund's 2007 mBIC: a knot that cuts off a few points at an edge pays more, which halves the
   false alarms on flat noise) on the global continuous fit (each knot costs a slope change and a
   location), with
   sigma_b^2 = sigma^2 + resolution^2 in units of the curve's spread: a misfit smaller than
   ``resolution`` buys no knot, so a near-noiseless smooth bend is not cut into pieces. 0 knots
   is always a candidate. Curves over ``MAX_SELECT`` points are compared on every m-th point.
6. Events: a knot between two clearly sloped pieces of opposite sign (a dip or a peak) is
   reported where the data have their extreme between the neighbouring knots (a running mean over
   a window set by the noise, ``extremes.data_extremes``), not at the fit's corner: real curves are not
   piecewise linear, and on saturating or power-law shapes the fit's turning point (kept as
   ``fit_events``, where the labels measure each phase's change) sits well before the best value.
   Other knots are reported where they are.
7. Uncertainty: each knot's location is re-estimated over bootstrap replicates by the same local
   profile with the other knots held at their estimates (conditional on k); replicates resample
   seeds when there are several, else moving blocks of residuals of the fit (blocks keep the
   autocorrelation real curves have). The 2.5-97.5% range, moved with the knot to its event, has
   its two arms scaled by ``ci_scale`` = 1.5 (the percentile interval of a changepoint location
   under-covers: about 87% on the benchmark; 1.5 was chosen on benchmark seeds 5-6, not on the
   reported seeds 0-2), and is widened to the logged steps either side of the knot (the grid's
   resolution) and to the event under every corner rounding the data cannot rule out (SSE within
   3.84 sigma^2 of the best). A changepoint whose interval is degenerate (no replicates) or spans
   more than ``UNCERTAIN_SPAN`` of the run is flagged ``uncertain``.
8. Known changepoints (``fixed_knots``: a stage change, the SFT->RL switch) cut the curve into
   stages that are segmented in their own right (the curve may jump there). A constant curve
   (up to float dust) has no knots and no phases.

9. Noise floor: ``noise.noise_floor`` (the eval set's size, given or read from the values' 1/n
   grid; else the seeds' spread; else, for a short smooth [0, 1] curve, an assumed eval set's;
   else first differences, raised to one point's marginal noise when the fit's residuals are
   autocorrelated, ``noise.correlated_floor``) is kept on the result (``floor``, and in
   words ``noise``); ``phases.label_phases`` calls no phase below it. The residual sigma above sets
   the knots; on a fixed eval set it is several times smaller than the eval noise (consecutive
   evaluations share their problems), which is why the labels need the floor.

Nothing smooths the data, so nothing shifts a changepoint in time; only the model's corners are
rounded.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from phasescope.analysis import eased
from phasescope.analysis.eased import hinge_fit, hinge_sse  # noqa: F401  (re-exported)
from phasescope.analysis.extremes import data_extremes
from phasescope.analysis.noise import (
    correlated_floor,
    noise_floor,
)
from phasescope.analysis.outliers import despiked, one_step_spikes
from phasescope.analysis.search import (  # noqa: F401  (re-exported: the public search API)
    CostStepLinear,
    _local_profile,
    _refine_many,
    _Sums,
    dp_segment,
    noise_sigma,
)
from phasescope.analysis.segmentation import Segmentation  # the result (re-exported)

MIN_POINTS = 6
"""The fewest points a curve needs: two are needed per line and one knot needs a line on each side."""


MAX_SELECT = 5000
"""Longer curves choose their knot count and corner rounding on every m-th point (the knots
themselves are located on all points)."""

UNCERTAIN_SPAN = 0.5
"""A changepoint whose interval covers more than this share of the run says little about where it is."""


def _is_uncertain(ci: tuple[float, float], span: float) -> bool:
    return bool(ci[1] - ci[0] <= 0 or ci[1] - ci[0] > UNCERTAIN_SPAN * span)


class PhaseSegmenter:
    """Changepoint estimator with the ruptures shape: ``PhaseSegmenter(...).fit(steps, values).predict()``.

    ``values`` may be 1-D (one curve) or 2-D (seeds x steps, on a common step grid); several seeds
    are segmented on their mean and bootstrapped over seeds. Unlike ruptures, ``predict`` returns a
    ``Segmentation`` with changepoints in step units, not indices.

    ``fixed_knots``: known changepoints (a ``stage`` change, the SFT->RL switch), as the first step
    of each new stage; each stage is segmented on its own (the curve may jump there). ``eval_n``:
    the metric is a rate on that many problems; ``label_phases`` then calls no phase that the
    binomial noise of such an eval set could make. ``rate``: whether the values are shares of
    problems (the metric's name; None: the values decide), for the floor when ``eval_n`` is unknown.
    ``widths``: rounding widths of the corners, fractions of the span (``(0.0,)``: piecewise-linear).
    """

    def __init__(
        self,
        max_changepoints: int = 3,
        penalty: float = 2.0,
        n_bootstrap: int = 100,
        max_exact: int = 200,
        n_bins: int = 100,
        random_state: int | None = 0,
        eval_n: int | None = None,
        fixed_knots=None,
        widths=eased.WIDTHS,
        resolution: float = 0.05,
        ci_scale: float = 1.5,
        rate: bool | None = None,
        despike: bool = True,
    ):
        self.max_changepoints = max_changepoints
        self.penalty = penalty
        self.n_bootstrap = n_bootstrap
        self.max_exact = max_exact
        self.n_bins = n_bins
        self.random_state = random_state
        self.eval_n = eval_n
        self.fixed_knots = fixed_knots
        self.widths = widths
        self.resolution = resolution
        self.ci_scale = ci_scale
        self.rate = rate
        self.despike = despike

    def get_params(self) -> dict:
        """The constructor's arguments (as scikit-learn estimators give them)."""
        return {
            k: getattr(self, k) for k in inspect.signature(PhaseSegmenter.__init__).parameters if k != "self"
        }

    def fit(self, steps, values) -> PhaseSegmenter:
        x = np.asarray(steps, dtype=float)
        V = np.atleast_2d(np.asarray(values, dtype=float))
        if V.shape[1] != len(x):
            raise ValueError(f"values have {V.shape[1]} columns but there are {len(x)} steps")
        if len(x) < MIN_POINTS:
            raise ValueError(f"a curve needs at least {MIN_POINTS} points to segment, got {len(x)}")
        if np.any(np.diff(x) <= 0) or not np.all(np.isfinite(V)):
            raise ValueError("steps must be strictly increasing and values finite")
        self.steps_, self.seed_values_ = x, V
        self.stage_starts_ = self._stage_starts(x)
        y = V.mean(axis=0)
        self.values_ = y
        # Float dust (0.1 + 0.2 style) is not variation: such a curve is constant, with no phases.
        self.constant_ = bool(np.ptp(y) <= 1e-9 * max(1.0, float(np.max(np.abs(y)))))
        # Work in normalised units; everything is mapped back to steps and metric units at the end.
        span = x[-1] - x[0]
        yscale = 1.0 if self.constant_ else float(np.std(y))
        self._xn = (x - x[0]) / span
        self._yn = (y - y.mean()) / yscale
        self.sigma_ = 0.0 if self.constant_ else noise_sigma(self._xn, self._yn)
        # One-step spikes are fitted as the line through their neighbours (``outliers``): a single
        # outlying evaluation buys knots by least squares, and no phase may rest on it.
        self.spikes_ = one_step_spikes(x, y, self.sigma_ * yscale) if self.despike else np.zeros(len(x), bool)
        if self.spikes_.any():
            y = despiked(x, y, self.spikes_)
            yscale = float(np.std(y)) or yscale
            self._yn = (y - y.mean()) / yscale
            self.sigma_ = noise_sigma(self._xn, self._yn)
        self._yscale = yscale
        self._ymean = float(y.mean())
        self.floor_ = None if self.constant_ else noise_floor(V, self.eval_n, self.rate)
        return self

    def _stage_starts(self, x: np.ndarray) -> list[int]:
        """Indices where each stage after the first starts; each stage must be segmentable."""
        if self.fixed_knots is None or len(self.fixed_knots) == 0:
            return []
        starts = sorted({int(np.searchsorted(x, k)) for k in self.fixed_knots} - {0, len(x)})
        bounds = [0, *starts, len(x)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if b - a < MIN_POINTS:
                raise ValueError(
                    f"the stage from step {x[a]:g} to {x[b - 1]:g} has {b - a} point(s); "
                    f"segmenting each stage needs at least {MIN_POINTS}"
                )
        return starts

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
        self._curve_sums = _Sums(xn, yn[None, :])  # kept: _relocate re-scores windows it has scored
        return _refine_many(xn, yn, found, S=self._curve_sums)

    def _select(self) -> tuple[np.ndarray, float, dict[int, float]]:
        """Knots (normalised steps) and rounding width by BIC; rounding costs one parameter, each
        knot ``penalty``. A rounded fit has its knots and width refined jointly."""
        xall, xn, yn = self._xn, self._xn, self._yn
        if len(xn) > MAX_SELECT:  # every m-th point: the comparison of models needs no more
            m = -(-len(xn) // MAX_SELECT)
            xn, yn = xn[::m], yn[::m]
        # Model error below ``resolution`` (in units of the curve's spread) counts as noise, so a
        # smooth bend the model does not quite fit costs no extra knot on a near-noiseless curve.
        sigma = math.hypot(self.sigma_, self.resolution)
        logn = math.log(len(xn))

        def bic(sse: float, knots, width: float) -> float:
            # Zhang & Siegmund's (2007) mBIC term sum log(n / n_i) makes a knot that cuts off a
            # few points pay more than one that splits the curve evenly (noise at an edge).
            cuts = [0, *np.searchsorted(xn, knots).tolist(), len(xn)]  # scalar maths: a few terms
            short = sum(math.log(len(xn) / max(b - a, 1)) for a, b in zip(cuts[:-1], cuts[1:]))
            return sse / sigma**2 + (self.penalty * len(knots) + (width > 0)) * logn + short

        bics: dict[int, float] = {}
        fits = []  # (BIC, knots, width) of the plain and the best-rounded fit per knot count
        for knots in self._candidates():
            knots = xall[sorted(set(knots))]
            rounded = [w for w in self.widths if w > 0]
            if not (len(knots) and rounded):
                fits.append((bic(hinge_sse(xn, yn, knots), knots, 0.0), knots, 0.0))
                continue
            plain, width, sse = eased.plain_and_best_width(xn, yn, knots, rounded)
            fits += [(bic(plain, knots, 0.0), knots, 0.0), (bic(sse, knots, width), knots, width)]
        # Refining a rounded fit is the costly step: do it for the most promising rounded fit, and
        # for the runner-up when it has fewer knots (a rounded corner that the grid's knots fit
        # poorly can pass for two sharp ones).
        ranked = sorted((f for f in fits if f[2] > 0), key=lambda f: f[0])[:2]
        for i, (_, knots, width) in enumerate(ranked):
            if i and len(knots) >= len(ranked[0][1]):
                break
            knots, width, sse = eased.refine(xn, yn, knots, width)
            fits.append((bic(sse, knots, width), knots, width))
        for bic, knots, _ in fits:
            bics[len(knots)] = min(bic, bics.get(len(knots), math.inf))
        _, knots, width = min(fits, key=lambda f: f[0])
        return knots, width, bics

    def predict(self) -> Segmentation:
        if self.stage_starts_:
            return self._predict_stages()
        xn, yn, sigma, x = self._xn, self._yn, self.sigma_, self.steps_
        span = x[-1] - x[0]
        kn, width, bics = (np.zeros(0), 0.0, {}) if self.constant_ else self._select()
        # The data point at or after each knot, for the bootstrap (which works on indices).
        knots = [int(min(np.searchsorted(xn, k), len(xn) - 1)) for k in kn]
        fitted_n, slopes_n, se_n = hinge_fit(xn, yn, kn, width)
        floor = self.floor_
        if floor is not None:  # a first-difference floor on a wandering curve is far too low
            floor = correlated_floor(floor, yn - fitted_n, sigma * self._yscale)
        # Only a corner between two clearly sloped pieces is a dip or a peak (the labels' 3 SE).
        t = np.abs(slopes_n) / np.maximum(se_n * sigma, 1e-300) >= 3.0
        turns = t[:-1] & t[1:]
        # Where would the events be under any rounding the data cannot tell from the chosen one
        # (SSE within the chi-square(1) 95% bound of the best)? The intervals include those too.
        # All the roundings are fitted in one batch, and the events read from those fits.
        ws = list({0.0, width, *self.widths}) if turns.any() else [width]
        _, coefs, sse_w = eased.fit_batch(xn, yn, eased.hinges(xn, kn, ws))
        coef = dict(zip(ws, coefs))
        events = self._events(coef[width], kn, width, turns, knots)
        fit_events = list(events)
        events = data_extremes(x, xn, yn, sigma, events, knots, turns, slopes_n)
        alt = [events]
        if turns.any():
            sse = dict(zip(ws, sse_w.tolist()))
            near = [w for w, v in sse.items() if v <= min(sse.values()) + 3.84 * sigma**2 and w != width]
            alt += [self._events(coef[w], kn, w, turns, knots) for w in near]
        ci = self._intervals(knots, events, np.array(alt).reshape(len(alt), len(knots)), fitted_n)
        ci = [(max(lo, x[0]), min(hi, x[-1])) for lo, hi in ci]  # a changepoint lies inside the run
        integer = bool(np.all(x == np.round(x)))
        if integer:  # integer steps: report integers, intervals rounded outwards
            events = [float(round(e)) for e in events]
            ci = [(float(math.floor(lo)), float(math.ceil(hi))) for lo, hi in ci]
        return Segmentation(
            steps=x,
            values=self.values_,
            changepoints=events,
            ci=ci,
            fitted=fitted_n * self._yscale + self._ymean,
            slopes=slopes_n * self._yscale / span,
            slope_se=se_n * sigma * self._yscale / span,
            sigma=sigma * self._yscale,
            bic=bics,
            n_seeds=self.seed_values_.shape[0],
            knot_index=knots,
            ease=width * span,
            uncertain=[_is_uncertain(c, span) for c in ci],
            fixed=[False] * len(knots),
            eval_n=self.eval_n,
            constant=self.constant_,
            floor=floor,
            fit_events=[float(round(e)) for e in fit_events] if integer else fit_events,
            spikes=[float(v) for v in x[self.spikes_]],
        )

    def _predict_stages(self) -> Segmentation:
        x, V = self.steps_, self.seed_values_
        bounds = [0, *self.stage_starts_, len(x)]
        stages = [
            PhaseSegmenter(**(self.get_params() | {"fixed_knots": None})).fit(x[a:b], V[:, a:b]).predict()
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        cps, ci, unc, fixed, kidx = [], [], [], [], []
        for i, (a, st) in enumerate(zip(bounds, stages, strict=False)):
            if i:
                cps, ci, unc, fixed, kidx = (
                    cps + [float(x[a])],
                    ci + [(float(x[a]),) * 2],
                    unc + [False],
                    fixed + [True],
                    kidx + [a],
                )
            cps, ci, unc, fixed = cps + st.changepoints, ci + st.ci, unc + st.uncertain, fixed + st.fixed
            kidx += [a + k for k in st.knot_index]
        n = np.array([len(st.steps) for st in stages])
        return Segmentation(
            steps=x,
            values=self.values_,
            changepoints=cps,
            ci=ci,
            fitted=np.concatenate([st.fitted for st in stages]),
            slopes=np.concatenate([st.slopes for st in stages]),
            slope_se=np.concatenate([st.slope_se for st in stages]),
            sigma=float(np.sqrt(np.sum(n * [st.sigma**2 for st in stages]) / n.sum())),
            n_seeds=V.shape[0],
            knot_index=kidx,
            uncertain=unc,
            fixed=fixed,
            eval_n=self.eval_n,
            constant=all(st.constant for st in stages),
            stages=stages,
            spikes=[v for st in stages for v in st.spikes],
        )

    def _events(self, coef: np.ndarray, kn: np.ndarray, width: float, turns, knots: list[int]) -> list[float]:
        """Changepoint steps: the fitted curve's (coefficients ``coef``, from ``eased.fit``) turning
        point at a dip or peak, else the knot."""
        xn, x = self._xn, self.steps_
        events_n = eased.turning_points(coef, kn, width, 0.0, 1.0, turns)
        events = [
            float(x[k]) if e == xn[k] else x[0] + e * (x[-1] - x[0])
            for e, k in zip(events_n, knots, strict=True)
        ]
        return events

    def _intervals(self, knots, events, alt_events, fitted_n) -> list[tuple[float, float]]:
        """95% interval of each event: its knot's location over bootstrap replicates, moved with it
        to the event, the percentile arms scaled by ``ci_scale``, widened to the logged steps either
        side of the knot and to the events of every rounding the data cannot rule out (``alt_events``,
        one row per rounding).
        Degenerate without replicates."""
        x = self.steps_
        if not knots or self.n_bootstrap <= 0:
            return [(e, e) for e in events]
        Yb = self._replicates(fitted_n)
        out = []
        for j, located in enumerate(self._relocate(knots, Yb)):
            k, e = knots[j], events[j]
            if located is None:
                out.append((e, e))
                continue
            ev = np.sort(x[located] + (e - x[k]))
            B = len(ev)
            low, high = min(ev[int(0.025 * (B - 1))], e), max(ev[int(np.ceil(0.975 * (B - 1)))], e)
            lo, hi = e - self.ci_scale * (e - low), e + self.ci_scale * (high - e)
            lo = min(lo, x[max(k - 1, 0)], alt_events[:, j].min())
            hi = max(hi, x[min(k + 1, len(x) - 1)], alt_events[:, j].max())
            out.append((float(lo), float(hi)))
        return out

    def _replicates(self, fitted_n: np.ndarray) -> np.ndarray:
        """Bootstrap replicates of the normalised curve: seeds resampled when there are several,
        else moving blocks of residuals around the fit (blocks keep real curves' autocorrelation)."""
        rng = np.random.default_rng(self.random_state)
        B, n = self.n_bootstrap, len(self._xn)
        V = self.seed_values_
        if V.shape[0] > 1:
            pick = rng.integers(0, V.shape[0], size=(B, V.shape[0]))
            return (V[pick].mean(axis=1) - self._ymean) / self._yscale
        resid = self._yn - fitted_n
        resid = resid - resid.mean()
        block = max(1, round(n ** (1 / 3)))
        n_blocks = -(-n // block)
        starts = rng.integers(0, n - block + 1, size=(B, n_blocks))
        blocks = np.lib.stride_tricks.sliding_window_view(resid, block)[starts]  # whole blocks at once
        return fitted_n[None, :] + blocks.reshape(B, -1)[:, :n]

    def _relocate(self, knots: list[int], Yb: np.ndarray) -> list[np.ndarray | None]:
        """Each knot's index in every replicate, by the local profile with the other knots held at
        their estimates (conditional on k); None where the window leaves no candidate."""
        xn, n = self._xn, len(self._xn)
        S, S0 = _Sums(xn, Yb), self._curve_sums
        out: list[np.ndarray | None] = []
        for j in range(len(knots)):
            lo = knots[j - 1] if j > 0 else 0
            hi = knots[j + 1] if j + 1 < len(knots) else n - 1
            # Only locations whose profile SSE on the data is within 50 sigma^2 of the best can win
            # a replicate (a likelihood-ratio bound far beyond any 95% interval); skipping the rest
            # makes sharp changepoints cheap without narrowing uncertain ones.
            cand0, score0 = _local_profile(S0, lo, hi)
            if len(cand0) == 0:
                out.append(None)
                continue
            near = cand0[score0[0] - score0[0].min() <= 50.0 * self.sigma_**2]
            cand, score = _local_profile(S, lo, hi, int(near.min()), int(near.max()))
            out.append(cand[np.argmin(score, axis=1)] if len(cand) else None)
        return out
