"""Figures of an experiment, readable in print: one function per figure, each returning a matplotlib
``Figure`` (or ``None`` when the experiment did not log what the figure needs).

Conventions: the Okabe–Ito colour-blind-safe palette, one colour *and* one line style per arm in
every figure (so a greyscale print still tells arms apart), labelled axes with units, legends
outside the data where they would hide it. Per-step training metrics are noisy, so they are drawn
as a centred rolling mean and the axis says the window. Bands are ±1 standard deviation over seeds
(stated in each legend), not confidence intervals. Uses the Agg backend; never imports torch.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from phasescope.analysis.curves import curves_for  # noqa: E402
from phasescope.analysis.phases import PHASES  # noqa: E402
from phasescope.arms import ARM_LABELS, ordered  # noqa: E402
from phasescope.arms import ARM_NAMES as ARM_ORDER  # noqa: E402
from phasescope.report.marks import base_level, binomial_band, draw_base, draw_switches  # noqa: E402

# Okabe & Ito (2008). Yellow (#F0E442) is left out: it vanishes on white paper; a mid grey takes its
# place. Three colours of Paul Tol's colour-blind-safe "muted" scheme follow, so that each built-in arm
# (CHORD-φ's control arms included) has a colour and a line style of its own.
OKABE_ITO = ["#D55E00", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#999999"]
OKABE_ITO += ["#882255", "#44AA99", "#332288"]
OKABE_ITO += ["#117733", "#DDCC77", "#AA4499", "#88CCEE", "#661100", "#6699CC"]  # issue 24's six arms
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)), (0, (3, 1, 1, 1))]
LINESTYLES += [(0, (5, 5)), (0, (3, 5, 1, 5)), (0, (1, 3))]
LINESTYLES += [(0, (7, 3)), (0, (2, 2)), (0, (6, 2, 2, 2)), (0, (4, 4)), (0, (9, 3, 3, 3)), (0, (2, 4))]
# Phase spans are named in text on every panel, so their tints need not be colour-blind distinct;
# they are kept out of the arm palette so a shaded span never reads as an arm.
PHASE_COLORS = dict(zip(PHASES, ["#F2A0A0", "#9FD5A5", "#C6B0E3", "#A6CBE8", "#D9D9D9"]))


def arm_styles(arms) -> dict[str, dict]:
    """A fixed colour and line style per arm: the built-in arms always get the same ones,
    other arms take the remaining colours in name order."""
    known = [a for a in ARM_ORDER if a in arms]
    extra = sorted(a for a in arms if a not in ARM_ORDER)
    styles = {}
    for a in known:
        i = ARM_ORDER.index(a)
        styles[a] = {"color": OKABE_ITO[i], "ls": LINESTYLES[i], "label": ARM_LABELS[a]}
    for j, a in enumerate(extra):
        i = (len(ARM_ORDER) + j) % len(OKABE_ITO)
        styles[a] = {"color": OKABE_ITO[i], "ls": LINESTYLES[i % len(LINESTYLES)], "label": a}
    return styles


@contextmanager
def print_style():
    """Font sizes that survive a two-column paper at the figure's natural width."""
    with plt.rc_context(
        {
            "font.size": 9,
            "axes.titlesize": 9.5,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "xtick.labelsize": 8,
            "ytick.labelsize": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "lines.linewidth": 1.6,
            "figure.dpi": 100,
        }
    ):
        yield


# ----------------------------------------------------------------------------------------------
# Data helpers


# Several figures draw the same metric; gathering a metric's curves is the costly part of a
# figure after rendering, so it is done once per (frame, metric). Frames are unhashable, so the
# cache is keyed by id and dropped when the frame is collected (frames are not mutated here).
_SERIES: dict[int, dict] = {}


def _cache(frame: pd.DataFrame) -> dict:
    key = id(frame)
    if key not in _SERIES:
        _SERIES[key] = {}
        weakref.finalize(frame, _SERIES.pop, key, None)
    return _SERIES[key]


