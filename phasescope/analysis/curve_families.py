"""Benchmark curves from processes the segmenter does not model, with known events and phases.

``family_curve(family, rng, direction)`` draws one curve; ``direction`` "higher" gives an accuracy
or reward, "lower" a loss (an NLL on a fixed eval set, or the goodness mirrored about its start).
Every curve carries its ground truth: ``changepoints`` (the events: the shift ends at the clean
curve's worst point, overfit starts at its best point), ``phases`` (true labels in order,
plateaus included), ``neutral`` zones (the bends of smooth transitions, where a phase meets a
plateau with no true corner) and a ``window`` per event (where the clean curve sits within 3% of
its range of the extreme: a flat bottom or top); see ``curve_shapes``. Event families (variant
drawn from full, no_overfit, no_shift, rise_only unless said otherwise):

- ``planted``: the segmenter's own generator (``synthetic.family_curve``, a family other than
  ``no_phase`` drawn at random): piecewise-linear or eased corners, Gaussian or binomial noise.
- ``eval_set``: a fixed eval set of 200-500 problems with difficulties b_i and an ability
  trajectory θ(t) (``curve_shapes`` of any kind, in logits); p_i(t) = σ(θ(t) − b_i), the same
  problems scored at every evaluation with persistent per-problem noise (``curve_noise``);
  20-150 evaluations; ``eval_n`` is the set's size (None for the NLL copy, which is no rate).
- ``logistic``, ``exponential``, ``power_law``, ``two_speed``: transitions of that shape, Gaussian
  noise up to a third of the smallest change, 30-300 points on even, random or front-loaded steps.
- ``rollout``: per-step group-mean rewards (8-64 rollouts, Bernoulli or graded), 1,000-2,000 steps;
  the shift is a shallow dip (0.04-0.12 in reward) of the kind GRPO shows before a sustained rise.
- ``early_peak``: 20-40 evaluations of a fixed eval set, no step-0 evaluation, the best point at
  the 3rd-8th evaluation, at least ``VISIBLE_RISE`` noise sd above the first, then a decline:
  improve -> overfit (the decline's end bend neutral).
- ``early_rise``: a small rise (1-2 noise sd, peaking at 2-5% of the run) just before the shift; it is
  no phase: the truth is shift -> readapt (-> overfit), the hump a neutral zone.
- ``heavy_tail``: transitions with Student-t noise (3-5 degrees of freedom) and 1-3 one-step
  spikes of 4-8 sd.

No-event families (``NO_EVENT``; truth: one plateau, no changepoint): ``flat`` (Gaussian),
``flat_drift`` (a linear drift of 0.2-0.6 noise sd over the whole run: below any phase),
``flat_heavy`` (Student-t noise and spikes), ``flat_eval_set`` (a constant ability on a fixed
eval set, optionally drifting by under one binomial standard error: the correlated flat curves of
the default run), ``flat_rollout`` (constant per-step rewards, 1,000-2,000 steps).

``noise`` is each point's marginal standard deviation (what an oracle is told); ``clean`` the
expected curve in metric units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phasescope.analysis import curve_noise, curve_shapes
from phasescope.analysis.synthetic import FAMILIES as PLANTED_FAMILIES
from phasescope.analysis.synthetic import family_curve as planted_family_curve
from phasescope.analysis.synthetic import step_grid

EVENT_FAMILIES = (
    "planted",
    "eval_set",
    "logistic",
    "exponential",
    "power_law",
    "two_speed",
    "rollout",
    "early_peak",
    "early_rise",
    "heavy_tail",
)
NO_EVENT = ("flat", "flat_drift", "flat_heavy", "flat_eval_set", "flat_rollout")
FAMILIES = EVENT_FAMILIES + NO_EVENT
PHASE_VARIANTS = ("full", "no_overfit", "no_shift", "rise_only")
VISIBLE_RISE = 4.0
"""``early_peak``: the least rise, in noise sd, from the first evaluation to the best (a difference
of two evaluations 2.8 of its own sd away: p 0.005 one-sided). A curve whose best is less than that
above its first evaluation reads as "worse from the start": its best may as well have come before
the first evaluation (``phases.EARLY_BEST``), and no reader could call the rise an improvement."""


@dataclass
class FamilyCurve:
    """One benchmark curve and its ground truth (see the module docstring)."""

    family: str
    direction: str
    steps: np.ndarray
    values: np.ndarray
    clean: np.ndarray
    changepoints: list[float]
    phases: list[str]
    noise: float
    neutral: list[tuple[float, float]] = field(default_factory=list)
    eval_n: int | None = None
    variant: str = ""
    windows: list[tuple[float, float]] = field(default_factory=list)  # per changepoint (curve_shapes)

    def __post_init__(self):
        if not self.windows:
            self.windows = [(c, c) for c in self.changepoints]

    @property
    def span(self) -> float:
        return float(self.steps[-1] - self.steps[0])


def family_curve(family: str, rng: np.random.Generator, direction: str = "higher") -> FamilyCurve:
    """One curve of ``family`` (``FAMILIES``) in ``direction`` ("higher" or "lower")."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    make = {
        "planted": _planted,
        "eval_set": _eval_set,
        "rollout": _rollout,
        "early_peak": _early_peak,
        "flat_eval_set": _eval_set,
        "flat_rollout": _rollout,
    }.get(family, _gaussian)
    return make(family, rng, direction)


