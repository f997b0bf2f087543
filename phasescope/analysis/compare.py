"""Compare arms by their phases and end points, honestly about noise.

For every arm, over its seeds: base (first value), worst and best value (for accuracy: the bottom
of the dip and the peak) with their steps, final value and the area under the curve; for each phase
(shift, readapt, overfit, improve, plateau) its presence rate over seeds and, where present, depth,
duration, onset and recovery step. Then every pair of arms on the final and the best value.

Statistics, and where they depart from the textbook:

- Per-quantity spread: mean ± sample std over seeds, a percentile bootstrap CI of the mean (as
  asked for), *and* a Student-t CI. With the 2–5 seeds post-training experiments can afford, the
  bootstrap CI is too narrow (3 values have 10 distinct resamples), so the t interval is the one to
  quote; both are stored.
- Pairwise: difference of means with a Welch t interval and p-value (unequal variances, few seeds),
  the exact two-sided permutation p-value over all relabellings (with the smallest p it could
  ever reach, e.g. 0.1 for 3 vs 3 seeds), and Hedges' g with its large-sample normal CI (rough at
  these sample sizes; it says so). With one seed per arm no test is possible: the difference is
  still reported, with a CI from eval-set binomial noise alone.
- Eval-set noise: when the metric is a rate measured on a known number ``eval_n`` of held-out
  problems (``world.n_eval`` in experiment.json), the binomial standard error of each arm's value
  is √(p(1−p)/n). The held-out set is the *same* for every seed and arm, so seed-to-seed spread does
  not contain this noise; the report states whether a difference exceeds it. Treating the two arms'
  errors as independent overstates it slightly (they share problems), which errs on the side of
  caution.
- ``auc`` is the trapezoid area divided by the step span: the curve's average level over training,
  in metric units, comparable between runs of different lengths.

Pure functions on the tidy frame of ``load_curves``; no torch.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from phasescope.analysis.budget_axis import RISING_TEXT, matched_points, resolve_axis
from phasescope.analysis.curves import curves_for
from phasescope.analysis.noise import Z95, binomial_se
from phasescope.analysis.phasepoints import phase_points
from phasescope.analysis.phases import PHASES
from phasescope.analysis.ranking import ranking
from phasescope.analysis.segment_results import _num, segment_frame
from phasescope.analysis.verdict import matched_verdict, verdict
from phasescope.errors import PhasescopeError

# ----------------------------------------------------------------------------------------------
# Small-sample statistics (pure)


def _t_quantile(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def summarize_values(values, n_boot: int = 2000, rng: np.random.Generator | int | None = 0) -> dict:
    """Mean, std (ddof=1), bootstrap and t 95% CIs of the mean over seeds; per-seed values kept.
    CIs are None with fewer than two values (no spread to estimate)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    out = {
        "n": int(len(x)),
        "values": [float(v) for v in x],
        "mean": None,
        "std": None,
        "ci": None,
        "ci_t": None,
    }
    if len(x) == 0:
        return out
    out["mean"] = float(x.mean())
    if len(x) < 2:
        return out
    out["std"] = float(x.std(ddof=1))
    rng = np.random.default_rng(rng)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    out["ci"] = [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]
    half = _t_quantile(len(x) - 1) * out["std"] / math.sqrt(len(x))
    out["ci_t"] = [out["mean"] - half, out["mean"] + half]
    return out


def welch(a, b) -> dict:
    """Welch's t test of mean(a) − mean(b) (scipy's ttest_ind(equal_var=False)): diff, 95% CI, t, df,
    two-sided p. Needs ≥ 2 values per side; zero spread on both sides gives no test (None fields)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    out = {"diff": diff, "ci": None, "t": None, "df": None, "p": None}
    # scipy answers nan here; None says "no test" to the report and the JSON alike.
    if len(a) < 2 or len(b) < 2 or a.var(ddof=1) + b.var(ddof=1) == 0:
        return out
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    out.update(ci=[float(ci.low), float(ci.high)], t=float(res.statistic), df=float(res.df))
    out["p"] = float(res.pvalue)
    return out


def permutation_p(
    a, b, max_exact: int = 20000, n_random: int = 20000, rng=0
) -> tuple[float | None, float | None]:
    """Two-sided permutation p-value of the difference in means (scipy's permutation_test on
    |mean(a) − mean(b)|, not its 2·min(one-sided p), which differs for unequal group sizes), and the
    smallest p the design can reach. Exact over every relabelling when there are at most `max_exact`
    (always, for seed counts), else `n_random` random ones. None unless both groups hold two or
    more finite values (fewer seeds than a test needs is no test, not an error)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return None, None
    total = math.comb(len(a) + len(b), len(a))
    res = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis)),
        permutation_type="independent",
        vectorized=True,
        n_resamples=total if total <= max_exact else n_random,
        alternative="greater",
        random_state=rng,
    )
    null = res.null_distribution
    # A tolerance so ties from floating-point summation count as ties.
    p_min = float(np.mean(null >= null.max() - 1e-12 * max(1.0, null.max())))
    return float(res.pvalue), p_min


