"""The noise a phase must stand out from. A rate measured on n held-out problems moves by
√(p(1−p)/n) from the problems alone, whatever the model does; this module is the one home of that
standard error, of the 95% normal quantile, of the eval-set size a metric was measured on, and of
the *noise floor* the segmenter and the online detector call no phase below (``noise_floor``).

Why a floor, and not the residual noise alone: real evaluations score the same problems every
time, so consecutive points are correlated and a curve wanders slowly; the residuals around a fit
(which follows the wander with its knots) then say 0.006 where the eval set's noise is 0.035
(the default run's ``eval/general_accuracy``, n = 200). The floor, in order of preference:

1. ``binomial``: the eval set's size is known (``eval_n``) and the values are rates.
2. ``binomial-inferred``: a rate whose values all sit on a grid of 1/n (k correct of n, logged as a
   float; every foreign trainer's accuracy is), n from 10 to 2,000: the smallest such n is read as
   the eval set's size. Random values fall on such a grid by chance with probability about
   0.04 per point, so a curve of 5 or more distinct values rarely fools it (``grid_n``); a coarser grid than
   the true one (every count even) only makes the floor larger.
   Only when the curve is smoother than independent evaluations of n problems could be (its
   first-difference noise, unscaled, under ``SMOOTHER`` binomial standard errors: the same problems each
   time); per-step rollout rewards, k of n fresh rollouts, are on a grid too but independent.
3. ``seeds``: several seeds on one step grid: the spread between seeds at a step (pooled over
   steps), not divided by √seeds (seeds scored on one fixed eval set share its noise, which their
   spread cannot show), and at least the first-difference floor of their mean.
4. ``binomial-assumed``: one curve of a rate (values in [0, 1]) of unknown eval-set size that looks
   like an evaluation series: at most ``EVAL_MAX_POINTS`` points (evaluations are costly; per-step
   metrics have hundreds to thousands), and smoother than independent evaluations of
   ``ASSUMED_N`` problems could be (the test of 2 at that size: first-difference noise under
   ``SMOOTHER`` binomial standard errors): consecutive points share their problems, so their
   differences say little about the eval set's noise. The floor is then the binomial noise of ``ASSUMED_N``
   problems, the small end of held-out sets (this project's default eval set, the benchmark's
   200-500; MBPP and MATH-500 hold 500): conservative, as a larger set only makes the true floor
   smaller. On the default run's 9 flat ``eval/general_accuracy`` curves moved off their 1/200
   grid, the first-difference noise is 0.005-0.01 against the eval set's 0.035; with it alone a
   curve got a phase on 9 of 9 offline (5 of 9 online), with this floor on none (issue 22; their
   eval set really has 200 problems, so they do not show the choice of 200 is right: with 300 they
   still get none, with 500 4 of 27 jittered copies get one). What it costs: a real change under
   2.77 standard errors of 200 problems (0.1 at a rate of 0.5) on a smooth, short [0, 1] curve of
   unknown size is not called; ``eval_n`` given or a 1/n grid lifts it. On the families benchmark
   (60 curves per family and direction, seed 0) phase presence on event curves went from 0.887 to
   0.877 (``early_peak``'s NLL copies, in [0, 1] and correlated: 0.833 to 0.717) and false phases
   on no-event curves from 0.263 to 0.250 (``flat_eval_set``'s NLL copies: 1.0 to 0.92).
5. ``autocorrelated``: the first-difference floor of a curve whose fit leaves residuals that
   repeat from point to point (``correlated_floor``): one point's marginal noise, read from the
   point-to-point noise as for AR(1) noise, r from the residuals' first differences
   (``lag1_from_differences``; above ``MIN_LAG1``). Set after the fit (``segment``), since only a
   fit's residuals separate a wander from a trend. On the families benchmark (60 curves per family
   and direction, seed 0) it took false phases on ``flat_eval_set``'s NLL copies from 0.92 to 0.70
   and phase presence on ``eval_set``'s from 0.83 to 0.97; white-noise families read r near 0 and
   keep their floor. A stationary wander still reaches 4-6 marginal sd over 70-150 evaluations, more
   than the ``SEPARABLE_Z`` a phase's change must pass, which is why it is not 0.
6. ``first-difference``: one curve of unknown noise: 1.4826·MAD(Δy)/√2 (``first_difference_sd``),
   the noise sd when points are independent. It is the weakest of them, and it does not hold
   on correlated curves (hence 4 and 5). So it only stands in for the residual noise in the
   trend tests of ``phases`` where it is larger, and is not a floor on each change: on independent
   noise a floor of 2.77 sd cost the planted benchmark 2.5 points of phase presence. Scaling it by
   the differences' lag-1 autocorrelation (``max_phi``, as for AR(1) noise) brought the flat curves
   to 8 of 9 offline and 2 of 9 online but read the early improve of the ``early_peak`` family's
   NLL copies as a plateau (presence 1.0 to 0.25), so it is off by default.

Which noise was used is on the output: ``NoiseFloor.kind`` and, in words, ``NoiseFloor.describe``
(the ``noise`` field of ``phasescope segment --json`` and ``Segmentation.noise``).

The floor never lowers the noise: a phase's change must exceed ``SEPARABLE_Z`` floors (two
independent evaluations' difference) *and* pass the residual-noise tests of ``phases``. A level
change held over many evaluations is tested on the noise of the segment *means* instead
(``mean_change_z``: sd·√(1/m₁ + 1/m₂), each m discounted by the points' lag-1 correlation,
``residual_lag1``), at the same ``SEPARABLE_Z``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasescope.analysis.search import median
from phasescope.runlog.names import is_rate_name

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""
SEPARABLE_Z = Z95 * 2**0.5
"""A change smaller than this many binomial standard errors is within the eval set's noise (the
difference of two independent evaluations of the same rate)."""
GRID_MAX_N = 2000
"""The largest eval-set size read from a grid of values (a finer grid is what rounding to three
decimals makes)."""
SMOOTHER = 0.5
"""A curve on a 1/n grid whose point-to-point noise is under this share of the binomial standard
error at n is read as a fixed eval set (its problems shared by every evaluation)."""
ASSUMED_N = 200
"""The eval-set size a ``binomial-assumed`` floor assumes: the small end of held-out sets."""
MIN_SERIES = 6
"""The fewest points whose first differences say anything about how smooth a curve is."""
EVAL_MAX_POINTS = 60
"""The most points a curve of unknown eval-set size may have to be read as an evaluation series."""
KINDS = (
    "binomial",
    "binomial-inferred",
    "seeds",
    "binomial-assumed",
    "autocorrelated",
    "first-difference",
    "none",
)
MIN_LAG1 = 0.5
"""The least AR(1) correlation of a fit's residuals (``lag1_from_differences``) read as a correlated
curve (``correlated_floor``)."""


def binomial_se(p, n: int):
    """Standard error of a rate near ``p`` (a number, or an array of them) measured on ``n``
    independent problems."""
    p = np.clip(p, 0.0, 1.0)
    se = np.sqrt(p * (1 - p) / n)
    return float(se) if np.ndim(se) == 0 else se


def eval_n_for(metric: str, eval_sets: dict[str, int]) -> int | None:
    """Held-out problems behind ``metric``, from ``eval_sets`` (set name -> problems, "" the main
    set, as ``Experiment.eval_sets``): a set named ``x`` gives ``eval/x_accuracy``, any other rate
    reads the main set. None when unknown, or when the name is not a rate's (an NLL or a length has
    no binomial noise)."""
    if not is_rate_name(metric):
        return None
    tail = metric.split("/")[-1]
    named = [k for k in eval_sets if k and tail.startswith(f"{k}_")]
    n = eval_sets.get(max(named, key=len)) if named else eval_sets.get("")
    return int(n) if isinstance(n, int) and n > 0 else None


def grid_n(values, max_n: int = GRID_MAX_N, tol: float = 0.02) -> int | None:
    """The smallest n (10..``max_n``) with every value within ``tol`` counts of k/n for an integer
    k: the eval-set size of a rate logged as correct/n. None when no n fits, when a value lies
    outside [0, 1], or with fewer than 5 distinct values (too few to rule out chance: about 2,000 sizes
    are tried, each fitting a random value with probability 0.04, so 5 values fit by chance 2e-4 of
    the time)."""
    v = np.unique(np.round(np.asarray(values, dtype=float), 9))
    if len(v) < 5 or v[0] < 0 or v[-1] > 1:  # v is sorted
        return None
    n = np.arange(10, max_n + 1)
    # Sizes that fit 32 of the values (spread over their range) are then checked on all of them:
    # a long curve would otherwise cost sizes x values. The probe's indices are
    # np.linspace(0, len(v) - 1, m).round() by linspace's own arithmetic (distinct: steps >= 1).
    m = min(32, len(v))
    at = np.arange(m) * ((len(v) - 1) / (m - 1))
    at[-1] = len(v) - 1
    probe = v[at.round().astype(int)]
    # Two probe values one at a time over every size first (a random value fits a size with
    # probability 0.04, so few sizes are left), then the rest of the probe on those: the same sizes
    # as checking all 32 at once, without the slow all(axis=1) over ~2,000 rows.
    for value in probe[:2]:
        c = n * value
        n = n[np.abs(c - np.round(c)) <= tol]
    if not len(n):
        return None
    counts = probe[2:][None, :] * n[:, None]  # candidate sizes x probe values
    for size in n[np.all(np.abs(counts - np.round(counts)) <= tol, axis=1)]:
        c = v * size
        if np.all(np.abs(c - np.round(c)) <= tol):
            return int(size)
    return None


def first_difference_sd(values, max_phi: float = 0.0) -> float:
    """The noise's marginal sd from the first differences: 1.4826·MAD(Δy)/√2, which is the noise sd
    when points are independent, divided by √(1 − φ) for AR(1) noise with φ read from the lag-1
    autocorrelation r of the differences (φ = 1 + 2r: r is −0.5 for independent points and rises
    towards 0 as they wander together), φ clipped to [0, ``max_phi``]. 0 for fewer than 4 points."""
    d = np.diff(np.asarray(values, dtype=float))
    if len(d) < 3:
        return 0.0
    c = d - median(d)
    phi = lag1_from_differences(values, max_r=max_phi) if max_phi > 0 else 0.0
    return float(1.4826 * median(np.abs(c)) / np.sqrt(2) / np.sqrt(1.0 - phi))


@dataclass(frozen=True)
class NoiseFloor:
    """The floor one curve's phases are tested against. ``kind``: one of ``KINDS``; ``sd``: one
    evaluation's noise in metric units (for a binomial floor, at the curve's mean rate; ``sd_at``
    gives it at any rate); ``eval_n``: the eval-set size (given or inferred) of a binomial floor."""

    kind: str
    sd: float
    eval_n: int | None = None
    seeds: int = 1
    lag1: float = 0.0  # the residuals' lag-1 autocorrelation behind an ``autocorrelated`` floor

    def sd_at(self, p: float) -> float:
        """One evaluation's noise near the rate (or value) ``p``."""
        if self.eval_n and self.kind.startswith("binomial"):
            return binomial_se(p, self.eval_n)
        return self.sd

    def describe(self) -> str:
        """A few words for a person: which noise was used."""
        if self.kind == "binomial":
            return f"binomial, eval set of {self.eval_n}"
        if self.kind == "binomial-inferred":
            return f"binomial, eval set of {self.eval_n} inferred from the values' 1/{self.eval_n} grid"
        if self.kind == "seeds":
            return f"seed replicates ({self.seeds} seeds)"
        if self.kind == "binomial-assumed":
            return (
                f"binomial, assumed eval set of {self.eval_n} (size unknown; a smooth [0, 1] curve of "
                "few points: a conservative floor)"
            )
        if self.kind == "autocorrelated":
            return (
                f"autocorrelated (eval set size unknown; the fit's residuals repeat from point to point, "
                f"lag-1 r = {self.lag1:.2f}: the curve's own noise, scaled to a single point's)"
            )
        if self.kind == "first-difference":
            return "first differences (eval set size unknown: the curve's own point-to-point noise)"
        return "none"