def _curves(frame: pd.DataFrame, metric: str) -> dict:
    cache = _cache(frame)
    if metric not in cache:
        empty = frame.empty or metric not in set(frame["metric"])
        cache[metric] = {} if empty else {c.run: c for c in curves_for(frame, metric)[0]}
    return cache[metric]


def series(frame: pd.DataFrame, metric: str) -> dict:
    """arm -> (steps, seeds x steps values) for ``metric``; {} when nobody logged it."""
    return {run: (c.steps, c.values) for run, c in _curves(frame, metric).items()}


def _seed_tails(ax, frame: pd.DataFrame, metric: str, arm: str, style: dict) -> None:
    """Each seed's curve past the shared grid, thin: a two-stage arm's seeds switch, and so end, at
    different steps, and the mean stops where the shortest seed stops."""
    c = _curves(frame, metric)[arm]
    for x, y in c.seed_curves():
        tail = x >= c.steps[-1]
        if tail.sum() > 1:
            ax.plot(x[tail], y[tail], color=style["color"], ls=style["ls"], lw=0.8, alpha=0.55)


def first_present(frame: pd.DataFrame, *names: str) -> str | None:
    have = set(frame["metric"]) if not frame.empty else set()
    return next((n for n in names if n in have), None)


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling mean that keeps the ends (shorter windows there)."""
    if window <= 1 or len(y) < 3:
        return y
    return pd.Series(y).rolling(window, center=True, min_periods=1).mean().to_numpy()


def _window(n: int) -> int:
    return max(1, n // 40)


def _side_legend(fig, ax) -> None:
    """Legend right of the axes, with the layout leaving room for it (so savefig needs no
    bbox_inches="tight", which costs a second rendering pass)."""
    fig.legend(*ax.get_legend_handles_labels(), loc="center right", frameon=False)
    fig.tight_layout(rect=(0, 0, 0.82, 1))


def no_data(ax, why: str = "no data") -> None:
    """Say so in an empty panel (a series that is empty, all missing or not finite), instead of
    drawing nothing or letting the axis scaling fail on it."""
    ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", color="0.45")


def _mean_band(ax, x, vals, style, label=None, smooth_window: int = 1, band: bool = True):
    if not len(x) or not np.isfinite(vals).any():
        return no_data(ax)
    m = smooth(vals.mean(axis=0), smooth_window)
    ax.plot(x, m, color=style["color"], ls=style["ls"], label=label or style["label"])
    if band and vals.shape[0] > 1:
        s = smooth(vals.std(axis=0, ddof=1), smooth_window)
        ax.fill_between(x, m - s, m + s, color=style["color"], alpha=0.18, lw=0)


def _ylabel(metric: str) -> str:
    units = {
        "accuracy": "accuracy (fraction correct)",
        "general_accuracy": "general-skill accuracy (fraction)",
        "expert_nll": "expert NLL (nats/token)",
        "kl_to_base": "KL to base (nats/token)",
        "divergent_frac": "share with p < threshold",
        "mu": "μ (weight of the SFT loss)",
        "sft_loss": "SFT loss (nats/token)",
        "grpo_loss": "GRPO surrogate loss",
    }
    tail = metric.split("/")[-1]
    return f"{metric}\n{units[tail]}" if tail in units else metric


def _seed_note(data: dict) -> str:
    ns = sorted({v.shape[0] for _, v in data.values()})
    if ns == [1]:
        return "1 seed"
    return f"mean ± 1 sd over {'/'.join(map(str, ns))} seeds"


# ----------------------------------------------------------------------------------------------
# Figures


def fig_heldout(
    frame: pd.DataFrame, metric: str, switches: dict | None = None, eval_n: int | None = None
) -> Figure | None:
    """All arms on one axis: mean over seeds with a ±1 sd band (a single seed: the 95% binomial
    eval-set band when the eval-set size is known), the base level and the stage switches."""

    data = series(frame, metric)
    if not data:
        return None
    styles = arm_styles(data)
    binom = False
    with print_style():
        fig, ax = plt.subplots(figsize=(7.4, 3.8))
        for a in ordered(data):
            x, v = data[a]
            _mean_band(ax, x, v, styles[a])
            _seed_tails(ax, frame, metric, a, styles[a])
            if v.shape[0] == 1:
                binom = binomial_band(ax, x, v[0], eval_n, styles[a]["color"]) or binom
        draw_base(ax, base_level(data))
        draw_switches(ax, switches or {}, styles, runs=[a for a in ordered(data) if a in (switches or {})])
        ax.set_xlabel("training step (optimizer updates)")
        ax.set_ylabel(_ylabel(metric))
        band = f"; band: 95% binomial noise, n = {eval_n}" if binom else ""
        ax.set_title(f"Held-out {metric} by arm ({_seed_note(data)}{band})", pad=12)
        _side_legend(fig, ax)
    return fig


def fig_mu(frame: pd.DataFrame) -> Figure | None:
    """μ(step) per arm: the schedule that defines each arm."""
    data = series(frame, "train/mu")
    if not data:
        return None
    styles = arm_styles(data)
    with print_style():
        fig, ax = plt.subplots(figsize=(7, 2.8))
        for a in ordered(data):
            x, v = data[a]
            ax.plot(x, v.mean(axis=0), color=styles[a]["color"], ls=styles[a]["ls"], label=styles[a]["label"])
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("training step")
        ax.set_ylabel("μ (SFT weight)\n1 = SFT, 0 = RL")
        ax.set_title("μ schedule per arm: L = (1 − μ)·L_GRPO + μ·L_SFT")
        _side_legend(fig, ax)
    return fig


def _panels(frame, panels, title, figsize_h=2.8, smooth_train=True, switches=None):
    """Side-by-side panels of per-arm curves; ``panels`` = [(metric, ylabel or None)]. Stage
    switches (vertical) and, for metrics logged at step 0, the base level (horizontal) are marked."""

    loaded = {m: series(frame, m) for m, _ in panels if m}
    panels = [(m, y) for m, y in panels if m and loaded[m]]
    if not panels:
        return None
    arms = ordered({a for m, _ in panels for a in loaded[m]})
    styles = arm_styles(arms)
    with print_style():
        fig, axes = plt.subplots(
            1, len(panels), figsize=(max(6.4, 3.4 * len(panels) + 1.4), figsize_h), squeeze=False
        )
        for ax, (m, ylab) in zip(axes[0], panels):
            data = loaded[m]
            w = 1
            for a in ordered(data):
                x, v = data[a]
                w = _window(len(x)) if smooth_train and not m.startswith(("eval/", "probe/")) else 1
                _mean_band(ax, x, v, styles[a], smooth_window=w)
            draw_base(ax, base_level(data), "base")
            draw_switches(
                ax,
                switches or {},
                styles,
                runs=[a for a in ordered(data) if a in (switches or {})],
                name_run=False,
            )
            ax.set_xlabel("training step")
            ax.set_ylabel(ylab or _ylabel(m))
            ax.set_title(m + (f" (rolling mean, {w} steps)" if w > 1 else ""), fontsize=8.5, pad=12)
        handles = [
            matplotlib.lines.Line2D(
                [], [], color=styles[a]["color"], ls=styles[a]["ls"], label=styles[a]["label"]
            )
            for a in arms
        ]
        fig.legend(handles=handles, loc="center right", frameon=False)
        fig.suptitle(title, fontsize=9.5)
        fig.tight_layout(rect=(0, 0, 1 - 1.3 / max(6.4, 3.4 * len(panels) + 1.4), 0.95))
    return fig


def fig_losses(frame: pd.DataFrame, switches: dict | None = None) -> Figure | None:
    """The two parts of the loss: the GRPO surrogate and the (weighted) SFT NLL."""
    return _panels(
        frame,
        [
            ("train/grpo_loss", None),
            ("train/sft_loss", None),
            ("train/loss", "total loss (1 − μ)·GRPO + μ·SFT"),
        ],
        "Training losses (band: ±1 sd over seeds)",
        switches=switches,
    )


def fig_rollout(frame: pd.DataFrame, switches: dict | None = None) -> Figure | None:
    """The standard GRPO panels: mean reward, policy entropy and response length of the rollouts
    (absent while μ = 1: nothing is generated)."""
    return _panels(
        frame,
        [
            ("rollout/reward_mean", "mean reward of the rollouts"),
            ("rollout/entropy", "policy entropy on rollout\ntokens (nats/token)"),
            ("rollout/response_length", "rollout length (tokens)"),
        ],
        "Rollouts: reward, entropy, response length (band: ±1 sd over seeds)",
        switches=switches,
    )


def fig_divergence(frame: pd.DataFrame) -> Figure | None:
    """How foreign the expert tokens look to the policy over training: p quantiles (median, and a
    thin 10th-percentile line), the divergent share, and the KL to the base model when logged. Uses
    the fixed probe set (``probe/*``) when logged, else the training batches' expert tokens (``expert/*``)."""
    prefix = "probe" if first_present(frame, "probe/p_q50") else "expert"
    q50 = series(frame, f"{prefix}/p_q50")
    div = first_present(frame, "probe/divergent_frac", "expert/divergent_frac")
    kl = first_present(frame, "probe/kl_to_base")
    n = bool(q50) + bool(div) + bool(kl)
    if n == 0:
        return None
    arms = ordered(set(q50) | set(series(frame, div) if div else {}) | set(series(frame, kl) if kl else {}))
    styles = arm_styles(arms)
    with print_style():
        fig, axes = plt.subplots(1, n, figsize=(3.4 * n + 1.4, 2.9), squeeze=False)
        axes = list(axes[0])
        if q50:
            ax = axes.pop(0)
            # Five overlapping q10–q90 bands turn to mud; the median (thick) and the 10th
            # percentile (thin: the divergent tail) carry the story, q90 sits near 1 anyway.
            q10 = series(frame, f"{prefix}/p_q10")
            for a in ordered(q50):
                x, v = q50[a]
                w = _window(len(x)) if prefix == "expert" else 1
                st = styles[a]
                ax.plot(x, smooth(v.mean(axis=0), w), color=st["color"], ls=st["ls"])
                if a in q10:
                    x10, v10 = q10[a]
                    ax.plot(
                        x10, smooth(v10.mean(axis=0), w), color=st["color"], ls=st["ls"], lw=0.8, alpha=0.8
                    )
            ax.set_ylim(0, 1)
            ax.set_xlabel("training step")
            ax.set_ylabel("p (policy probability\nof the expert token)")
            ax.set_title(f"{prefix}/p_q50 (thick), {prefix}/p_q10 (thin)", fontsize=8.5)
        for m, ylab in ((div, None), (kl, None)):
            if not m:
                continue
            ax = axes.pop(0)
            data = series(frame, m)
            for a in ordered(data):
                x, v = data[a]
                w = _window(len(x)) if m.startswith("expert/") else 1
                _mean_band(ax, x, v, styles[a], smooth_window=w)
            ax.set_xlabel("training step")
            ax.set_ylabel(ylab or _ylabel(m))
            ax.set_title(m, fontsize=8.5)
        handles = [
            matplotlib.lines.Line2D(
                [], [], color=styles[a]["color"], ls=styles[a]["ls"], label=styles[a]["label"]
            )
            for a in arms
        ]
        fig.legend(handles=handles, loc="center right", frameon=False)
        fig.suptitle("Token divergence: how probable the policy finds the expert's tokens", fontsize=9.5)
        fig.tight_layout(rect=(0, 0, 1 - 1.3 / (3.4 * n + 1.4), 0.95))
    return fig


def fig_general(frame: pd.DataFrame, switches: dict | None = None) -> Figure | None:
    """The world's general skill (what SFT may erode) and the NLL of held-out expert answers (the
    overfit signal), when logged."""
    return _panels(
        frame,
        [("eval/general_accuracy", None), ("eval/expert_nll", None)],
        "General skill and overfit signal on held-out problems (band: ±1 sd over seeds)",
        switches=switches,
    )


def fig_token_heatmap(
    snapshots: list[dict], arm: str, seed, switch_step: float | None = None
) -> Figure | None:
    """Share of expert tokens per probability bin (y) at each snapshot step (x), from one run's
    tokens.jsonl. Columns are normalised to sum to 1 so the shift of mass shows whatever the token
    count. Bins are drawn as equal rows labelled by their p edges: the probe's bins are even in
    round probabilities, not in log p, and drawn to scale the bins near p = 1 would be slivers."""
    snaps = [s for s in snapshots if s.get("hist_counts") and s.get("hist_edges")]
    if len(snaps) < 2:
        return None
    edges = np.asarray(snaps[0]["hist_edges"], float)
    snaps = [s for s in snaps if len(s["hist_counts"]) == len(edges) - 1]
    steps = np.array([float(s["step"]) for s in snaps])
    counts = np.array([s["hist_counts"] for s in snaps], float).T
    share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    # Cell edges halfway between snapshot steps, so uneven snapshot spacing is drawn faithfully.
    mid = (steps[1:] + steps[:-1]) / 2
    xedges = np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])
    label = ARM_LABELS.get(arm, arm)
    every = max(1, int(np.ceil(len(edges) / 14)))
    with print_style():
        fig, ax = plt.subplots(figsize=(7, 3.4))
        mesh = ax.pcolormesh(xedges, np.arange(len(edges)), share, cmap="viridis", shading="flat")
        cb = fig.colorbar(mesh, ax=ax, pad=0.01)
        cb.set_label("share of expert tokens")
        ticks = np.arange(0, len(edges), every)
        ax.set_yticks(ticks, [f"{np.exp(e):.2g}" for e in edges[ticks]])
        if switch_step is not None:
            ax.axvline(switch_step, color="white", lw=1.2, ls="--")
            ax.text(
                switch_step, len(edges) - 1.2, " SFT → RL", color="white", va="top", ha="left", fontsize=8
            )
        ax.set_xlabel("training step")
        ax.set_ylabel("p of expert token\n(bin edges)")
        ax.set_title(f"Expert-token probability histogram over training: {label}, seed {seed}")
        ax.grid(False)
        fig.tight_layout()
    return fig


def fig_endpoints(compare: dict) -> Figure | None:
    """Final and best value per arm: every seed as a dot, the mean with its t 95% CI."""
    arms = ordered(compare["arms"])
    if not arms:
        return None
    styles = arm_styles(arms)
    with print_style():
        fig, axes = plt.subplots(1, 2, figsize=(7, 0.45 * len(arms) + 1.4), sharey=True)
        for ax, q, title in zip(axes, ("final", "best"), ("final value", "best value")):
            for i, a in enumerate(arms):
                s = compare["arms"][a][q]
                c = styles[a]["color"]
                ax.scatter(s["values"], [i] * len(s["values"]), color=c, s=14, alpha=0.6, zorder=2)
                if s["mean"] is not None:
                    ci = s.get("ci_t") or s.get("ci_binomial")  # one seed: the eval set's interval
                    xerr = None if not ci else [[s["mean"] - ci[0]], [ci[1] - s["mean"]]]
                    ax.errorbar(s["mean"], i, xerr=xerr, fmt="D", color=c, ms=5, capsize=3, zorder=3)
            ax.set_yticks(range(len(arms)), [styles[a]["label"] for a in arms])
            ax.set_xlabel(compare["metric"])
            ax.set_title(title)
        axes[0].invert_yaxis()  # shared y: inverting each axis would undo the first
        one = any(compare["arms"][a]["final"]["n"] == 1 for a in arms) and compare.get("eval_n")
        how = (
            f"\n(one seed: the 95% binomial interval of the eval set, n = {compare['eval_n']})" if one else ""
        )
        fig.suptitle(f"Per-seed values (dots) and mean with t 95% CI (diamond, bar){how}", fontsize=9.5)
        fig.tight_layout()
    return fig
