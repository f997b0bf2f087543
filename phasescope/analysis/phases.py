"""Name the segments of a fitted curve as phases, and measure each phase.

Rules (applied to "goodness" g = value for higher-is-better metrics, g = -value for lower-is-better
ones, so for a loss the shift is a *rise* at the start and overfit a late rise after the minimum):

- A segment's trend is *significant* when its fitted slope is at least ``t_min`` standard errors
  from zero **and** it moves the curve by at least ``min_change`` noise standard deviations over
  the segment; otherwise it is a ``plateau``.
- ``shift``: a significant decline of g before any significant improvement (at the start, possibly
  after an initial plateau) — the curve drops below its initial level.
- ``readapt``: a significant improvement whose last preceding trend was a shift or readapt — the
  recovery after a shift.
- ``rise``: a significant improvement with no shift before it.
- ``overfit``: a significant decline of g after an improvement (readapt or rise), i.e. after the
  peak.
- Adjacent segments with the same label are merged into one phase: two rising pieces with
  different slopes are one readapt, and a kink inside a phase is not a phase boundary.

So phases that are not there are not invented: a curve without a significant early decline has no
shift, a flat curve is one plateau. Per phase: start/end step and fitted value, slope (metric units
per step, least squares over the phase's points), and the extra statistics of its kind — shift:
``depth`` and ``bottom_step``; readapt: ``recover_step`` and ``time_to_recover`` (first step the fit
gets back to the initial level, ``None`` when it never does); overfit: ``peak_step``,
``peak_value``, ``onset_step`` and ``drop``; rise: ``gain``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from phasescope.analysis.segment import Segmentation

PHASES = ("shift", "readapt", "overfit", "rise", "plateau")
"""Every phase label, in reading order; the one list that compare, tables and plots use."""


@dataclass
class Phase:
    """One phase of a curve. ``ci`` is the bootstrap interval of ``start_step`` (degenerate for the
    first phase, which starts at the curve's first point); ``end_ci`` that of ``end_step``."""

    label: str
    start_step: float
    end_step: float
    start_value: float
    end_value: float
    slope: float
    ci: tuple[float, float]
    end_ci: tuple[float, float]
    n_points: int
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        d["ci"] = list(d["ci"])
        d["end_ci"] = list(d["end_ci"])
        d.update(extra)
        return d


def _trend(slope: float, se: float, duration: float, sigma: float, t_min: float, min_change: float) -> int:
    if se > 0 and abs(slope) / se < t_min:
        return 0
    if abs(slope * duration) < min_change * sigma:
        return 0
    return 1 if slope > 0 else -1


def segment_labels(trends: list[int]) -> list[str]:
    """Labels for a sequence of goodness trends (+1 improving, -1 worsening, 0 flat)."""
    labels: list[str] = []
    last = None  # label of the most recent non-plateau segment
    improved = False
    for tr in trends:
        if tr == 0:
            lab = "plateau"
        elif tr < 0:
            lab = "overfit" if improved else "shift"
        else:
            lab = "readapt" if last in ("shift", "readapt") else "rise"
            improved = True
        if lab != "plateau":
            last = lab
        labels.append(lab)
    return labels


def label_phases(
    seg: Segmentation, direction: str = "higher", t_min: float = 3.0, min_change: float = 0.5
) -> list[Phase]:
    """Turn a ``Segmentation`` into named phases (see the module docstring for the rules)."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    sign = 1.0 if direction == "higher" else -1.0
    x = seg.steps
    bounds = [float(x[0]), *seg.changepoints, float(x[-1])]
    bound_ci = [(bounds[0], bounds[0]), *seg.ci, (bounds[-1], bounds[-1])]
    trends = [
        _trend(sign * seg.slopes[i], seg.slope_se[i], bounds[i + 1] - bounds[i], seg.sigma, t_min, min_change)
        for i in range(len(bounds) - 1)
    ]
    labels = segment_labels(trends)
    # Merge runs of equal labels.
    runs: list[tuple[str, int, int]] = []  # label, first segment, last segment
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1] = (lab, runs[-1][1], i)
        else:
            runs.append((lab, i, i))
    initial = seg.value_at(bounds[0])
    phases = []
    for lab, a, b in runs:
        s, e = bounds[a], bounds[b + 1]
        inside = (x >= s) & (x <= e)
        xs, fs = x[inside], seg.fitted[inside]
        slope = float(np.polyfit(xs, fs, 1)[0]) if len(xs) >= 2 else float(seg.slopes[a])
        ph = Phase(
            label=lab,
            start_step=s,
            end_step=e,
            start_value=seg.value_at(s),
            end_value=seg.value_at(e),
            slope=slope,
            ci=bound_ci[a],
            end_ci=bound_ci[b + 1],
            n_points=int(inside.sum()),
        )
        ph.extra = _phase_stats(ph, seg, sign, initial)
        phases.append(ph)
    return phases


def _phase_stats(ph: Phase, seg: Segmentation, sign: float, initial: float) -> dict:
    x, f = seg.steps, seg.fitted
    inside = (x >= ph.start_step) & (x <= ph.end_step)
    if ph.label == "shift":
        g = sign * f[inside]
        i = int(np.argmin(g))
        return {"depth": float(sign * (initial - f[inside][i])), "bottom_step": float(x[inside][i])}
    if ph.label == "readapt":
        after = x >= ph.start_step
        g = sign * (f[after] - initial)
        hit = np.nonzero(g >= 0)[0]
        if len(hit) == 0:
            return {"recover_step": None, "time_to_recover": None}
        i = int(hit[0])
        xa = x[after]
        if i == 0:
            rec = float(xa[0])
        else:  # the fit is linear between points, so the crossing is exact
            g0, g1 = g[i - 1], g[i]
            rec = float(xa[i - 1] + (xa[i] - xa[i - 1]) * (-g0) / (g1 - g0))
        return {"recover_step": rec, "time_to_recover": rec - ph.start_step}
    if ph.label == "overfit":
        return {
            "onset_step": ph.start_step,
            "peak_step": ph.start_step,
            "peak_value": ph.start_value,
            "drop": float(sign * (ph.start_value - ph.end_value)),
        }
    if ph.label == "rise":
        return {"gain": float(sign * (ph.end_value - ph.start_value))}
    return {}
