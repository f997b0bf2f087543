"""Compare arms by their phases and end points, honestly about noise.

For every arm, over its seeds: base (first value), worst and best value (for accuracy: the bottom
of the dip and the peak) with their steps, final value and the area under the curve; for each phase
(shift, readapt, overfit, improve, plateau) its presence rate over seeds and, where present, depth,
duration, onset and recovery step. Then every pair of arms on the final and the best value.

Statistics (docs/statistics.md says why each, with the departures from the textbook):

- Per-quantity spread over replicates: mean ± sample std, percentile-bootstrap and Student-t CIs of
  the mean (``seedstats.summarize_values``), and rliable's interquartile mean where there are at
  least 4 replicates (``rliable_stats.iqm``).
- Pairwise (``pairwise``): where both arms have per-problem results, a paired hierarchical
  bootstrap over replicates (world, seed) and problems (``paired``); otherwise Welch over seeds with
  the exact permutation p and Hedges' g (``seedstats``), or, with one seed, the eval set's binomial
  noise. Each entry names its ``test``. Holm's correction runs over the whole family
  (``multiplicity``), and "better" needs the corrected interval to exclude 0.
- Eval-set noise: when the metric is a rate measured on a known number ``eval_n`` of held-out
  problems, each arm's value carries a binomial standard error √(p(1−p)/n); the unpaired tests do
  not contain it (the held-out set is the same for every seed), so the report states whether a
  difference exceeds it. The paired bootstrap resamples the problems, so its interval contains it.
- World draws: with more than one, ``worlds`` holds each arm's mean per world and their spread.
- ``auc`` is the trapezoid area divided by the step span: the curve's average level over training,
  in metric units, comparable between runs of different lengths.

Pure functions on the tidy frame of ``load_curves``; no torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phasescope.analysis.budget_axis import RISING_TEXT, matched_points, resolve_axis
from phasescope.analysis.curves import curves_for
from phasescope.analysis.noise import Z95, binomial_se
from phasescope.analysis.paired import build_paired
from phasescope.analysis.pairwise import pairwise
from phasescope.analysis.phasepoints import phase_points
from phasescope.analysis.phases import PHASES
from phasescope.analysis.replicates import replicate_points, world_spread
from phasescope.analysis.rliable_stats import iqm
from phasescope.analysis.seedstats import (  # noqa: F401 (hedges_g, permutation_p, welch: re-export)
    hedges_g,
    permutation_p,
    summarize_values,
    welch,
)
from phasescope.analysis.segment_results import _num, segment_frame
from phasescope.analysis.verdict import matched_verdict, verdict
from phasescope.errors import PhasescopeError

# ----------------------------------------------------------------------------------------------
# Curves (pure)


def auc(steps, values) -> float:
    """Trapezoid area over the step span divided by the span: the average level of the curve."""
    x, y = np.asarray(steps, float), np.asarray(values, float)
    if len(x) < 2 or x[-1] == x[0]:
        return float(y.mean())
    area = float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)
    return area / float(x[-1] - x[0])


# ----------------------------------------------------------------------------------------------
# Per-seed quantities


def curve_points(steps, y, direction: str) -> dict:
    """base, worst/best (with steps), final and auc of one seed's curve."""
    y = np.asarray(y, float)
    good = y if direction == "higher" else -y
    iw, ib = int(np.argmin(good)), int(np.argmax(good))
    return {
        "base": float(y[0]),
        "worst": float(y[iw]),
        "worst_step": float(steps[iw]),
        "best": float(y[ib]),
        "best_step": float(steps[ib]),
        "final": float(y[-1]),
        "auc": auc(steps, y),
    }


PHASE_QUANTITIES = ("depth", "duration", "onset", "recovery")


# ----------------------------------------------------------------------------------------------
# The comparison