def noise_floor(seed_values, eval_n: int | None = None, rate: bool | None = None) -> NoiseFloor:
    """The floor for a curve (``seed_values``: seeds x steps, or one curve). ``eval_n``: the eval
    set's size when known; ``rate``: whether the values are rates (default: all lie in [0, 1])."""
    V = np.atleast_2d(np.asarray(seed_values, dtype=float))
    y = V.mean(axis=0)
    in_unit = bool(np.all((V >= 0) & (V <= 1)))
    rate = in_unit if rate is None else (rate and in_unit)
    p = float(np.clip(y.mean(), 0.0, 1.0))
    if rate and eval_n:
        return NoiseFloor("binomial", binomial_se(p, eval_n), int(eval_n), V.shape[0])
    n = grid_n(V.ravel()) if rate else None
    # A grid says how many problems make each value, not that they are the same problems each time:
    # per-step rollout rewards are group means over fresh prompts, independent from point to point,
    # and a trend over many of them is seen far below one point's noise. Only a curve smoother than
    # independent evaluations of that size could be (the first-difference noise under half the
    # binomial standard error) is a fixed eval set whose noise no phase may hide in.
    if n is not None and first_difference_sd(V[0], max_phi=0.0) < SMOOTHER * binomial_se(p, n):
        return NoiseFloor("binomial-inferred", binomial_se(p, n), n, V.shape[0])
    if V.shape[0] > 1:
        # Not divided by √seeds: seeds evaluated on one fixed eval set share its noise, which their
        # spread cannot show, so the mean is no surer than one seed by more than that spread says.
        spread = float(np.sqrt(np.mean(V.var(axis=0, ddof=1))))
        return NoiseFloor("seeds", max(spread, first_difference_sd(y)), None, V.shape[0])
    # Only where the size is unknown: values on a 1/n grid that are not smoother than n problems'
    # evaluations are independent ones (fresh rollouts), whose first differences are their noise.
    if rate and n is None and looks_like_eval_series(y):
        return NoiseFloor("binomial-assumed", binomial_se(p, ASSUMED_N), ASSUMED_N, 1)
    return NoiseFloor("first-difference", first_difference_sd(y))


