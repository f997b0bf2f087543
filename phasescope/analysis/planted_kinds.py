"""Planted curves closer to real training logs, for the online detector's tests and benchmark.

``synthetic.planted_curve`` gives sharp-cornered piecewise-linear shapes with Gaussian noise. Real
logs also have: rounded turns (a learning-rate schedule eases the slope change), the binomial noise
of an accuracy measured on a few hundred problems, irregular evaluation times, and losses where
lower is better. ``planted_kind`` draws one curve of a variant with one of these departures; the
true changepoints stay at the planted knots (an eased turn is centred on its knot).
"""

from __future__ import annotations

import numpy as np

from phasescope.analysis.synthetic import PlantedCurve, planted_curve, step_grid

KINDS = ("linear", "eased", "binomial", "uneven", "lower")


def _params(variant: str, rng: np.random.Generator) -> dict:
    """Shape parameters from the ranges ``synthetic.random_planted`` uses."""
    depth = rng.uniform(0.08, 0.25)
    shift_frac, readapt_frac = rng.uniform(0.06, 0.2), rng.uniform(0.25, 0.45)
    if variant == "no_shift":
        shift_frac, readapt_frac = 0.0, rng.uniform(0.3, 0.6)
    plateau = rng.choice([0.0, rng.uniform(0.3, 0.5)]) if variant in ("no_overfit", "rise_only") else 0.0
    return {
        "initial": rng.uniform(0.2, 0.45),
        "depth": depth,
        "shift_frac": shift_frac,
        "readapt_frac": readapt_frac,
        "gain": depth * rng.uniform(1.2, 2.0),
        "drop": depth * rng.uniform(0.7, 1.2),
        "plateau_frac": float(plateau),
    }


def _uneven_steps(n: int, span: float, rng: np.random.Generator) -> np.ndarray:
    """Evaluation times with heavy-tailed gaps (a few long pauses among regular ones)."""
    gaps = rng.lognormal(0.0, 1.0, n - 1)
    u = np.concatenate([[0.0], np.cumsum(gaps)])
    return np.unique(np.round(u / u[-1] * span))


def _ease(x: np.ndarray, y: np.ndarray, width: float) -> np.ndarray:
    """Moving average of ``width`` steps on an even grid: each corner becomes a smooth turn."""
    k = max(1, int(round(width / (x[1] - x[0]))))
    padded = np.pad(y, k, mode="edge")
    return np.convolve(padded, np.ones(2 * k + 1) / (2 * k + 1), mode="same")[k:-k]


def planted_kind(
    variant: str, kind: str, rng: np.random.Generator, n_points: int | None = None, noise_frac: float = 1 / 3
) -> tuple[PlantedCurve, str]:
    """One random curve of ``variant`` with departure ``kind``; returns (curve, direction).

    ``noise_frac`` bounds the Gaussian noise as a fraction of the dip depth (drawn uniformly below
    it); binomial curves instead draw the number of problems from 300 to 1000.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    p = _params(variant, rng)
    n = int(n_points or rng.integers(100, 501))  # the range of synthetic.random_planted
    span = float(rng.choice([500, 1000, 3000, 20000]))
    fine = planted_curve(variant, n_points=2001, span=span, noise=0.0, rng=rng, **p)
    shape = fine.clean
    if kind == "eased":
        shape = _ease(fine.steps, shape, rng.uniform(0.02, 0.06) * span)
    if kind == "uneven":
        steps = _uneven_steps(n, span, rng)
    else:
        steps = step_grid(n, span, str(rng.choice(["even", "random", "front"])), rng)
    clean = np.interp(steps, fine.steps, shape)
    if kind == "binomial":
        problems = int(rng.integers(300, 1001))
        prob = np.clip(clean, 0.01, 0.99)
        values = rng.binomial(problems, prob) / problems
        noise = float(np.sqrt(np.mean(prob * (1 - prob)) / problems))
    else:
        noise = p["depth"] * rng.uniform(0.0, noise_frac)
        values = clean + rng.normal(0.0, noise, len(steps))
    direction = "higher"
    if kind == "lower":  # a loss: the same shape upside down, at a loss-like level
        clean, values, direction = 1.5 - clean, 1.5 - values, "lower"
    curve = PlantedCurve(steps, values, clean, fine.changepoints, fine.phases, variant, noise)
    return curve, direction
