"""Replicates: the units an experiment repeats each arm over, and that arms are paired on.

A replicate is (world draw, seed). Arms of one experiment share a seed's prompt order and a world's
base model and eval set, so arm A's seed 1 of world 0 is compared with arm B's seed 1 of world 0.
The world draw comes from the tidy frame's ``world`` column (an int; 0 when the column is absent:
one world, as every run before world draws existed). ``replicate_key`` is the one place that reads it.

Per replicate and arm, the points a comparison reads off a curve: ``final`` (the last evaluation),
``best`` (the peak in the good direction) and ``at_matched`` (the last evaluation at or before the
matched budget, ``budget_axis``), each as an index into that replicate's own steps, so the
per-problem results of exactly that evaluation can be looked up (``paired``). ``world_spread``
summarises how far each arm's mean moves between world draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from phasescope.analysis.budget_axis import budget_of

WORLD = "world"
QUANTITIES = ("final", "best", "at_matched")


def replicate_key(frame: pd.DataFrame) -> pd.Series:
    """(world, seed) of every row: world from the ``world`` column (0 where absent or empty), seed
    as an int (None for a log without seeds)."""
    world = world_of(frame).tolist()
    seed = [None if pd.isna(s) else int(s) for s in frame["seed"]]
    return pd.Series(list(zip(world, seed, strict=True)), index=frame.index, dtype=object)


def world_of(frame: pd.DataFrame) -> pd.Series:
    """The world draw of every row (0 where the ``world`` column is absent or empty)."""
    if WORLD not in frame.columns:
        return pd.Series(0, index=frame.index, dtype=int)
    return pd.to_numeric(frame[WORLD], errors="coerce").fillna(0).astype(int)


def key_text(key: tuple) -> str:
    """A replicate's name in notes: ``seed 1``, or ``world 2 seed 1`` beyond world 0."""
    world, seed = key
    s = "no seed" if seed is None else f"seed {seed}"
    return s if world == 0 else f"world {world} {s}"


@dataclass
class Replicate:
    """One (arm, replicate) curve of a metric, and where each quantity is read on it."""

    run: str
    key: tuple
    source: str
    steps: np.ndarray
    values: np.ndarray
    picks: dict = field(default_factory=dict)
    """quantity -> index into ``steps`` (None: no evaluation at or before the matched budget)."""

    def value(self, quantity: str) -> float | None:
        i = self.picks.get(quantity)
        return None if i is None else float(self.values[i])


def replicate_points(
    frame: pd.DataFrame, metric: str, direction: str, axis: str, matched_budget: float | None
) -> dict[str, list[Replicate]]:
    """run -> its replicates of ``metric`` (ordered by key), each with its quantities' indices.
    Works on the frame's columns as arrays: slicing a frame per group copies its attrs each time."""
    mask = (frame["metric"] == metric).to_numpy()
    worlds = world_of(frame)
    run = frame["run"].astype(str).to_numpy()[mask]
    world = worlds.to_numpy()[mask]
    seed = pd.to_numeric(frame["seed"], errors="coerce").to_numpy(float)[mask]
    step, value = frame["step"].to_numpy(float)[mask], frame["value"].to_numpy(float)[mask]
    source = (
        frame["source"].astype(str).to_numpy()[mask] if "source" in frame.columns else np.full(len(run), "")
    )
    seed_key = np.where(np.isnan(seed), -np.inf, seed)
    order = np.lexsort((step, seed_key, world, run))
    run, world, seed, seed_key = run[order], world[order], seed[order], seed_key[order]
    step, value, source = step[order], value[order], source[order]
    change = (run[1:] != run[:-1]) | (world[1:] != world[:-1]) | (seed_key[1:] != seed_key[:-1])
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), len(run)]
    out: dict[str, list[Replicate]] = {}
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi <= lo:
            continue
        key = (int(world[lo]), None if np.isnan(seed[lo]) else int(seed[lo]))
        steps, values = step[lo:hi], value[lo:hi]
        good = values if direction == "higher" else -values
        picks = {"final": len(values) - 1, "best": int(np.argmax(good)), "at_matched": None}
        if matched_budget is not None:
            rows = frame if axis == "step" or WORLD not in frame.columns else frame[worlds == key[0]]
            budget = budget_of(rows, run[lo], key[1], steps, axis, key[0])
            idx = np.flatnonzero(budget <= matched_budget + 1e-9)
            picks["at_matched"] = int(idx[-1]) if len(idx) else None
        out.setdefault(str(run[lo]), []).append(
            Replicate(str(run[lo]), key, str(source[hi - 1]), steps, values, picks)
        )
    return out


def world_spread(reps: dict[str, list[Replicate]]) -> dict | None:
    """With more than one world draw: per arm and quantity, the mean over each world's seeds, and
    the sample sd and range of those world means (how much the finding moves with the world). None
    with one world."""
    worlds = sorted({r.key[0] for rs in reps.values() for r in rs})
    if len(worlds) < 2:
        return None
    arms = {}
    for run, rs in reps.items():
        entry = {}
        for q in QUANTITIES:
            by = {}
            for w in worlds:
                vals = [r.value(q) for r in rs if r.key[0] == w and r.value(q) is not None]
                if vals:
                    by[str(w)] = float(np.mean(vals))
            means = np.array(list(by.values()))
            entry[q] = {
                "by_world": by,
                "sd": float(means.std(ddof=1)) if len(means) > 1 else None,
                "range": [float(means.min()), float(means.max())] if len(means) else None,
            }
        arms[run] = entry
    return {"n": len(worlds), "worlds": worlds, "arms": arms}