def compare_frame(
    frame: pd.DataFrame,
    metric: str,
    *,
    direction: str,
    eval_n: int | None = None,
    segments: list[dict] | None = None,
    fixed_knots: dict | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    budget_axis: str | None = None,
    problems: dict | None = None,
) -> tuple[dict, list[str]]:
    """Compare every run (arm) of ``metric`` (a name in ``frame``) in a tidy frame. Returns
    (JSON-ready dict, notes). Everything is given: ``eval_n`` (a rate's eval-set size, or None),
    ``segments`` (the runs' results of ``segment_frame``; when None they are segmented here with
    ``fixed_knots``, {run: first steps of later stages}). ``pipeline.analyse`` resolves them.
    ``budget_axis`` (default budget/updates, see ``budget_axis``) is where arms are matched.
    ``problems`` ({(run, replicate key): (steps, ids, correct)}, ``paired.load_problem_bits``) makes
    the pairs with per-problem results on both sides paired; without it every pair is tested over
    seeds."""
    curves, notes = curves_for(frame, metric)
    axis, more = resolve_axis(frame, budget_axis)
    notes += more
    matched = matched_points(frame, curves, direction, axis, eval_n)
    segs = segments
    if segs is None:
        try:
            segs, more = segment_frame(frame, metric, direction, eval_n=eval_n, fixed_knots=fixed_knots)
            notes += more
        except PhasescopeError as exc:
            segs = []
            notes.append(f"no phases: {exc}")
    seg_by_run = {s["run"]: s for s in segs}
    rng = np.random.default_rng(seed)
    arms = {
        c.run: _arm_entry(c, matched["arms"][c.run], seg_by_run.get(c.run), direction, eval_n, n_boot, rng)
        for c in curves
    }
    result = {"metric": metric, "direction": direction, "eval_n": eval_n, "budget_axis": axis}
    result.update(matched_budget=matched["matched_budget"], arms=arms, pairwise=[])
    if axis == "step":
        result["budget_note"] = more[0] if more else "arms matched on step"
    reps = replicate_points(frame, metric, direction, axis, matched["matched_budget"])
    paired = build_paired(reps, problems or {}, direction, notes, seed)
    result["pairwise"], result["multiplicity"] = pairwise(result, paired)
    result["worlds"] = world_spread(reps)
    result["verdict"] = matched_verdict(result) + " " + verdict(result)
    return _jsonable(result), notes


def _arm_entry(c, m: dict, seg: dict | None, direction: str, eval_n, n_boot: int, rng) -> dict:
    """One arm's end points, matched-budget values and phases, each summarised over its replicates."""
    per_seed = [curve_points(x, y, direction) for x, y in c.seed_curves()]
    arm = {"seeds": c.seeds, "n_seeds": len(c.seeds), "source": c.source, "n_points": len(c.steps)}
    for q in ("base", "worst", "worst_step", "best", "best_step", "final", "auc"):
        arm[q] = summarize_values([s[q] for s in per_seed], n_boot, rng)
    _add_matched(arm, m, n_boot, rng)
    for q in ("final", "best", "at_matched"):
        arm[q]["iqm"] = iqm(arm[q]["values"])
    if eval_n:
        for q in ("base", "final", "best", "at_matched"):
            if arm[q]["mean"] is not None:
                arm[q].update(_binomial(arm[q]["mean"], eval_n))
    if seg is not None:
        seed_segs = seg.get("seeds") or [{"seed": c.seeds[0], **seg}]
        pts = [phase_points(s["phases"], c.steps, c.values[i], direction) for i, s in enumerate(seed_segs)]
        arm["phases"] = _phase_summary(pts, n_boot, rng)
        arm["segmentation"] = seg
    return arm


def _add_matched(arm: dict, m: dict, n_boot: int, rng) -> None:
    """An arm's matched-budget entries (``budget_axis.matched_points``), its value there summarised."""
    arm["at_matched"] = summarize_values(m["at_matched"], n_boot, rng)
    arm["at_fraction"], arm["end_budget"] = m["at_fraction"], m["end_budget"]
    arm["still_rising"], arm["rising_seeds"] = m["still_rising"], m["rising_seeds"]
    if m["still_rising"]:
        arm["flag"] = RISING_TEXT


def _phase_summary(pts: list[dict], n_boot: int, rng) -> dict:
    """Per phase label over seeds: presence, each quantity summarised, and recovery steps."""
    phases = {}
    for label in PHASES:
        present = [p[label] for p in pts if p[label]["present"]]
        entry = {"presence": len(present) / len(pts), "n_present": len(present), "n": len(pts)}
        for q in PHASE_QUANTITIES:
            vals = [p.get(q) for p in present]
            if any(v is not None for v in vals):
                entry[q] = summarize_values(vals, n_boot, rng)
        if label in ("shift", "readapt") and present:
            entry["recovered"] = sum(p.get("recovery") is not None for p in present)
            entry["recovery_steps"] = [p.get("recovery") for p in present]
        phases[label] = entry
    return phases


def _binomial(p: float, n: int) -> dict:
    """The binomial standard error and 95% interval of a rate measured once on n problems: the
    interval a single seed's value carries."""
    se = binomial_se(p, n)
    return {"eval_se": se, "ci_binomial": [max(0.0, p - Z95 * se), min(1.0, p + Z95 * se)]}


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, bool | str) or x is None:
        return x
    if isinstance(x, int | float | np.integer | np.floating):
        return _num(x)
    return x