def _shape_params(rng: np.random.Generator, variant: str, scale: float = 1.0) -> dict:
    """Sizes (goodness units, times ``scale``) and durations (fractions of the span)."""
    depth = rng.uniform(0.08, 0.25) * scale
    return {
        "initial": rng.uniform(0.2, 0.6),
        "depth": depth,
        "gain": depth * rng.uniform(1.2, 2.0),
        "drop": depth * rng.uniform(0.7, 1.2),
        "shift_frac": rng.uniform(0.06, 0.2),
        "rise_frac": rng.uniform(0.3, 0.6) if variant == "no_shift" else rng.uniform(0.25, 0.45),
        "flat_start": rng.uniform(0.15, 0.3) if rng.random() < 0.25 else 0.0,
    }


def _smallest_change(variant: str, p: dict) -> float:
    sizes = {"full": ("depth", "drop"), "no_overfit": ("depth",), "no_shift": ("gain", "drop")}
    return min(p[k] for k in sizes.get(variant, ("gain",)))


def _gaussian(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    """Transition families, early_rise, heavy_tail and the Gaussian flat families."""
    flat = family in NO_EVENT
    variant = "flat" if flat else str(rng.choice(PHASE_VARIANTS))
    if family == "early_rise":
        variant = str(rng.choice(["full", "no_overfit"]))
    kind = family if family in curve_shapes.KINDS else str(rng.choice(curve_shapes.KINDS))
    p = _shape_params(rng, variant)
    noise = _smallest_change(variant, p) * rng.uniform(0.03, 1 / 3) if not flat else rng.uniform(0.005, 0.05)
    if family == "early_rise":
        p["flat_start"], peak = 0.0, rng.uniform(0.02, 0.05)
        noise = min(noise, p["depth"] / 8)  # so that the hump (at most 2 sd) is at most a quarter of the fall
        p["bump"], p["shift_delay"] = (rng.uniform(1.0, 2.0) * noise, peak), peak
    span = float(rng.choice([500, 1000, 3000, 20000]))
    traj = curve_shapes.build(variant, kind, span, p, rng)
    steps = step_grid(int(rng.integers(30, 301)), span, str(rng.choice(["even", "random", "front"])), rng)
    clean = traj.at(steps)
    if family == "flat_drift":
        clean = clean + rng.choice([-1, 1]) * rng.uniform(0.2, 0.6) * noise * steps / span
    if family in ("heavy_tail", "flat_heavy"):
        err = curve_noise.heavy_tailed(len(steps), noise, rng.uniform(3, 5), int(rng.integers(1, 4)), rng)
    else:
        err = rng.normal(0.0, noise, len(steps))
    values = clean + err
    if direction == "lower":  # a loss: the goodness mirrored about its start
        clean, values = 2 * p["initial"] - clean, 2 * p["initial"] - values
    return _from_trajectory(family, direction, steps, values, clean, traj, float(noise), None, variant)


def _eval_set(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    """A fixed eval set scored along an ability trajectory (eval_set, flat_eval_set)."""
    flat = family == "flat_eval_set"
    variant = "flat" if flat else str(rng.choice(PHASE_VARIANTS))
    p = _shape_params(rng, variant, scale=6.0)  # logits: a shift of 0.5-1.5
    p["initial"] = rng.uniform(-1.0, 1.0)
    span = float(rng.choice([500, 1000, 3000]))
    traj = curve_shapes.build(variant, str(rng.choice(curve_shapes.KINDS)), span, p, rng)
    steps = step_grid(int(rng.integers(20, 151)), span, str(rng.choice(["even", "front"])), rng)
    theta = traj.at(steps)
    n = int(rng.choice([200, 300, 500]))
    if flat and rng.random() < 0.5:  # a slow drift of at most about one binomial standard error
        theta = theta + rng.choice([-1, 1]) * rng.uniform(0.0, 0.15) * steps / span
    return _scored(family, direction, steps, theta, traj, n, variant, rng)


def _from_trajectory(family, direction, steps, values, clean, traj, noise, eval_n, variant) -> FamilyCurve:
    """A curve whose ground truth (changepoints, phases, neutral bends, windows) is its trajectory's."""
    return FamilyCurve(
        family,
        direction,
        steps,
        values,
        clean,
        traj.changepoints,
        traj.phases,
        noise,
        traj.neutral,
        eval_n,
        variant,
        traj.windows,
    )


def _scored(family, direction, steps, theta, traj, n, variant, rng) -> FamilyCurve:
    lower = direction == "lower"
    rho = rng.uniform(0.7, 0.98)
    values, clean, noise = curve_noise.fixed_eval_set(theta, n, rho, lower, rng, spread=rng.uniform(0.5, 1.5))
    return _from_trajectory(
        family, direction, steps, values, clean, traj, noise, None if lower else n, variant
    )


def _early_peak(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    """20-40 evaluations every ``every`` steps from ``every`` on; best at the 3rd-8th of them, at
    least ``VISIBLE_RISE`` noise sd above the first evaluation (drawn again until it is)."""
    for _ in range(100):
        curve = _early_peak_draw(family, rng, direction)
        good = curve.clean if direction == "higher" else -curve.clean
        if good.max() - good[0] >= VISIBLE_RISE * curve.noise:
            break
    return curve


def _early_peak_draw(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    n_eval = int(rng.integers(20, 41))
    every = float(rng.choice([5, 10, 50, 100]))
    span = every * n_eval
    peak_at = int(rng.integers(3, 9))
    p = {
        "initial": rng.uniform(-1.5, 0.5),
        "gain": rng.uniform(0.8, 2.0),
        "drop": rng.uniform(0.8, 2.0),
        "depth": 0.0,
        "shift_frac": 0.0,
        "rise_frac": 1.0,
    }
    kind = str(rng.choice(["exponential", "two_speed", "power_law"]))
    t = np.linspace(0.0, span, curve_shapes.GRID)
    rise = curve_shapes.transition(kind, t, 0.0, peak_at * every * 0.9)
    over_kind = str(rng.choice(["eased", "exponential", "logistic"]))
    onset = peak_at * every * 0.6
    over = curve_shapes.transition(over_kind, t, onset, span - onset)
    theta = p["initial"] + p["gain"] * rise - p["drop"] * over
    best = float(t[int(np.argmax(theta))])
    # Bends are neutral ground, as in every other family: the rise levelling off into a rounded top
    # and an exponential decline levelling off by the end may be read as plateaus there.
    neutral = curve_shapes.bends(rise, t, 0.0)[1:] + curve_shapes.bends(over, t, onset)
    traj = curve_shapes.Trajectory(t, theta, [best], ["improve", "overfit"], neutral)
    steps = every * np.arange(1, n_eval + 1)
    return _scored(
        family, direction, steps, traj.at(steps), traj, int(rng.choice([200, 300, 500])), "no_shift", rng
    )


def _rollout(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    """Per-step group-mean rewards (rollout, flat_rollout)."""
    flat = family == "flat_rollout"
    variant = "flat" if flat else str(rng.choice(PHASE_VARIANTS))
    p = _shape_params(rng, variant, scale=0.5)  # a dip of 0.04-0.12 in reward
    p["initial"] = rng.uniform(0.15, 0.5)
    n_steps = int(rng.integers(1000, 2001))
    traj = curve_shapes.build(variant, str(rng.choice(curve_shapes.KINDS)), float(n_steps), p, rng)
    steps = np.arange(1.0, n_steps + 1)
    clean = traj.at(steps)
    graded = None if rng.random() < 0.5 else float(rng.uniform(1.0, 4.0))
    values, noise = curve_noise.rollout_rewards(clean, int(rng.choice([8, 16, 32, 64])), graded, rng)
    if direction == "lower":
        clean, values = 2 * p["initial"] - clean, 2 * p["initial"] - values
    return _from_trajectory(family, direction, steps, values, clean, traj, noise, None, variant)


def _planted(family: str, rng: np.random.Generator, direction: str) -> FamilyCurve:
    """The segmenter's own generator, as one family among the others."""
    sub = str(rng.choice([f for f in PLANTED_FAMILIES if f != "no_phase"]))
    c = planted_family_curve(sub, rng, lower_is_better=direction == "lower")
    return FamilyCurve(
        family,
        direction,
        c.steps,
        c.values,
        c.clean,
        list(c.changepoints),
        list(c.phases),
        c.noise,
        [],
        None,
        f"{sub}:{c.variant}",
    )
