"""The phase figures of a report: each arm's curve with its phases (one figure per metric) and the
timeline of phases across arms and seeds (one row per arm and seed, one column per metric), which
is the figure to take in at a glance.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from phasescope.analysis.phases import PHASES
from phasescope.arms import ordered
from phasescope.report.marks import binomial_band, draw_base, draw_switches
from phasescope.report.plots import PHASE_COLORS, _ylabel, arm_styles, print_style, series

# Stronger tints than the curve panels' shading: in the timeline the spans are the data.
TIMELINE_COLORS = dict(zip(PHASES, ["#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#BBBBBB"]))


def _draw_segmentation(ax, seg: dict, hi: float, pad: float) -> None:
    """Phase spans shaded and named, changepoints dashed with their 95% CI as a bar along the top."""
    span = (seg["phases"][-1]["end_step"] - seg["phases"][0]["start_step"]) or 1.0
    for ph in seg["phases"]:
        ax.axvspan(ph["start_step"], ph["end_step"], color=PHASE_COLORS[ph["label"]], alpha=0.35, lw=0)
    # Name each run of one label once, and only where it is wide enough to hold the word (the
    # legend names the colours of narrow spans).
    for lab, a, b in _label_runs(seg["phases"]):
        if (b - a) / span >= 0.14:
            ax.text((a + b) / 2, hi + 0.35 * pad, lab, ha="center", va="bottom", fontsize=7)
    for cp, ci in zip(seg["changepoints"], seg["changepoint_ci"], strict=False):
        ax.axvline(cp, color="0.25", lw=0.8, ls="--")
        if ci and ci[0] is not None:
            xerr = [[cp - ci[0]], [ci[1] - cp]]
            ax.errorbar(cp, hi + 0.1 * pad, xerr=xerr, fmt="v", color="0.25", ms=3, capsize=2, lw=1)


def _label_runs(phases: list[dict]) -> list[tuple[str, float, float]]:
    """(label, start, end) of each run of consecutive spans with one label."""
    out: list[tuple[str, float, float]] = []
    for ph in phases:
        if out and out[-1][0] == ph["label"]:
            out[-1] = (ph["label"], out[-1][1], ph["end_step"])
        else:
            out.append((ph["label"], ph["start_step"], ph["end_step"]))
    return out


def _phase_handles(segs) -> list:
    found = {ph["label"] for seg in segs if seg for ph in seg.get("phases", [])}
    return [
        matplotlib.patches.Patch(color=c, alpha=0.6, label=lab) for lab, c in PHASE_COLORS.items() if lab in found
    ]  # fmt: skip


def fig_phases(
    frame: pd.DataFrame, compare: dict, switches: dict | None = None, eval_n: int | None = None
) -> Figure | None:
    """One panel per arm: seeds (thin), mean (thick), phase spans shaded and named, changepoints
    with their 95% CI as a bar along the top, the base level and the arm's stage switches; a
    single seed's curve carries its binomial eval-noise band when the eval-set size is known."""
    metric = compare["metric"]
    data = series(frame, metric)
    if not data:
        return None
    arms = ordered(data)
    styles = arm_styles(arms)
    ncol = min(3, len(arms))
    nrow = int(np.ceil(len(arms) / ncol))
    lo = min(float(np.min(v)) for _, v in data.values())
    hi = max(float(np.max(v)) for _, v in data.values())
    pad = 0.08 * (hi - lo or 1.0)
    segs = [(compare["arms"].get(a) or {}).get("segmentation") for a in arms]
    with print_style():
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(max(6.4, 3.2 * ncol + 0.5), 2.7 * nrow + 0.9), sharey=True, squeeze=False
        )
        for ax in axes.flat[len(arms) :]:
            ax.set_visible(False)
        for ax, a, seg in zip(axes.flat, arms, segs, strict=False):
            x, v = data[a]
            st = styles[a]
            if seg:
                _draw_segmentation(ax, seg, hi, pad)
            for row in v if v.shape[0] > 1 else []:
                ax.plot(x, row, color=st["color"], lw=0.6, alpha=0.45)
            if v.shape[0] == 1:
                binomial_band(ax, x, v[0], eval_n, st["color"])
            ax.plot(x, v.mean(axis=0), color=st["color"], ls=st["ls"], lw=2)
            draw_base(ax, float(v[:, 0].mean()) if x[0] == 0 else None, "base")
            draw_switches(ax, switches or {}, styles, runs=[a], name_run=False)
            ax.set_title(f"{st['label']} ({v.shape[0]} seed{'s' if v.shape[0] > 1 else ''})", pad=14)
            ax.set_ylim(lo - pad, hi + 1.6 * pad)
            ax.set_xlabel("training step")
        for r in range(nrow):
            axes[r, 0].set_ylabel(_ylabel(metric))
        band = (
            "; band: 95% binomial eval-set noise"
            if eval_n and any(v.shape[0] == 1 for _, v in data.values())
            else ""
        )
        what = f"Phases of {metric} ({compare['direction']} is better)"
        fig.suptitle(f"{what}\n▼ with bar: changepoint and its 95% CI{band}", fontsize=9)
        handles = _phase_handles(segs)
        if handles:
            fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
        fig.tight_layout(rect=(0, 0.05 if handles else 0, 1, 1 - 0.45 / (2.7 * nrow + 0.9)))
    return fig


