"""Planted learning curves with known changepoints and phases, for tests and benchmarks.

A curve is piecewise linear in the step (the shape the segmenter assumes), optionally *eased* (each
corner rounded by a Gaussian of width ``ease``, so the curve bends gradually as real curves do),
plus Gaussian noise or the binomial noise of an eval set of ``eval_n`` problems, on evenly, randomly,
front-loaded or dense-then-sparse step grids, optionally after a long flat start. Variants:

- ``full``: shift -> readapt -> overfit (the SFT-on-divergent-data shape)
- ``no_overfit``: shift -> readapt, optionally followed by a plateau
- ``no_shift``: rise -> overfit
- ``rise_only``: rise, optionally followed by a plateau
- ``flat``: plateau (no phase at all)

``planted_curve`` builds one curve from explicit parameters; ``random_planted`` draws the
parameters from the ranges the benchmark uses (noise up to a third of the dip's depth);
``family_curve`` draws one curve of a benchmark family (``FAMILIES``), higher- or lower-is-better.

The true changepoints are the events the phases name: the shift ends at the clean curve's worst
point and overfit starts at its best point (on an eased curve these move off the planted corner
towards the gentler side); other boundaries (the end of a flat start, the start of a final
plateau) are the planted corners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

VARIANTS = ("full", "no_overfit", "no_shift", "rise_only", "flat")
FAMILIES = ("linear", "eased", "binomial", "dense_sparse", "flat_start", "realistic", "no_phase")
"""Benchmark families: ``linear`` the exact model with Gaussian noise; ``eased`` rounded corners;
``binomial`` accuracy measured on 300-1,000 problems; ``dense_sparse`` half the evaluations in the
first tenth of the run; ``flat_start`` a plateau of 20-40% of the run before anything happens;
``realistic`` all of these at once; ``no_phase`` a flat curve (Gaussian or binomial noise)."""


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
    elif spacing == "dense_sparse":  # half the evaluations in the first tenth (eval_early_every)
        half = n_points // 2
        u = np.concatenate([np.linspace(0, 0.1, half, endpoint=False), np.linspace(0.1, 1, n_points - half)])
    else:
        raise ValueError(f"unknown spacing {spacing!r}")
    steps = np.unique(np.round(u * span))
    return steps


def _shape(variant, span, initial, depth, shift_frac, readapt_frac, gain, drop, plateau_frac):
    """Corners (step, value) of the clean curve, the planted changepoints and the phase labels."""
    t_valley = shift_frac * span
    t_peak = (shift_frac + readapt_frac) * span
    if variant == "full":
        knots = [(0, initial), (t_valley, initial - depth), (t_peak, initial + gain)]
        return [*knots, (span, initial + gain - drop)], [t_valley, t_peak], ["shift", "readapt", "overfit"]
    if variant == "no_shift":
        knots = [(0, initial), (t_peak, initial + gain), (span, initial + gain - drop)]
        return knots, [t_peak], ["improve", "overfit"]
    if variant in ("no_overfit", "rise_only"):
        t_end = span * (1 - plateau_frac)
        head = [(0, initial), (t_valley, initial - depth)] if variant == "no_overfit" else [(0, initial)]
        cps, phases = ([t_valley], ["shift", "readapt"]) if variant == "no_overfit" else ([], ["improve"])
        knots = [*head, (t_end, initial + gain)]
        if plateau_frac > 0:
            knots.append((span, initial + gain))
            cps, phases = [*cps, t_end], [*phases, "plateau"]
        return knots, cps, phases
    if variant == "flat":
        return [(0, initial), (span, initial)], [], ["plateau"]
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


def eased(x: np.ndarray, corners, ease: float) -> np.ndarray:
    """The piecewise-linear curve through ``corners``, each inner corner rounded by a Gaussian of
    standard deviation ``ease`` (steps): the exact convolution, as a sum of smoothed hinges."""
    kx, ky = (np.asarray(v, float) for v in zip(*corners, strict=True))
    slopes = np.diff(ky) / np.diff(kx)
    out = ky[0] + slopes[0] * (x - kx[0])
    for k, dslope in zip(kx[1:-1], np.diff(slopes), strict=True):
        if ease <= 0:
            out = out + dslope * np.maximum(x - k, 0.0)
        else:
            z = (x - k) / ease
            out = out + dslope * ease * (z * ndtr(z) + np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))
    return out


def _event_steps(corners, cps, phases, span, ease):
    """Move the shift's end to the clean curve's worst point and overfit's start to its best point."""
    if ease <= 0:
        return cps
    grid = np.linspace(0, span, 20001)
    clean = eased(grid, corners, ease)
    out = list(cps)
    for i, c in enumerate(cps):
        before, after = phases[i], phases[i + 1]
        near = np.abs(grid - c) <= 4 * ease
        if before == "shift" and after == "readapt":
            out[i] = float(grid[near][np.argmin(clean[near])])
        elif after == "overfit":
            out[i] = float(grid[near][np.argmax(clean[near])])
    return out


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
    flat_start: float = 0.0,
    ease: float = 0.0,
    noise: float = 0.03,
    eval_n: int | None = None,
    n_seeds: int = 1,
    lower_is_better: bool = False,
    rng: np.random.Generator | int | None = None,
) -> PlantedCurve:
    """One planted curve. Fractions are of the step span; ``gain`` is how far readapt (or rise)
    climbs above the initial level, ``drop`` how far overfit falls from the peak, ``plateau_frac``
    the length of a final plateau (``no_overfit``, ``rise_only``), ``flat_start`` that of a plateau
    before the shape (which then fills the rest of the span), ``ease`` the corners' rounding width
    as a fraction of the span. With ``eval_n`` the values are accuracies on ``eval_n`` problems
    (binomial; ``noise`` is ignored); a lower-is-better copy is the error rate 1 - accuracy."""
    rng = np.random.default_rng(rng)
    steps = step_grid(n_points, span, spacing, rng)
    t0 = flat_start * span
    corners, cps, phases = _shape(
        variant, span - t0, initial, depth, shift_frac, readapt_frac, gain, drop, plateau_frac
    )
    corners = [(x + t0, y) for x, y in corners]
    cps = [c + t0 for c in cps]
    if t0 > 0:
        corners = [(0.0, initial), *corners]
        cps, phases = ([t0, *cps], ["plateau", *phases]) if variant != "flat" else (cps, phases)
    clean = eased(steps, corners, ease * span)
    cps = _event_steps(corners, cps, phases, span, ease * span)
    shape = (n_seeds, len(steps)) if n_seeds > 1 else (len(steps),)
    if eval_n:
        clean = np.clip(clean, 0.01, 0.99)
        values = rng.binomial(eval_n, np.broadcast_to(clean, shape)) / eval_n
        noise = float(np.sqrt(np.mean(clean * (1 - clean)) / eval_n))
        if lower_is_better:
            clean, values = 1 - clean, 1 - values
    else:
        if lower_is_better:
            clean = 2 * initial - clean
        values = clean + rng.normal(0.0, noise, size=shape)
    return PlantedCurve(steps, values, clean, [float(c) for c in cps], phases, variant, noise)


