"""Name the segments of a fitted curve as phases, and measure each phase.

Rules (applied to "goodness" g = value for higher-is-better metrics, g = -value for lower-is-better
ones, so for a loss the shift is a *rise* of the loss at the start and overfit a late rise after its
best point; the labels and fields are the same words for both directions):

- A segment's trend is *significant* when its fitted slope is at least ``t_min`` standard errors
  from zero **and** it moves the curve by at least ``min_change`` noise standard deviations over
  the segment **and** by more than the noise floor could (``noise.noise_floor``: the eval set's
  binomial noise when its size is given or read from the values' 1/n grid, else the spread between
  seeds; for a short smooth [0, 1] curve of unknown size, an assumed eval set's; ``noise.SEPARABLE_Z``
  floors, the difference of two independent evaluations); otherwise it is a ``plateau``. A segment
  that passed the first two tests but not the floor is listed as *not separable from noise*. With
  any other curve of unknown size the floor is the first-difference noise, which only replaces the
  residual noise in the first two tests where it is larger.
- A change the single-point floor hides is still a phase when it moves the curve between two
  levels held over many evaluations: the mean of the points from the previous segment's start to
  the segment's middle against the mean from there to the next segment's end differ by at least
  ``SEPARABLE_Z`` standard errors *of those means* (``noise.mean_change_z``: the floor's sd over
  √m, m discounted for the points' lag-1 correlation) *and* one move between consecutive
  evaluations in or at the edges of the segment exceeds ``SEPARABLE_Z`` sd of a first difference
  (a step, not a drift: a correlated curve wanders as far one small move at a time). On a fixed
  eval set a step that holds for 20 evaluations is real below one evaluation's noise; a one-point
  excursion, or a slow wander, is not.
- An improvement counts as reaching a best point only when it gains more than ``SEPARABLE_Z``
  noise (the floor or the residual noise, the larger): a small early rise followed by the fall is
  a plateau and a shift, not improve and overfit.
- The decline from such a best point is tested as a whole, as the improvement to it was: when the
  fitted curve never regains the best and falls more than ``SEPARABLE_Z`` floors below it, the first
  worsening after the best (with only plateaus between) is an overfit even if the floor hid each of
  the steps down on its own (``_declines_from_best``; aigoncharov's ``eval_g3_accuracy``: up 0.064
  to a best at its 4th evaluation, down 0.05, up 0.02, down 0.034).
- A rise to a best point in several segments is tested as a whole too (``_rises_as_a_whole``): two or
  more improving segments in a row (significant, or hidden by the floor) whose gain together exceeds
  ``SEPARABLE_Z`` noise are one improvement (an early peak reached in a steep and a slow step).
- A final segment with fewer than ``MIN_FINAL`` evaluations past its knot is no phase: nothing after
  it says the move holds (listed as not separable).
- ``shift``: a significant worsening before any significant improvement (at the start, possibly
  after an initial plateau) — the curve falls below (for a loss: rises above) its initial level.
- ``readapt``: a significant improvement whose last preceding trend was a shift or readapt — the
  recovery after a shift.
- ``improve``: a significant improvement with no shift before it.
- ``overfit``: a significant worsening after an improvement (readapt or improve), i.e. after the
  curve's best point. Also, on a curve that does not start at step 0 (most trainers evaluate first
  after some training), a worsening from the start that no improvement ever follows: the best may
  have come before the first evaluation, so it is not a shift; its ``note`` is ``EARLY_BEST``.
  A worsening that a later improvement regains (the fitted curve comes back to at least the level
  it fell from) had no best point at its start: it is a transient dip, read as a ``plateau`` with
  the ``note`` ``DIP``, not an overfit.
- Adjacent plateaus are merged. Adjacent phases with the same label are *not*: the segmenter
  only keeps a knot that BIC pays for, so a loss that falls steeply and then slowly has two
  ``improve`` phases and a changepoint between them.

So phases that are not there are not invented: a curve without a significant early worsening has no
shift, a flat curve is one plateau, a constant curve has no phases (one plateau, ``no_phases``).
Per phase: start/end step and fitted value, slope (metric units per step, least squares over the
phase's points), ``uncertain`` (its start's interval is degenerate or spans most of the run),
``fixed`` (its start is a known stage boundary), ``stage`` (index of the stage), and the statistics
of its kind, with goodness changes as positive magnitudes in metric units — shift: ``depth``,
``worst_step``, ``worst_value``; overfit: ``onset_step``, ``best_step``, ``best_value``, ``decline``;
improve: ``gain``. When the curve is back at its base (``recover_step``) is read on the data, not on
the fit, by ``phasepoints.recovery_step`` (``segment_results`` sets it on the shift and readapt).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from phasescope.analysis.noise import SEPARABLE_Z, first_difference_sd, mean_change_z, residual_lag1
from phasescope.analysis.segment import Segmentation

PHASES = ("shift", "readapt", "overfit", "improve", "plateau")
"""Every phase label, in reading order; the one list that compare, tables and plots use. ``improve``
was ``rise`` (which read backwards for a loss)."""
NAMED = PHASES[:4]
"""The labels that name a phase; a plateau is the absence of one."""
MIN_FINAL = 3
"""The fewest evaluations past its knot a final span needs to be a phase (a shorter one is the last
values' luck until more follow)."""


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
    uncertain: bool = False  # the start's interval is degenerate or spans most of the run
    fixed: bool = False  # the start is a known stage boundary, not estimated
    stage: int = 0

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
    if abs(slope * duration) <= min_change * sigma:
        return 0
    return 1 if slope > 0 else -1


def segment_labels(trends: list[int], beyond: list[bool] | None = None) -> list[str]:
    """Labels for a sequence of goodness trends (+1 improving, -1 worsening, 0 flat).

    ``beyond[i]``: whether improving segment i gains more than the noise (default: every
    improvement does); a readapt (the recovery after a shift) always counts. An improvement that does not is no best
    point an overfit could start from: the worsening after it is a shift, and the rise itself, when
    a shift follows it, is read as a plateau (the small early rise before the fall)."""
    beyond = [True] * len(trends) if beyond is None else beyond
    labels: list[str] = []
    last = None  # label of the most recent non-plateau segment
    improved = False
    for tr, far in zip(trends, beyond, strict=True):
        if tr == 0:
            lab = "plateau"
        elif tr < 0:
            lab = "overfit" if improved else "shift"
        else:
            lab = "readapt" if last in ("shift", "readapt") else "improve"
            improved = improved or far or lab == "readapt"  # a recovery always reaches a best
        if lab != "plateau":
            last = lab
        labels.append(lab)
    for i, lab in enumerate(labels):
        after = next((b for b in labels[i + 1 :] if b != "plateau"), None)
        if lab == "improve" and not beyond[i] and after == "shift":
            labels[i] = "plateau"
    return labels


def _floor_sd(seg: Segmentation, p: float) -> float:
    """One evaluation's noise near ``p`` by the segmentation's floor (0 without one)."""
    return seg.floor.sd_at(p) if seg.floor is not None else 0.0


def _trends(seg: Segmentation, bounds: list[float], sign: float, t_min: float, min_change: float):
    """Goodness trend per segment, whether each segment gains more than the noise (an improvement
    that does not reaches no best point), and the segments whose change is within the noise floor."""
    if seg.constant:
        n = len(bounds) - 1
        return [0] * n, [True] * n, []
    trends, beyond, hidden, held = [], [], [], {}
    # A floor with no eval set or seeds behind it (first differences) only stands in for the
    # residual noise where it is larger; the others are a floor on each phase's change too.
    sized = seg.floor is not None and seg.floor.kind != "first-difference"
    inflate = 1.0 if sized or seg.floor is None else max(1.0, seg.floor.sd / max(seg.sigma, 1e-300))
    for i in range(len(bounds) - 1):
        duration = bounds[i + 1] - bounds[i]
        se = seg.slope_se[i] * inflate
        tr = _trend(sign * seg.slopes[i], se, duration, seg.sigma * inflate, t_min, min_change)
        a, b = seg.value_at(bounds[i]), seg.value_at(bounds[i + 1])
        noise = _floor_sd(seg, 0.5 * (a + b)) if sized else 0.0
        if tr and abs(b - a) < SEPARABLE_Z * noise and not _level_held(seg, bounds, i, sign, noise):
            hidden.append(
                {"start_step": bounds[i], "end_step": bounds[i + 1], "change": abs(b - a), "noise": noise}
            )
            held[i], tr = tr, 0
        # A gain within one evaluation's noise (the floor, or the residual noise) reaches no best.
        beyond.append(bool(sign * (b - a) > SEPARABLE_Z * max(_floor_sd(seg, 0.5 * (a + b)), seg.sigma)))
        trends.append(tr)
    for i in _rises_as_a_whole(seg, bounds, sign, trends, held):
        trends[i], beyond[i] = 1, True
        hidden = [h for h in hidden if h["start_step"] != bounds[i]]
    for i in _declines_from_best(seg, bounds, sign, trends, beyond, held):
        trends[i] = held[i]
        hidden = [h for h in hidden if h["start_step"] != bounds[i]]
    # A final span of one or two new evaluations past its knot is the last value's luck until more
    # follow: nothing after it says the move holds, as the rest of the curve does for any other span.
    last = int(np.sum(seg.steps > bounds[-2]))
    if trends[-1] and len(trends) > 1 and last < MIN_FINAL:
        a, b = seg.value_at(bounds[-2]), seg.value_at(bounds[-1])
        noise = max(_floor_sd(seg, 0.5 * (a + b)), seg.sigma)
        hidden.append(
            {"start_step": bounds[-2], "end_step": bounds[-1], "change": abs(b - a), "noise": noise}
        )
        trends[-1] = 0
    return trends, _falls_below_start(seg, bounds, sign, trends, beyond), hidden


def _rises_as_a_whole(seg: Segmentation, bounds: list[float], sign: float, trends, held) -> list[int]:
    """Segments of a run of two or more improving ones (each a significant trend, or one the floor
    hid) whose gain as a whole exceeds ``SEPARABLE_Z`` noise (the floor or the residual noise, the
    larger): a rise to a best point in a steep and a slow step, each within the noise on its own, is
    one improvement beyond it, as a decline from the best is one decline (``_declines_from_best``)."""
    out: list[int] = []
    run: list[int] = []
    for i in range(len(trends) + 1):
        if i < len(trends) and (trends[i] > 0 or held.get(i, 0) > 0):
            run.append(i)
            continue
        if len(run) >= 2:
            a, b = seg.value_at(bounds[run[0]]), seg.value_at(bounds[run[-1] + 1])
            noise = max(_floor_sd(seg, 0.5 * (a + b)), seg.sigma)
            if sign * (b - a) > SEPARABLE_Z * noise:
                out += run
        run = []
    return out


def _declines_from_best(
    seg: Segmentation, bounds: list[float], sign: float, trends, beyond, held
) -> list[int]:
    """Worsening segments the floor hid that start an overfit all the same: the first one after a
    best point (the end of an improvement beyond the noise, with only plateaus between), when the
    fitted curve never regains that best and falls more than ``SEPARABLE_Z`` floors below it. An
    overfit is the decline from the best point, measured as a whole, as the improvement to it is: a
    fall from a peak in two or three steps, each within the noise, is one fall beyond it."""
    out = []
    for i, (tr, far) in enumerate(zip(trends, beyond, strict=True)):
        if tr <= 0 or not far or i + 2 > len(trends):
            continue
        j = next((k for k in range(i + 1, len(trends)) if trends[k] != 0 or k in held), None)
        if j is None or trends[j] != 0 or held[j] > 0:
            continue
        best = seg.value_at(bounds[i + 1])
        later = [seg.value_at(b) for b in bounds[i + 2 :]]
        low = min(later, key=lambda v: sign * v)
        if max(sign * v for v in later) < sign * best and sign * (best - low) > SEPARABLE_Z * _floor_sd(
            seg, 0.5 * (best + low)
        ):
            out.append(j)
    return out


def _level_held(seg: Segmentation, bounds: list[float], i: int, sign: float, noise: float) -> bool:
    """Whether segment i's trend moves the curve between two levels that its neighbours hold: the
    mean of the points from the previous segment's start to segment i's middle against the mean from
    there to the next segment's end (the curve's ends for the first and last segment), tested on the
    means' noise (``noise.mean_change_z``: m points worth fewer by their lag-1 correlation, the
    larger of the fit's residuals' and of the points around their own level's mean) at
    ``SEPARABLE_Z``, not ``Z95``: consecutive evaluations of one fixed eval set are correlated
    beyond what an AR(1) estimate from a few dozen points can show."""
    x = seg.steps
    lo, hi = bounds[max(i - 1, 0)], bounds[min(i + 2, len(bounds) - 1)]
    mid = 0.5 * (bounds[i] + bounds[i + 1])
    before, after = seg.values[(x >= lo) & (x < mid)], seg.values[(x >= mid) & (x <= hi)]
    # The points' correlation, the larger of the fit's residuals' and the two levels' own (a fit
    # with knots follows part of a slow wander, which its residuals then cannot show).
    levels = (
        np.concatenate([before - before.mean(), after - after.mean()]) if len(before) and len(after) else []
    )
    r = max(residual_lag1(seg.values - seg.fitted), residual_lag1(levels))
    z = mean_change_z(before, after, noise, r)
    if not (np.sign(z) == np.sign(sign * seg.slopes[i]) and abs(z) >= SEPARABLE_Z):
        return False
    # A step, not a drift: slow wander moves a correlated curve's level as far, one small move at a
    # time, so one move between consecutive evaluations (the segment's, and those into and out of
    # it) must exceed SEPARABLE_Z sd of a first difference.
    k = np.nonzero((x >= bounds[i]) & (x <= bounds[i + 1]))[0]
    moves = np.sign(z) * np.diff(seg.values[max(k[0] - 1, 0) : k[-1] + 2]) if len(k) else np.zeros(0)
    step_sd = first_difference_sd(seg.values) * np.sqrt(2.0)
    return bool(len(moves) and step_sd > 0 and moves.max() >= SEPARABLE_Z * step_sd)


def _falls_below_start(seg: Segmentation, bounds: list[float], sign: float, trends, beyond) -> list[bool]:
    """``beyond`` kept only where it matters: a small gain counts as no best point only when the
    worsening after it ends below the start level (the fall from the start: a shift). A small gain
    that a decline follows without falling below the start (a long, slow rise on per-step rewards,
    each far noisier than the rise) still counts, as the trend test found it."""
    start = sign * seg.value_at(bounds[0])
    out = []
    for i, far in enumerate(beyond):
        nxt = next((j for j in range(i + 1, len(trends)) if trends[j] != 0), None)
        below = nxt is not None and trends[nxt] < 0 and sign * seg.value_at(bounds[nxt + 1]) < start
        out.append(far or not below)
    return out


def label_phases(
    seg: Segmentation,
    direction: str = "higher",
    t_min: float = 3.0,
    min_change: float = 0.5,
    from_untrained: bool | None = None,
) -> list[Phase]:
    """Turn a ``Segmentation`` into named phases (see the module docstring for the rules).

    Changes the noise floor could make are listed in ``seg.not_separable`` (set here).
    ``from_untrained``: the first point is the model before training (default: the curve starts at
    step 0); when it is not, a worsening from the start that never recovers is an overfit from an
    early best (``EARLY_BEST``), not a shift."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")
    if seg.stages:
        return _label_stages(seg, direction, t_min, min_change, from_untrained)
    sign = 1.0 if direction == "higher" else -1.0
    x = seg.steps
    bounds = [float(x[0]), *seg.changepoints, float(x[-1])]
    bound_ci = [(bounds[0], bounds[0]), *seg.ci, (bounds[-1], bounds[-1])]
    uncertain = [False, *seg.uncertain, False]
    # Changes are measured between the fit's own events (its turning points), where the fitted
    # curve has its extremes; the phases start where the data have them (``seg.changepoints``).
    fit_bounds = [bounds[0], *(seg.fit_events or seg.changepoints), bounds[-1]]
    trends, beyond, seg.not_separable = _trends(seg, fit_bounds, sign, t_min, min_change)
    labels = segment_labels(trends, beyond)
    untrained = float(x[0]) == 0.0 if from_untrained is None else from_untrained
    early = not untrained and _is_early_best(labels)
    labels = ["overfit" if early and lab == "shift" else lab for lab in labels]
    dips = _recovered_dips(seg, fit_bounds, sign, labels)
    labels = ["plateau" if i in dips else lab for i, lab in enumerate(labels)]
    initial = seg.value_at(bounds[0])
    phases = []
    for lab, a, b in _runs(labels):
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
            uncertain=bool(uncertain[a]),
        )
        ph.extra = _phase_stats(ph, seg, sign, initial)
        if early and lab == "overfit":
            ph.extra["note"] = EARLY_BEST
        if dips.intersection(range(a, b + 1)):
            ph.extra["note"] = DIP
        phases.append(ph)
    return phases


def _runs(labels: list[str]) -> list[tuple[str, int, int]]:
    """(label, first segment, last segment) per phase: adjacent plateaus merged, nothing else."""
    runs: list[tuple[str, int, int]] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab == "plateau":
            runs[-1] = (lab, runs[-1][1], i)
        else:
            runs.append((lab, i, i))
    return runs


def _label_stages(seg, direction, t_min, min_change, from_untrained) -> list[Phase]:
    """Each stage labelled on its own; a later stage starts at its known switch (its own start)."""
    phases, seg.not_separable = [], []
    for i, st in enumerate(seg.stages):
        first = from_untrained if i == 0 else True
        for j, ph in enumerate(label_phases(st, direction, t_min, min_change, first)):
            ph.stage, ph.fixed = i, bool(i and j == 0)
            phases.append(ph)
        seg.not_separable += st.not_separable
    return phases


DIP = "a worsening that a later improvement regains: a transient dip, not an overfit"
"""The note on a plateau that holds a recovered dip (``_recovered_dips``)."""


def _recovered_dips(seg: Segmentation, bounds: list[float], sign: float, labels: list[str]) -> set[int]:
    """Segments of an overfit that the curve regains: an overfit is the decline from the curve's best
    point, so a run of overfit (and plateau) segments after which the fitted curve comes back to at
    least the level the run fell from had no best point at its start; it is a transient dip."""
    dips: set[int] = set()
    i = 0
    while i < len(labels):
        if labels[i] != "overfit":
            i += 1
            continue
        j = i
        while j + 1 < len(labels) and labels[j + 1] in ("overfit", "plateau"):
            j += 1
        top = sign * seg.value_at(bounds[i])
        if any(sign * seg.value_at(b) >= top for b in bounds[j + 2 :]):
            dips.update(k for k in range(i, j + 1) if labels[k] == "overfit")
        i = j + 1
    return dips


EARLY_BEST = "declining from the first evaluation: overfit, or an early best before logging started"
"""The note on an overfit read from a curve that does not start at the untrained model."""


def _is_early_best(labels: list[str]) -> bool:
    """Without a step-0 evaluation the first point is already trained: a worsening from it that
    no improvement ever follows is an overfit from a best at (or before) the first evaluation."""
    return "shift" in labels and not any(lab in ("readapt", "improve") for lab in labels)


def _phase_stats(ph: Phase, seg: Segmentation, sign: float, initial: float) -> dict:
    if ph.label == "shift":
        # The shift ends at its worst point (the data's extreme, ``extremes``), as an overfit starts
        # at its best: its worst is read there, on the fitted curve.
        return {
            "depth": float(sign * (initial - ph.end_value)),
            "worst_step": ph.end_step,
            "worst_value": ph.end_value,
        }
    if ph.label == "overfit":
        return {
            "onset_step": ph.start_step,
            "best_step": ph.start_step,
            "best_value": ph.start_value,
            "decline": float(sign * (ph.start_value - ph.end_value)),
        }
    if ph.label == "improve":
        return {"gain": float(sign * (ph.end_value - ph.start_value))}
    return {}
