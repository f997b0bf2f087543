"""Smooth trajectories of a learning curve with known events, for ``curve_families``.

A trajectory is the clean "goodness" g(t) of a run (higher is better) built from up to three
*transitions*, each a shape T(t) that is 0 before its onset and moves towards 1 after it:

    g(t) = initial + bump(t) - depth * T_shift(t) + (depth + gain) * T_rise(t) - drop * T_over(t)

The transition kinds are processes the segmenter does not model (it fits corners joined by
straight lines): ``logistic`` (an S-curve), ``exponential`` (a sharp start, a long saturating
tail), ``power_law`` (1 - (1 + t/tau)^-alpha: never levels off), ``two_speed`` (a fast and a slow
exponential added) and ``eased`` (a straight ramp with Gaussian-rounded corners: the segmenter's
own model). The variants are those of ``synthetic.VARIANTS``: full (shift, readapt, overfit),
no_overfit, no_shift (improve, overfit), rise_only (improve), flat.

Ground truth. The *events* are read on the clean trajectory, not on the planted onsets: the shift
ends at its worst point and overfit starts at its best point (after the worst point when there is
a shift), exactly as ``synthetic`` defines them. Where a phase meets a plateau (a flat start, a
rise that levels off) a smooth transition has no true corner, so each transition's bends are
returned as *neutral zones*: from its onset until it has covered 25% of its way, and from 75% to
97% of it (to the end of the run when it never gets there). A benchmark counts a changepoint found
in a neutral zone neither as a hit nor as a false alarm, and does not require one there. Each event
also has a *window*: the stretch around the extreme where the clean curve stays within 3% of its
range of the extreme value (a flat bottom or top, where any point is as much the event as the
exact extreme; a sharp turn's window is the turn itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

KINDS = ("logistic", "exponential", "power_law", "two_speed", "eased")
"""Transition shapes; ``eased`` is the segmenter's own (a rounded ramp)."""
GRID = 4001
"""Points of the fine grid on which events and bends are read."""


@dataclass
class Trajectory:
    """The clean goodness on a fine grid over [0, span], its events and its neutral zones."""

    t: np.ndarray
    g: np.ndarray
    changepoints: list[float]  # events: shift end (worst point), overfit start (best point)
    phases: list[str]  # true labels in order (plateaus included, for reading)
    neutral: list[tuple[float, float]] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self):
        if not self.windows:
            self.windows = event_windows(self.t, self.g, self.changepoints)

    def at(self, steps) -> np.ndarray:
        """The clean goodness at ``steps``."""
        return np.interp(np.asarray(steps, float), self.t, self.g)


def event_windows(t: np.ndarray, g: np.ndarray, events: list[float], frac: float = 0.03) -> list:
    """Per event: the contiguous stretch around it where ``g`` is within ``frac`` of its range of
    the value at the event."""
    out = []
    tol = frac * float(np.ptp(g))
    for e in events:
        i = int(np.argmin(np.abs(t - e)))
        near = np.abs(g - g[i]) <= tol
        lo = hi = i
        while lo > 0 and near[lo - 1]:
            lo -= 1
        while hi < len(t) - 1 and near[hi + 1]:
            hi += 1
        out.append((float(t[lo]), float(t[hi])))
    return out


def transition(kind: str, t: np.ndarray, onset: float, duration: float, alpha: float = 1.0) -> np.ndarray:
    """Shape ``kind`` (``KINDS``) starting at ``onset``: 0 before it, about 1 ``duration`` later
    (power_law: 1 - (1 + u/tau)^-alpha with tau = duration / 10, still short of 1 then)."""
    u = np.maximum(t - onset, 0.0)
    if kind == "logistic":
        s = duration / 10.0
        lo = expit(-5.0)
        return np.where(t > onset, (expit((u - duration / 2) / s) - lo) / (1 - lo), 0.0)
    if kind == "exponential":
        return 1 - np.exp(-3.0 * u / duration)
    if kind == "power_law":
        return 1 - (1 + 10.0 * u / duration) ** -alpha
    if kind == "two_speed":
        return 0.6 * (1 - np.exp(-15.0 * u / duration)) + 0.4 * (1 - np.exp(-3.0 * u / duration))
    if kind == "eased":
        w = duration / 8.0  # rounding sd: the corners bend over about a quarter of the ramp
        a = _hinge(t - onset, w) - _hinge(t - onset - duration, w)
        return a / duration
    raise ValueError(f"unknown transition kind {kind!r}; choose from {', '.join(KINDS)}")


