"""Arms compared at a matched budget: the largest budget (on one axis: ``budget/updates`` by default,
or ``budget/samples``, ``budget/tokens``, ``budget/selection``) that every arm reached, so that an arm
that ran longer is not ranked ahead for having run longer.

- Each evaluation step is mapped to its budget through the rows of the same (run, seed): budget
  columns are logged on every row, so the join is on step. Without budget columns (foreign logs,
  older runs) the axis falls back to ``step``, and the comparison says so.
- ``matched_budget`` = min over arms and seeds of each curve's last budget value. A seed's value
  ``at_matched`` is its last evaluation at or before the matched budget; ``at_fraction`` the same at
  25/50/75/100% of it (means over seeds).
- ``still_rising``: the curve is still improving at its own end when (1) its best value (in the good
  direction) is at one of its last ``max(2, n // 4)`` evaluations, and (2) the least-squares slope
  over the last quarter of the evaluations (at least 3), in the good direction, times that window's
  span exceeds the noise: the eval set's noise (``SEPARABLE_Z`` binomial standard errors) when
  ``eval_n`` is known, else 2 standard errors of the slope. An arm is flagged when most seeds are.

Pure functions on the tidy frame; no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phasescope.analysis.noise import SEPARABLE_Z, binomial_se
from phasescope.errors import UsageError

AXES = ("budget/updates", "budget/samples", "budget/tokens", "budget/selection")
DEFAULT_AXIS = "budget/updates"
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
RISING_TEXT = "still rising: its rank is budget-limited"


def resolve_axis(frame: pd.DataFrame, axis: str | None) -> tuple[str, list[str]]:
    """The budget axis to use, or ``step`` (with a note) when the frame logs none."""
    axis = axis or DEFAULT_AXIS
    if axis not in AXES and axis != "step":
        raise UsageError(f"--budget-axis must be one of {', '.join(AXES)} or step, not {axis!r}")
    if axis == "step":
        return axis, []
    lacking = sorted(set(frame["run"]) - set(frame.loc[frame["metric"] == axis, "run"]), key=str)
    if not lacking:
        return axis, []
    if len(lacking) == frame["run"].nunique():
        return "step", [f"no {axis} column in these logs: arms are matched on step instead"]
    return "step", [
        f"no {axis} column in the logs of {', '.join(map(str, lacking))}: arms are matched on step"
    ]


def budget_of(frame: pd.DataFrame, run, seed, steps, axis: str, world: int = 0) -> np.ndarray:
    """Each of ``steps`` mapped to its budget on ``axis`` through the rows of the same (run, world draw,
    seed)."""
    steps = np.asarray(steps, float)
    if axis == "step":
        return steps
    g = frame[(frame["metric"] == axis) & (frame["run"] == run)]
    g = g[g["seed"].isna()] if seed is None else g[g["seed"] == seed]
    g = g[g["world"] == world] if "world" in g else g
    table = g.drop_duplicates("step", keep="last").set_index("step")["value"]
    found = table.reindex(steps).to_numpy(float)
    if np.isnan(found).any():
        raise UsageError(f"{run} seed {seed}: {axis} is missing on some evaluation steps")
    return found


def value_at(budget, values, target: float) -> float | None:
    """The last value at or before ``target`` on the budget axis (None if none is)."""
    idx = np.flatnonzero(np.asarray(budget, float) <= target + 1e-9)
    return float(np.asarray(values, float)[idx[-1]]) if len(idx) else None


def still_rising(x, y, direction: str, eval_n: int | None = None) -> bool:
    """Whether the curve (x, y) is still improving at its end (the rule in the module docstring)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    good = y if direction == "higher" else -y
    n = len(y)
    if n < 3 or int(np.argmax(good)) < n - max(2, n // 4):
        return False
    k = max(3, n // 4)
    xs, ys = x[-k:], good[-k:]
    if np.ptp(xs) == 0:
        return False
    slope, intercept = np.polyfit(xs, ys, 1)
    rise = slope * np.ptp(xs)
    if eval_n:
        return bool(rise > SEPARABLE_Z * binomial_se(float(y[-1]), eval_n))
    resid = ys - (slope * xs + intercept)
    se = np.sqrt(np.sum(resid**2) / max(k - 2, 1) / np.sum((xs - xs.mean()) ** 2))
    return bool(slope > 2 * se)


def matched_points(frame: pd.DataFrame, curves, direction: str, axis: str, eval_n: int | None) -> dict:
    """Per run: each seed's budget curve, value at the matched budget and fractions, rising flags;
    and the matched budget itself."""
    budgets = {
        c.run: [
            budget_of(frame, c.run, s, x, axis, w)
            for s, w, (x, _) in zip(c.seeds, c.worlds or [0] * len(c.seeds), c.seed_curves(), strict=True)
        ]
        for c in curves
    }
    matched = float(min(b[-1] for bs in budgets.values() for b in bs))
    out = {}
    for c in curves:
        ys = [y for _, y in c.seed_curves()]
        bs = budgets[c.run]
        rising = [still_rising(b, y, direction, eval_n) for b, y in zip(bs, ys, strict=True)]
        out[c.run] = {
            "at_matched": [value_at(b, y, matched) for b, y in zip(bs, ys, strict=True)],
            "at_fraction": {
                f"{f:g}": _mean([value_at(b, y, f * matched) for b, y in zip(bs, ys, strict=True)])
                for f in FRACTIONS
            },
            "end_budget": [float(b[-1]) for b in bs],
            "still_rising": 2 * sum(rising) > len(rising),
            "rising_seeds": int(sum(rising)),
        }
    return {"matched_budget": matched, "arms": out}


def _mean(values) -> float | None:
    x = [v for v in values if v is not None]
    return float(np.mean(x)) if x else None