def correlated_floor(floor: NoiseFloor, residuals, sigma: float) -> NoiseFloor:
    """``floor`` unless it is the first-difference floor of a curve whose fit leaves correlated
    residuals: then one point's noise, read from the point-to-point noise ``sigma`` (Gasser's
    pseudo-residuals, ``search.noise_sigma``) as for AR(1) noise of lag-1 correlation r, whose
    pseudo-residuals have variance sigma_m^2 (1 - r)(1.5 - 0.5 r) / 1.5 (lag 2: r^2).

    Why: a fixed eval set of unknown size (an NLL, an accuracy of 1,000 problems) wanders; its point-to-
    point noise is several times smaller than one evaluation's, and every wander passes the trend
    tests. A stationary wander never moves the level by more than a few marginal sd, which is the
    floor this gives. r is read on the fit's residuals, not on the curve's differences, so a
    curved trend does not pass for correlation; it must exceed ``MIN_LAG1`` and 3/√n (white noise's
    r has standard error 1/√n)."""
    e = np.asarray(residuals, dtype=float)
    if floor.kind != "first-difference":
        return floor
    r = serial_lag1(e, sigma)
    if r <= MIN_LAG1:
        return floor
    sd = sigma / np.sqrt((1.0 - r) * (1.5 - 0.5 * r) / 1.5)
    return NoiseFloor("autocorrelated", float(max(sd, floor.sd)), None, floor.seeds, float(r))