def _hinge(x: np.ndarray, w: float) -> np.ndarray:
    """max(x, 0) convolved with a Gaussian of sd ``w``."""
    from scipy.special import ndtr

    z = x / w
    return w * (z * ndtr(z) + np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))


def bends(shape: np.ndarray, t: np.ndarray, onset: float) -> list[tuple[float, float]]:
    """The neutral zones of one transition: its start bend and its end bend."""

    def first(level):
        i = np.nonzero(shape >= level)[0]
        return float(t[i[0]]) if len(i) else float(t[-1])

    return [(onset, first(0.25)), (first(0.75), first(0.97))]


def bump(t: np.ndarray, height: float, peak: float) -> np.ndarray:
    """A small early rise and its return: a gamma-like pulse peaking at ``peak`` (height ``height``)."""
    u = np.maximum(t, 0.0) / peak
    return height * u**2 * np.exp(2 * (1 - u))


def build(variant: str, kind: str, span: float, p: dict, rng: np.random.Generator) -> Trajectory:
    """The trajectory of ``variant`` with transitions of ``kind``. ``p`` holds ``initial``,
    ``depth``, ``gain``, ``drop`` (goodness units), ``shift_frac``, ``rise_frac`` (durations as
    fractions of the span), ``flat_start`` (fraction), optionally ``bump`` (height, peak fraction)."""
    t = np.linspace(0.0, span, GRID)
    t0 = p.get("flat_start", 0.0) * span
    g = np.full_like(t, p["initial"])
    neutral: list[tuple[float, float]] = []
    alpha = float(rng.uniform(0.5, 1.5))

    def add(sign, size, onset, duration):
        shape = transition(kind, t, onset, duration, alpha)
        neutral.extend(bends(shape, t, onset))
        return sign * size * shape

    shift = variant in ("full", "no_overfit")
    rise_on = t0
    if shift:
        d_s, s_on = p["shift_frac"] * span, t0 + p.get("shift_delay", 0.0) * span
        g += add(-1, p["depth"], s_on, d_s)
        rise_on = s_on + d_s * rng.uniform(0.6, 1.0)  # the recovery may start before the fall ends
    d_r = p["rise_frac"] * span
    if variant != "flat":
        g += add(1, p["gain"] + (p["depth"] if shift else 0.0), rise_on, d_r)
    if variant in ("full", "no_shift"):
        over_on = rise_on + d_r * rng.uniform(0.7, 1.1)
        g += add(-1, p["drop"], over_on, max(span - over_on, 0.2 * span) * rng.uniform(0.6, 1.0))
    if "bump" in p:  # a small rise before the shift: not a phase, and its hump is neutral ground
        height, peak = p["bump"]
        g += bump(t - t0, height, peak * span)
        neutral.append((t0, t0 + 2 * peak * span))
    return _events(variant, t, g, neutral, t0)


def _events(variant, t, g, neutral, t0) -> Trajectory:
    """Read the events off the clean trajectory; the phase labels follow the variant."""
    cps: list[float] = []
    if variant in ("full", "no_overfit"):
        worst = int(np.argmin(g))
        cps.append(float(t[worst]))
        phases = ["shift", "readapt"]
        if variant == "full":
            cps.append(float(t[worst + int(np.argmax(g[worst:]))]))
            phases.append("overfit")
    elif variant == "no_shift":
        cps.append(float(t[int(np.argmax(g))]))
        phases = ["improve", "overfit"]
    elif variant == "rise_only":
        phases = ["improve"]
    else:
        phases = ["plateau"]
    if t0 > 0 and variant != "flat":
        phases = ["plateau", *phases]
    inside = [(a, b) for a, b in neutral if b > t[0] and a < t[-1]]
    return Trajectory(t, g, cps, phases, inside)