def hedges_g(a, b) -> tuple[float | None, list[float] | None]:
    """Hedges' g (bias-corrected standardised mean difference) and its normal-approximation 95% CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None, None
    sp = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if sp == 0:
        return None, None
    j = 1 - 3 / (4 * (na + nb) - 9)
    g = j * (a.mean() - b.mean()) / sp
    se = math.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    return float(g), [float(g - Z95 * se), float(g + Z95 * se)]


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
) -> tuple[dict, list[str]]:
    """Compare every run (arm) of ``metric`` (a name in ``frame``) in a tidy frame. Returns
    (JSON-ready dict, notes). Everything is given: ``eval_n`` (a rate's eval-set size, or None),
    ``segments`` (the runs' results of ``segment_frame``; when None they are segmented here with
    ``fixed_knots``, {run: first steps of later stages}). ``pipeline.analyse`` resolves them.
    ``budget_axis`` (default budget/updates, see ``budget_axis``) is where arms are matched."""
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
    arms = {}
    for c in curves:
        per_seed = [curve_points(x, y, direction) for x, y in c.seed_curves()]
        arm = {"seeds": c.seeds, "n_seeds": len(c.seeds), "source": c.source, "n_points": len(c.steps)}
        for q in ("base", "worst", "worst_step", "best", "best_step", "final", "auc"):
            arm[q] = summarize_values([s[q] for s in per_seed], n_boot, rng)
        _add_matched(arm, matched["arms"][c.run], n_boot, rng)
        if eval_n:
            for q in ("base", "final", "best", "at_matched"):
                if arm[q]["mean"] is not None:
                    arm[q].update(_binomial(arm[q]["mean"], eval_n))
        seg = seg_by_run.get(c.run)
        if seg is not None:
            seed_segs = seg.get("seeds") or [{"seed": c.seeds[0], **seg}]
            pts = [
                phase_points(s["phases"], c.steps, c.values[i], direction) for i, s in enumerate(seed_segs)
            ]
            arm["phases"] = _phase_summary(pts, n_boot, rng)
            arm["segmentation"] = seg
        arms[c.run] = arm
    result = {"metric": metric, "direction": direction, "eval_n": eval_n, "budget_axis": axis}
    result.update(matched_budget=matched["matched_budget"], arms=arms, pairwise=[])
    if axis == "step":
        result["budget_note"] = more[0] if more else "arms matched on step"
    result["pairwise"] = _pairs(result)
    result["verdict"] = matched_verdict(result) + " " + verdict(result)
    return _jsonable(result), notes


def _add_matched(arm: dict, m: dict, n_boot: int, rng) -> None:
    """An arm's matched-budget entries (``budget_axis.matched_points``), its value there summarised."""
    arm["at_matched"] = summarize_values(m["at_matched"], n_boot, rng)
    arm["at_fraction"], arm["end_budget"] = m["at_fraction"], m["end_budget"]
    arm["still_rising"], arm["rising_seeds"] = m["still_rising"], m["rising_seeds"]
    if m["still_rising"]:
        arm["flag"] = RISING_TEXT


def _pairs(result: dict) -> list[dict]:
    """Every pair on final, best and at_matched, in ranking order (better final first), so most
    differences read as positive leads."""
    arms, out = result["arms"], []
    for a, b in itertools.combinations(ranking(result), 2):
        for q in ("final", "best", "at_matched"):
            if arms[a][q]["n"] and arms[b][q]["n"]:
                out.append(_pair(a, b, q, arms, result["eval_n"], result["direction"]))
    return out


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


def _pair(a: str, b: str, q: str, arms: dict, eval_n: int | None, direction: str) -> dict:
    va, vb = arms[a][q]["values"], arms[b][q]["values"]
    w = welch(va, vb)
    p_perm, p_min = permutation_p(va, vb)
    g, g_ci = hedges_g(va, vb)
    out = {
        "a": a,
        "b": b,
        "quantity": q,
        "n_a": len(va),
        "n_b": len(vb),
        "mean_a": float(np.mean(va)),
        "mean_b": float(np.mean(vb)),
        "diff": w["diff"],
        "ci": w["ci"],
        "ci_method": "welch-t" if w["ci"] else None,
        "t": w["t"],
        "df": w["df"],
        "p_welch": w["p"],
        "p_perm": p_perm if len(va) >= 2 and len(vb) >= 2 else None,
        "p_perm_min": p_min if len(va) >= 2 and len(vb) >= 2 else None,
        "hedges_g": g,
        "g_ci": g_ci,
        "better": None,
    }
    if eval_n:
        # Eval-set binomial noise of the difference of two (seed-averaged) rates on the same problems.
        se = math.sqrt(binomial_se(out["mean_a"], eval_n) ** 2 + binomial_se(out["mean_b"], eval_n) ** 2)
        out["eval_noise_ci"] = [out["diff"] - Z95 * se, out["diff"] + Z95 * se]
        out["exceeds_eval_noise"] = abs(out["diff"]) > Z95 * se
        if out["ci"] is None:
            out["ci"], out["ci_method"] = out["eval_noise_ci"], f"binomial (eval set n={eval_n})"
    caveats = []
    if min(len(va), len(vb)) < 2:
        caveats.append("one seed: no test of seed-to-seed variation is possible")
    elif w["ci"] is None:
        caveats.append("no spread between seeds: the t test is undefined")
    else:
        if min(len(va), len(vb)) < 5:
            caveats.append(
                f"{len(va)} vs {len(vb)} seeds: Welch p is approximate; the exact permutation p "
                f"cannot go below {out['p_perm_min']:.3g}"
            )
    out["caveat"] = "; ".join(caveats)
    ci = out["ci"]
    if ci is not None and (ci[0] > 0 or ci[1] < 0):
        sign = 1 if out["diff"] > 0 else -1
        if direction == "lower":
            sign = -sign
        out["better"] = a if sign > 0 else b
    return out


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
