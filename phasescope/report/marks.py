"""Reference marks drawn on every curve figure: where a run's stage changes (the SFT → RL switch of
``sft_then_rl``: a vertical line), the base level (the step-0 value, before any update: a horizontal
line) and the binomial noise of a rate measured on a known number of held-out problems (a band,
for single-seed curves, whose seed spread cannot show it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phasescope.analysis.noise import Z95, binomial_se


def stage_switches(frame: pd.DataFrame) -> dict[str, list[tuple[float, str]]]:
    """run -> [(first step of the new stage, "sft → rl")] for every stage change the reader found
    in the ``stage`` column; for logs without one, the first step at which ``train/mu`` leaves 1."""
    out = {}
    for run, st in (frame.attrs.get("stages") or {}).items():
        if len(st) > 1:
            out[run] = [(step, f"{a} → {b}") for (_, a), (step, b) in zip(st, st[1:], strict=False)]
    if frame.empty:
        return out
    mu = frame[frame["metric"] == "train/mu"]
    for run, g in mu.groupby("run"):
        if run in out:
            continue
        v = g.sort_values("step")
        vals, steps = v["value"].to_numpy(float), v["step"].to_numpy(float)
        if len(vals) and vals[0] >= 1:
            idx = np.nonzero(vals < 1)[0]
            if len(idx):
                out[str(run)] = [(float(steps[idx[0]]), "sft → rl")]
    return out


def draw_switches(ax, switches: dict, styles: dict | None = None, runs=None, name_run: bool = True) -> None:
    """A dashed vertical line at each stage change of ``runs`` (default: all), labelled along the
    bottom of the axes (the top holds phase names and titles); in the run's colour when ``styles``
    are given."""
    trans = ax.get_xaxis_transform()
    for run in runs if runs is not None else switches:
        for step, label in switches.get(run, []):
            colour = (styles or {}).get(run, {}).get("color", "0.3")
            ax.axvline(step, color=colour, lw=1.1, ls=(0, (4, 2)), zorder=1.5)
            who = (styles or {}).get(run, {}).get("label", run)
            text = f" {label}" + (f" ({who})" if name_run else "")
            ax.text(step, 0.02, text, transform=trans, ha="left", va="bottom", fontsize=7, color=colour,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.75, "pad": 0.6})  # fmt: skip


def draw_base(ax, base: float | None, label: str = "base (step 0)") -> None:
    """A dotted horizontal line at the step-0 value, named at the right end."""
    if base is None or not np.isfinite(base):
        return
    ax.axhline(base, color="0.35", lw=0.9, ls=":", zorder=1.5)
    ax.text(1.0, base, f"{label} ", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
            fontsize=7, color="0.3")  # fmt: skip


def base_level(data: dict) -> float | None:
    """The step-0 value shared by the runs of a figure (mean over runs and seeds of the values
    logged at step 0); None when no run logged step 0."""
    firsts = [float(v[:, 0].mean()) for x, v in data.values() if len(x) and x[0] == 0]
    return float(np.mean(firsts)) if firsts else None


def binomial_band(ax, x, y, n: int | None, colour) -> bool:
    """Shade y ± Z95·√(y(1−y)/n): the 95% eval-set noise of a rate on n problems. False (nothing
    drawn) when n is unknown or y is not a rate."""
    y = np.asarray(y, float)
    if not n or len(y) == 0 or np.nanmin(y) < 0 or np.nanmax(y) > 1:
        return False
    half = Z95 * binomial_se(y, n)
    ax.fill_between(x, y - half, y + half, color=colour, alpha=0.16, lw=0)
    return True
