"""From a tidy frame of logged metrics to the curves the segmenter reads.

Picks a metric (by exact name, else by a unique loose match so ``eval/accuracy`` finds
``eval_accuracy``) and gathers the seeds of each run onto one step grid so they can be averaged and
bootstrapped. Which way a name is better is ``runlog.names.infer_direction`` (re-exported here).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from phasescope.errors import UsageError
from phasescope.runlog.names import infer_direction, metric_aliases  # noqa: F401 (infer_direction: re-export)
from phasescope.runlog.records import metric_table  # noqa: F401 (re-export)


def _loose(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def resolve_metric(frame: pd.DataFrame, metric: str) -> str:
    """The metric name in ``frame`` that ``metric`` means; UsageError listing the choices if none."""
    names = list(pd.unique(frame["metric"]))
    if metric in names:
        return metric
    aliased = [a for a in metric_aliases(metric) if a in names]  # TRL's name for ours, or ours for TRL's
    if aliased:
        return aliased[0]
    loose = [n for n in names if _loose(n) == _loose(metric)]
    if len(loose) == 1:
        return loose[0]
    tail = [n for n in names if _loose(n).endswith(_loose(metric))]
    if len(tail) == 1:
        return tail[0]
    for name, n in frame.attrs.get("all_nonfinite", {}).items():
        if _loose(name) == _loose(metric):
            raise UsageError(
                f"metric {name!r} has no finite values: all {n} logged values are NaN, inf or not numbers; "
                "pick another metric (omit --metric to list them)"
            )
    shown = ", ".join(sorted(names)[:25]) + (" ..." if len(names) > 25 else "")
    hint = f" (matches: {', '.join(tail)})" if len(tail) > 1 else ""
    raise UsageError(f"metric {metric!r} not found{hint}; available: {shown}")


@dataclass
class Curve:
    """One run's curve of one metric: seeds share ``steps``; ``values`` is (seeds x steps).

    ``raw`` keeps each seed's own (steps, values) as logged: the shared grid stops where the
    shortest seed stops (a two-stage arm's seeds switch, and so end, at different steps), so a seed's
    final or best value is read from ``raw``, never from the grid."""

    run: str
    metric: str
    source: str
    steps: np.ndarray
    values: np.ndarray
    seeds: list = field(default_factory=list)
    raw: list = field(default_factory=list)
    worlds: list = field(default_factory=list)
    """The world draw of each row of ``values`` (parallel to ``seeds``; empty: all draw 0). A replicate
    is (world, seed): seed k of two world draws is two curves."""

    def seed_curves(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each seed's (steps, values) as logged (the shared grid when ``raw`` is not known)."""
        return self.raw or [(self.steps, v) for v in self.values]

    @property
    def mean(self) -> np.ndarray:
        return self.values.mean(axis=0)


def curves_for(frame: pd.DataFrame, metric: str) -> tuple[list[Curve], list[str]]:
    """The curves of ``metric`` (already resolved), one per run; notes on seed alignment."""
    sub = frame[frame["metric"] == metric]
    curves, notes = [], []
    for run, g in sub.groupby("run", sort=True):
        world = g["world"] if "world" in g else pd.Series(0, index=g.index)
        pairs = list(dict.fromkeys(zip(world.astype(int), g["seed"].astype(object))))
        pairs = [(w, None if pd.isna(s) else int(s)) for w, s in pairs]
        worlds, seeds = [w for w, _ in pairs], [s for _, s in pairs]
        per_seed = []
        for w, s in pairs:
            gs = g[(world == w) & (g["seed"].isna() if s is None else g["seed"] == s)]
            per_seed.append((gs["step"].to_numpy(float), gs["value"].to_numpy(float)))
        steps, values, note = _align(per_seed)
        if note:
            notes.append(f"{run}: {note}")
        sources = sorted(pd.unique(g["source"]))
        # Several seeds: name the directory that holds them all (the arm's directory).
        source = sources[0] if len(sources) == 1 else os.path.dirname(os.path.commonpath(sources) + os.sep)
        curves.append(Curve(str(run), metric, source, steps, values, seeds, per_seed, worlds))
    if not curves:
        raise UsageError(
            f"metric {metric!r} has no finite values; pick another metric (omit --metric to list them)"
        )
    return curves, notes


def _align(per_seed: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, str]:
    if len(per_seed) == 1:
        x, y = per_seed[0]
        return x, y[None, :], ""
    common = per_seed[0][0]
    for x, _ in per_seed[1:]:
        common = np.intersect1d(common, x)
    typical = np.median([len(x) for x, _ in per_seed])
    if len(common) >= 0.8 * typical:
        values = np.vstack([y[np.isin(x, common)] for x, y in per_seed])
        dropped = int(sum(len(x) for x, _ in per_seed) - values.size)
        return (
            common,
            values,
            (f"kept the {len(common)} steps all seeds logged ({dropped} dropped)" if dropped else ""),
        )
    # Seeds logged at different steps: interpolate onto the union grid where all seeds overlap.
    lo = max(x[0] for x, _ in per_seed)
    hi = min(x[-1] for x, _ in per_seed)
    grid = np.unique(np.concatenate([x for x, _ in per_seed]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    values = np.vstack([np.interp(grid, x, y) for x, y in per_seed])
    return grid, values, f"seeds were logged at different steps; interpolated onto {len(grid)} shared steps"
