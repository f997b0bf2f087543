"""The report's ranking at matched budget: a table of the arms ordered by value at 25/50/75/100% of
the matched budget and at each arm's own end, and a figure of each arm's metric against the budget
axis with the four fractions marked. Renders what ``analysis.compare`` put in the comparison
(``budget_axis``, ``matched_budget``, each arm's ``at_fraction``, ``end_budget`` and ``flag``); the
only computing here is the figure's mean curve, for which each replicate's curve is interpolated
linearly onto the budgets all replicates of the arm span (replicates of a two-stage arm switch, and
so reach a budget, at different steps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from phasescope.analysis.budget_axis import AXES, FRACTIONS, RISING_TEXT, budget_of
from phasescope.analysis.curves import curves_for
from phasescope.analysis.ranking import ranking
from phasescope.analysis.tables import Cell, Table, text_cell
from phasescope.arms import ordered
from phasescope.errors import UsageError
from phasescope.report import plots

AXIS_CHOICES = tuple(a.split("/", 1)[1] for a in AXES) + ("step",)
"""``--budget-axis`` values: a budget column's short name (``updates`` for ``budget/updates``) or step."""


def axis_name(axis: str | None) -> str | None:
    """The budget column of a ``--budget-axis`` value: ``updates`` and ``budget/updates`` both give
    ``budget/updates``; ``step`` stays; None stays None (the analysis default). A one-line
    ``UsageError`` for anything else."""
    if axis is None:
        return None
    short = axis.strip().removeprefix("budget/")
    if short not in AXIS_CHOICES:
        raise UsageError(f"--budget-axis must be one of {', '.join(AXIS_CHOICES)}, not {axis!r}")
    return short if short == "step" else f"budget/{short}"


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}"


def matched_table(result: dict) -> Table | None:
    """Rows: 25/50/75/100% of the matched budget and each arm's own end; in each row the arms best
    first, a cell ``arm value``; an arm flagged still rising carries the flag in its own-end cell.
    None when the comparison has no matched budget (written before budgets existed)."""
    if "matched_budget" not in result:
        return None
    axis, budget, arms = result["budget_axis"], result["matched_budget"], result["arms"]
    sign = -1 if result["direction"] == "higher" else 1
    t = Table(
        "matched",
        f"Ranking at matched budget: {axis} = {_fmt(budget)}, the largest every arm reached (best first)",
        ["at", axis] + [f"#{i + 1}" for i in range(len(arms))],
    )
    for f in FRACTIONS:
        key = f"{f:g}"
        have = [a for a in arms if (arms[a].get("at_fraction") or {}).get(key) is not None]
        order = sorted(have, key=lambda a: sign * arms[a]["at_fraction"][key])
        cells = [text_cell(f"{a} {arms[a]['at_fraction'][key]:.3f}") for a in order]
        t.rows.append([text_cell(f"{f:.0%}"), Cell(f * budget, _fmt(f * budget)), *_pad(cells, len(arms))])
    cells = []
    for a in ranking(result):
        final, ends = arms[a]["final"]["mean"], arms[a].get("end_budget") or []
        text = f"{a} {final:.3f}" if final is not None else a
        text += f" at {_fmt(float(np.mean(ends)))}" if ends else ""
        cells.append(text_cell(text + (" (still rising)" if arms[a].get("still_rising") else "")))
    t.rows.append([text_cell("each arm's own end"), Cell(None, "own"), *_pad(cells, len(arms))])
    return t


def _pad(cells: list[Cell], n: int) -> list[Cell]:
    return cells + [text_cell(None)] * (n - len(cells))


def matched_notes(result: dict) -> list[str]:
    """The sentences under the table: the axis note (matched on step for lack of budgets) and one
    ``arm: still rising: its rank is budget-limited`` per flagged arm."""
    out = [f"note: {result['budget_note']}"] if result.get("budget_note") else []
    return out + [
        f"{a}: {RISING_TEXT}" for a in result.get("arms", {}) if result["arms"][a].get("still_rising")
    ]


def _arm_curve(frame: pd.DataFrame, c, axis: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(budget grid, replicates x grid values): each replicate interpolated onto the budgets that
    every replicate of the arm covers."""
    worlds = c.worlds or [0] * len(c.seeds)
    pairs = [
        (budget_of(frame, c.run, s, x, axis, w), np.asarray(y, float))
        for s, w, (x, y) in zip(c.seeds, worlds, c.seed_curves(), strict=True)
    ]
    lo, hi = max(b[0] for b, _ in pairs), min(b[-1] for b, _ in pairs)
    grid = np.unique(np.concatenate([b[(b >= lo) & (b <= hi)] for b, _ in pairs]))
    if len(grid) < 2:
        return None
    return grid, np.vstack([np.interp(grid, b, y) for b, y in pairs])


def fig_matched(frame: pd.DataFrame, result: dict) -> Figure | None:
    """Each arm's metric against the comparison's budget axis (mean over replicates, ±1 sd band),
    dotted vertical lines at 25/50/75/100% of the matched budget."""
    if "matched_budget" not in result:
        return None
    axis, budget, metric = result["budget_axis"], result["matched_budget"], result["metric"]
    curves = {c.run: c for c in curves_for(frame, metric)[0]}
    data = {a: d for a in ordered(curves) if (d := _arm_curve(frame, curves[a], axis)) is not None}
    if not data:
        return None
    styles = plots.arm_styles(data)
    with plots.print_style():
        fig, ax = plots.plt.subplots(figsize=(7.4, 3.8))
        for a, (x, v) in data.items():
            m = v.mean(axis=0)
            ax.plot(x, m, color=styles[a]["color"], ls=styles[a]["ls"], label=styles[a]["label"])
            if v.shape[0] > 1:
                s = v.std(axis=0, ddof=1)
                ax.fill_between(x, m - s, m + s, color=styles[a]["color"], alpha=0.18, lw=0)
        for f in FRACTIONS:
            ax.axvline(f * budget, color="0.35", ls=":", lw=1)
            ax.annotate(f"{f:.0%}", (f * budget, 1), xycoords=("data", "axes fraction"), ha="center",
                        va="bottom", fontsize=7, color="0.35")  # fmt: skip
        ax.set_xlabel(axis if axis != "step" else "training step (no budget columns logged)")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} against {axis}: mean ± 1 sd over replicates; matched budget {_fmt(budget)}",
                     pad=14)  # fmt: skip
        plots._side_legend(fig, ax)
    return fig
