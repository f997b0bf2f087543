"""Rows of logged values (dicts, one per logging call) into the tidy long frame every reader returns:
run, seed, world, step, metric, value, source (world: the world draw, 0 for draw 0 and every
foreign log). Shared by the file importers and the W&B reader.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from phasescope.errors import UsageError
from phasescope.runlog.jsonio import as_float, as_step

COLUMNS = ["run", "seed", "world", "step", "metric", "value", "source"]

STEP_COLUMNS = (
    "step",
    "global_step",
    "_step",
    "Step",
    "trainer/global_step",
    "current_steps",
    "train/global_step",
    "total_timesteps",
    "total timesteps",
    "time/total_timesteps",
    "timesteps",
)
"""Step-column names tried in order (exact, then case-insensitive)."""

# Columns that describe the logging itself, not the model; never offered as metrics.
_BOOKKEEPING = {"epoch", "stage", "total_steps", "percentage", "elapsed_time", "remaining_time", "_runtime"}
_BOOKKEEPING_SUFFIX = ("_runtime", "_per_second", "total_flos", "_timestamp")


def step_column(columns, step_col: str | None, where: str) -> str:
    cols = list(columns)
    if step_col is not None:
        if step_col in cols:
            return step_col
        raise UsageError(f"--step-col {step_col!r} is not a column of {where}; columns: {listing(cols)}")
    for name in STEP_COLUMNS:
        if name in cols:
            return name
    lower = {c.lower(): c for c in cols if isinstance(c, str)}
    for name in STEP_COLUMNS:
        if name.lower() in lower:
            return lower[name.lower()]
    raise UsageError(
        f"no step column in {where} (looked for {', '.join(STEP_COLUMNS[:6])}, ...); "
        f"pass --step-col NAME (columns: {listing(cols)})"
    )


def listing(names, limit: int = 12) -> str:
    names = [str(n) for n in names]
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def is_metric(name: str, step_col: str) -> bool:
    if name == step_col or name in STEP_COLUMNS or name in _BOOKKEEPING:
        return False
    return not name.endswith(_BOOKKEEPING_SUFFIX)


def records_to_long(rows: list[dict], step_col: str | None, run: str, seed, source: str, world: int = 0):
    """Rows (dicts) into the long frame. A cell that is not a number (a string, a list, null) is
    dropped from its metric and counted in a note, for metrics that log numbers elsewhere; a key
    that never holds a number (a stage name, a tag) is no metric and passes silently."""
    keys = Counter(k for r in rows for k in r)
    step_col = step_column(keys, step_col, source)
    steps, metrics, values = [], [], []
    no_step = 0
    odd: Counter = Counter()
    for r in rows:
        s = as_step(r.get(step_col))
        if s is None:
            no_step += 1
            continue
        for k, v in r.items():
            if not isinstance(k, str) or not is_metric(k, step_col):
                continue
            x = as_float(v)
            if x is None:
                odd[k] += 1
                continue
            steps.append(s)
            metrics.append(k)
            values.append(x)
    notes = []
    if no_step:
        notes.append(f"{source}: {no_step} row(s) without a numeric {step_col!r} were skipped")
    logged = set(metrics)
    odd = Counter({k: n for k, n in odd.items() if k in logged})
    if odd:
        what = ", ".join(f"{k} ({n})" for k, n in odd.most_common(6))
        notes.append(f"{source}: dropped {sum(odd.values())} non-numeric cell(s): {what}")
    long = pd.DataFrame({"step": np.asarray(steps, dtype=float), "metric": metrics, "value": values})
    return stamp(long, run, seed, source, world), notes


def stamp(long: pd.DataFrame, run: str, seed, source: str, world: int = 0) -> pd.DataFrame:
    long.insert(0, "world", np.full(len(long), world, dtype=np.int64))
    long.insert(0, "seed", pd.array([seed] * len(long), dtype="Int64"))
    long.insert(0, "run", run)
    long["source"] = source
    return long


def metric_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per metric of a tidy frame: how many runs log it, and the fewest and most points
    per curve."""
    per = (
        frame.groupby(["metric", "run", "world", "seed"], dropna=False).size().rename("points").reset_index()
    )
    out = per.groupby("metric").agg(
        curves=("points", "size"), min_points=("points", "min"), max_points=("points", "max")
    )
    return out.reset_index()