def random_planted(
    variant: str, rng: np.random.Generator, n_points: int | None = None, **overrides
) -> PlantedCurve:
    """A curve of ``variant`` with parameters drawn from the benchmark's ranges; ``overrides`` are
    passed to ``planted_curve`` as they are (e.g. ``ease``, ``eval_n``, ``spacing``)."""
    depth = rng.uniform(0.08, 0.25)
    shift_frac = rng.uniform(0.06, 0.2)
    readapt_frac = rng.uniform(0.25, 0.45)
    if variant in ("no_shift",):
        readapt_frac = rng.uniform(0.3, 0.6)
        shift_frac = 0.0
    plateau_frac = rng.choice([0.0, rng.uniform(0.3, 0.5)]) if variant in ("no_overfit", "rise_only") else 0.0
    params = dict(
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
    return planted_curve(variant, **{**params, **overrides})


def family_curve(family: str, rng: np.random.Generator, lower_is_better: bool = False) -> PlantedCurve:
    """One curve of a benchmark family (see ``FAMILIES``); the variant is drawn uniformly from the
    phase-bearing ones, except for ``no_phase``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    variant = "flat" if family == "no_phase" else str(rng.choice(VARIANTS[:-1]))
    kw: dict = {"lower_is_better": lower_is_better}
    if family in ("eased", "realistic"):
        # Rounded over 1-3% of the run (sd), i.e. a bend visible over 4-12% of it.
        kw["ease"] = rng.uniform(0.01, 0.03)
    if family in ("binomial", "realistic") or (family == "no_phase" and rng.random() < 0.5):
        kw["eval_n"] = int(rng.integers(300, 1001))
    if family in ("dense_sparse", "realistic"):
        kw["spacing"] = "dense_sparse"
    if family in ("flat_start", "realistic") and variant != "flat":
        kw["flat_start"] = rng.uniform(0.2, 0.4) if family == "flat_start" else rng.choice([0.0, 0.25])
    return random_planted(variant, rng, **kw)


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
