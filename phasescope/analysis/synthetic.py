"""Planted learning curves with known changepoints and phases, for tests and benchmarks.

A curve is piecewise linear in the step (the shape the segmenter assumes) plus Gaussian noise,
on evenly, randomly or front-loaded step grids. Variants:

- ``full``: shift -> readapt -> overfit (the SFT-on-divergent-data shape)
- ``no_overfit``: shift -> readapt, optionally followed by a plateau
- ``no_shift``: rise -> overfit
- ``rise_only``: rise, optionally followed by a plateau
- ``flat``: plateau

``planted_curve`` builds one curve from explicit parameters; ``random_planted`` draws the
parameters from the ranges the benchmark uses (noise up to a third of the dip's depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANTS = ("full", "no_overfit", "no_shift", "rise_only", "flat")


@dataclass
class PlantedCurve:
    steps: np.ndarray
    values: np.ndarray  # noisy; 2-D (seeds x steps) when n_seeds > 1
    clean: np.ndarray
    changepoints: list[float]  # true phase boundaries, in steps
    phases: list[str]  # true phase labels, in order
    variant: str
    noise: float


def step_grid(n_points: int, span: float, spacing: str, rng: np.random.Generator) -> np.ndarray:
    """``n_points`` distinct integer-valued steps from 0 to ``span``."""
    if spacing == "even":
        u = np.linspace(0, 1, n_points)
    elif spacing == "random":
        u = np.sort(np.concatenate([[0.0, 1.0], rng.uniform(0, 1, n_points - 2)]))
    elif spacing == "front":  # dense early evaluation, sparse later, as many trainers log
        u = np.linspace(0, 1, n_points) ** 1.6
    else:
        raise ValueError(f"unknown spacing {spacing!r}")
    steps = np.unique(np.round(u * span))
    return steps


def planted_curve(
    variant: str = "full",
    *,
    n_points: int = 200,
    span: float = 1000.0,
    spacing: str = "even",
    initial: float = 0.5,
    depth: float = 0.15,
    shift_frac: float = 0.1,
    readapt_frac: float = 0.4,
    gain: float = 0.25,
    drop: float = 0.12,
    plateau_frac: float = 0.0,
    noise: float = 0.03,
    n_seeds: int = 1,
    lower_is_better: bool = False,
    rng: np.random.Generator | int | None = None,
) -> PlantedCurve:
    """One planted curve. Fractions are of the step span; ``gain`` is how far readapt (or rise)
    climbs above the initial level, ``drop`` how far overfit falls from the peak, and
    ``plateau_frac`` the length of a final plateau (``no_overfit``, ``rise_only``)."""
    rng = np.random.default_rng(rng)
    steps = step_grid(n_points, span, spacing, rng)
    t_valley = shift_frac * span
    t_peak = (shift_frac + readapt_frac) * span
    if variant == "full":
        knots = [
            (0, initial),
            (t_valley, initial - depth),
            (t_peak, initial + gain),
            (span, initial + gain - drop),
        ]
        cps, phases = [t_valley, t_peak], ["shift", "readapt", "overfit"]
    elif variant == "no_overfit":
        t_end = span * (1 - plateau_frac)
        knots = [(0, initial), (t_valley, initial - depth), (t_end, initial + gain)]
        cps, phases = [t_valley], ["shift", "readapt"]
        if plateau_frac > 0:
            knots.append((span, initial + gain))
            cps, phases = [t_valley, t_end], ["shift", "readapt", "plateau"]
    elif variant == "no_shift":
        knots = [(0, initial), (t_peak, initial + gain), (span, initial + gain - drop)]
        cps, phases = [t_peak], ["rise", "overfit"]
    elif variant == "rise_only":
        t_end = span * (1 - plateau_frac)
        knots = [(0, initial), (t_end, initial + gain)]
        cps, phases = [], ["rise"]
        if plateau_frac > 0:
            knots.append((span, initial + gain))
            cps, phases = [t_end], ["rise", "plateau"]
    elif variant == "flat":
        knots = [(0, initial), (span, initial)]
        cps, phases = [], ["plateau"]
    else:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    kx, ky = zip(*knots, strict=True)
    clean = np.interp(steps, kx, ky)
    if lower_is_better:
        clean = 2 * initial - clean
    shape = (n_seeds, len(steps)) if n_seeds > 1 else (len(steps),)
    values = clean + rng.normal(0.0, noise, size=shape)
    return PlantedCurve(steps, values, clean, [float(c) for c in cps], phases, variant, noise)


def random_planted(variant: str, rng: np.random.Generator, n_points: int | None = None) -> PlantedCurve:
    """A curve of ``variant`` with parameters drawn from the benchmark's ranges."""
    depth = rng.uniform(0.08, 0.25)
    shift_frac = rng.uniform(0.06, 0.2)
    readapt_frac = rng.uniform(0.25, 0.45)
    if variant in ("no_shift",):
        readapt_frac = rng.uniform(0.3, 0.6)
        shift_frac = 0.0
    plateau_frac = rng.choice([0.0, rng.uniform(0.3, 0.5)]) if variant in ("no_overfit", "rise_only") else 0.0
    return planted_curve(
        variant,
        n_points=int(n_points or rng.integers(100, 501)),
        span=float(rng.choice([500, 1000, 3000, 20000])),
        spacing=str(rng.choice(["even", "random", "front"])),
        initial=rng.uniform(0.2, 0.6),
        depth=depth,
        shift_frac=shift_frac,
        readapt_frac=readapt_frac,
        gain=depth * rng.uniform(1.2, 2.0),
        drop=depth * rng.uniform(0.7, 1.2),
        plateau_frac=plateau_frac,
        noise=depth * rng.uniform(0.0, 1 / 3),
        rng=rng,
    )


def match_changepoints(true: list[float], found: list[float], tolerance: float) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives): each found changepoint may match one
    true changepoint within ``tolerance`` steps, nearest pairs first."""
    pairs = sorted((abs(t - f), i, j) for i, t in enumerate(true) for j, f in enumerate(found))
    used_t, used_f = set(), set()
    for dist, i, j in pairs:
        if dist <= tolerance and i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
    tp = len(used_t)
    return tp, len(found) - tp, len(true) - tp


def f1_score(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; 1.0 when there was nothing to find and nothing was found."""
    denom = 2 * tp + fp + fn
    return 1.0 if denom == 0 else 2 * tp / denom