def serial_lag1(residuals, sigma: float) -> float:
    """``lag1_from_differences`` of a fit's residuals, 0 where they say nothing: fewer than
    2 x ``MIN_SERIES`` points, or residuals smaller than half the point-to-point noise ``sigma``
    (float dust around an exact fit; a wandering curve's residuals are larger than ``sigma``)."""
    e = np.asarray(residuals, dtype=float)
    if len(e) < 2 * MIN_SERIES or not np.sqrt(np.mean(e * e)) >= 0.5 * sigma:
        return 0.0
    return lag1_from_differences(e)


def lag1_from_differences(residuals, max_r: float = 0.95) -> float:
    """AR(1) correlation r of ``residuals`` read from their first differences, whose lag-1
    autocorrelation is (r - 1) / 2 (-0.5 for independent points, towards 0 as they wander together);
    clipped to [0, ``max_r``]. Differences see the point-to-point structure a fit with a few knots
    leaves alone, where the residuals' own lag-1 correlation is what the knots did not follow."""
    d = np.diff(np.asarray(residuals, dtype=float))
    if len(d) < 3:
        return 0.0
    d = d - median(d)
    ss = float(d @ d)
    return float(np.clip(1.0 + 2.0 * float(d[1:] @ d[:-1]) / ss, 0.0, max_r)) if ss > 0 else 0.0