def _timeline_rows(compares: dict) -> list[tuple[str, object]]:
    """(arm, seed) rows in arm display order, every seed that any metric segmented."""
    arms = ordered({a for c in compares.values() for a in c["arms"]})
    rows = []
    for a in arms:
        seeds = []
        for c in compares.values():
            for s in (c["arms"].get(a) or {}).get("seeds") or []:
                if s not in seeds:
                    seeds.append(s)
        rows += [(a, s) for s in (seeds or [None])]
    return rows


def _seed_segmentation(arm: dict, seed) -> dict | None:
    seg = arm.get("segmentation")
    if not seg:
        return None
    for s in seg.get("seeds") or []:
        if s.get("seed") == seed:
            return s
    return seg


def _draw_timeline_row(ax, y: int, seg: dict, switches: list[float]) -> None:
    for ph in seg["phases"]:
        w = ph["end_step"] - ph["start_step"]
        colour = TIMELINE_COLORS[ph["label"]]
        ax.barh(y, w, left=ph["start_step"], height=0.72, color=colour, edgecolor="white", lw=0.6)
    for step in switches:
        ax.plot([step, step], [y - 0.45, y + 0.45], color="black", lw=1.8)


def fig_timeline(compares: dict, switches: dict | None = None) -> Figure | None:
    """Phases of every arm and seed as coloured spans on a step axis, one column per metric: which
    arm goes through which phase, when, at a glance. Black ticks: stage switches (SFT -> RL)."""
    compares = {m: c for m, c in compares.items() if any("segmentation" in a for a in c["arms"].values())}
    if not compares:
        return None
    rows = _timeline_rows(compares)
    styles = arm_styles({a for a, _ in rows})
    labels = [styles[a]["label"] + ("" if s is None else f" · seed {s}") for a, s in rows]
    n = len(compares)
    height = max(2.4, 0.32 * len(rows) + 1.6)
    with print_style():
        fig, axes = plt.subplots(1, n, figsize=(max(6.4, 3.3 * n + 1.6), height), sharey=True, squeeze=False)
        for ax, (metric, c) in zip(axes[0], compares.items(), strict=False):
            for y, (a, s) in enumerate(rows):
                seg = _seed_segmentation(c["arms"].get(a) or {}, s)
                if seg:
                    _draw_timeline_row(ax, y, seg, [st for st, _ in (switches or {}).get(a, [])])
            ax.set_title(f"{metric} ({c['direction']} is better)", fontsize=8.5)
            ax.set_xlabel("training step")
            ax.grid(False)
            ax.grid(True, axis="x", alpha=0.3)
        axes[0, 0].set_yticks(range(len(rows)), labels)
        axes[0, 0].set_ylim(len(rows) - 0.5, -0.5)  # first arm on top
        found = {ph["label"] for c in compares.values() for a in c["arms"].values()
                 for ph in (a.get("segmentation") or {}).get("phases", [])}  # fmt: skip
        handles = [matplotlib.patches.Patch(color=TIMELINE_COLORS[p], label=p) for p in PHASES if p in found]
        if any(switches.get(a) for a, _ in rows) if switches else False:
            handles.append(matplotlib.lines.Line2D([], [], color="black", lw=1.6, label="stage switch"))
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
        fig.suptitle("Phase timeline: one row per arm and seed, spans coloured by phase", fontsize=9.5)
        fig.tight_layout(rect=(0, 0.35 / height, 1, 1 - 0.1 / height))
    return fig