def looks_like_eval_series(values) -> bool:
    """Whether one [0, 1] curve of unknown eval-set size reads as evaluations of one fixed eval set:
    ``MIN_SERIES``..``EVAL_MAX_POINTS`` points with at least 5 distinct values, smoother than
    independent evaluations of
    ``ASSUMED_N`` problems could be (the grid's test at the assumed size: its first-difference noise
    under ``SMOOTHER`` binomial standard errors; consecutive points share their problems)."""
    y = np.asarray(values, dtype=float)
    if not MIN_SERIES <= len(y) <= EVAL_MAX_POINTS or y.min() < 0 or y.max() > 1:
        return False
    # Under 5 distinct values ``grid_n`` cannot tell a 1/n grid from chance: such a curve (k of n,
    # still at its first few counts) may have a size its later values will show.
    if len(np.unique(np.round(y, 9))) < 5:
        return False
    return first_difference_sd(y) < SMOOTHER * binomial_se(float(y.mean()), ASSUMED_N)


def residual_lag1(residuals, max_r: float = 0.95) -> float:
    """The lag-1 autocorrelation of a fit's residuals, clipped to [0, ``max_r``]: how much each
    evaluation repeats the last one's luck (a fixed eval set's problems, a slowly wandering model).
    0 for fewer than 4 points or constant residuals."""
    e = np.asarray(residuals, dtype=float)
    if len(e) < 4:
        return 0.0
    e = e - e.mean()
    ss = float(e @ e)
    return float(np.clip(e[1:] @ e[:-1] / ss, 0.0, max_r)) if ss > 0 else 0.0


def mean_change_z(before, after, sd: float, r: float = 0.0) -> float:
    """A level change measured on segment means: (mean(after) − mean(before)) in units of its
    standard error sd·√(1/m₁ + 1/m₂) (with one point each side, a change of ``SEPARABLE_Z`` sd is
    ``Z95`` here: the single-point floor). A level held over m evaluations is known about m times
    better in variance, but only for independent points: with lag-1 correlation ``r`` (AR(1)), m
    points are worth m·(1 − r)/(1 + r). 0 when a side is empty or ``sd`` is not positive."""
    a, b = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if len(a) == 0 or len(b) == 0 or not sd > 0:
        return 0.0
    worth = (1.0 - r) / (1.0 + r)
    m1, m2 = max(len(a) * worth, 1.0), max(len(b) * worth, 1.0)
    return float((b.mean() - a.mean()) / (sd * np.sqrt(1.0 / m1 + 1.0 / m2)))
