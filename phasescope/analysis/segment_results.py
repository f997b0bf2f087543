"""Segment every curve of a metric into the per-run result dicts (what `phasescope segment --json`
prints), and render one as a readable table with sentences in the curve's own direction. Pure: the
metric, direction, eval-set size and fixed knots are given (``pipeline.analyse`` resolves them).

Seeds of one run are segmented on their mean curve (intervals bootstrapped over seeds), with each
seed's own segmentation alongside under ``"seeds"``. Extra keys beyond the stable format (the same
for both directions): ``run``, ``direction``, ``noise_sigma``, ``eval_n``, ``ease``,
``changepoint_ci``, ``changepoint_uncertain``, ``changepoint_fixed``, ``no_phases`` (None, or why
there is no phase), ``not_separable`` (changes within the eval set's binomial noise), ``spikes``
(steps fitted as their neighbours' line, ``outliers``) and per-phase
statistics (see ``phases``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from phasescope.analysis.curves import Curve, curves_for
from phasescope.analysis.noise import SEPARABLE_Z
from phasescope.analysis.phasepoints import recovery_step
from phasescope.analysis.phases import NAMED, label_phases
from phasescope.analysis.segment import MIN_POINTS, PhaseSegmenter
from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.names import rate_hint


def _num(x):
    """JSON-friendly number: integral steps print as ints, numpy scalars become Python ones."""
    if x is None:
        return None
    if isinstance(x, list | tuple):
        return [_num(v) for v in x]
    x = float(x)
    if not math.isfinite(x):
        return None
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def segment_arrays(
    steps,
    values,
    direction: str = "higher",
    segmenter: PhaseSegmenter | None = None,
    eval_n: int | None = None,
    fixed_knots=None,
    rate: bool | None = None,
) -> dict:
    """Segment one curve (values 1-D, or 2-D seeds x steps) into the per-curve JSON dict
    (without ``metric``/``source``). ``eval_n``, ``fixed_knots`` and ``rate`` (whether the values
    are shares of problems, from the metric's name) override the segmenter's."""
    segmenter = segmenter or PhaseSegmenter()
    given = (("eval_n", eval_n), ("fixed_knots", fixed_knots), ("rate", rate))
    overrides = {k: v for k, v in given if v is not None}
    if overrides:
        segmenter = PhaseSegmenter(**(segmenter.get_params() | overrides))
    seg = segmenter.fit(steps, values).predict()
    phases = label_phases(seg, direction)
    out = {
        "direction": direction,
        "n_points": len(seg.steps),
        "changepoints": [_num(p.start_step) for p in phases[1:]],
        "changepoint_ci": [_num(list(p.ci)) for p in phases[1:]],
        "changepoint_uncertain": [p.uncertain for p in phases[1:]],
        "changepoint_fixed": [p.fixed for p in phases[1:]],
        "noise_sigma": float(seg.sigma),
        "eval_n": seg.eval_n,
        "noise": seg.noise,
        "ease": _num(seg.ease),
        "no_phases": _no_phases(seg, phases),
        "not_separable": [{k: _num(v) for k, v in d.items()} for d in seg.not_separable],
        "spikes": [_num(v) for v in seg.spikes],
        "phases": [
            {k: v if isinstance(v, str | bool) else _num(v) for k, v in p.to_dict().items()} for p in phases
        ],
    }
    _evaluated_recovery(out["phases"], steps, values, direction)
    return out


def _evaluated_recovery(phases: list[dict], steps, values, direction: str) -> None:
    """Recovery (``phasepoints.recovery_step``) on the data rather than the fitted line (which
    crosses between evaluations, e.g. at step 334.8), wherever it happens. Set on the shift and on
    the readapt spans after it (``recover_step``, ``time_to_recover``); None when the curve never
    gets back."""
    y = np.asarray(values, float)
    y = y.mean(axis=0) if y.ndim == 2 else y
    rec = None
    for p in phases:
        if p["label"] == "shift":
            rec = _num(recovery_step(steps, y, p.get("worst_step"), direction))
            p["recover_step"] = rec
        if p["label"] in ("shift", "readapt") and any(q["label"] == "shift" for q in phases):
            p["recover_step"] = rec
            p["time_to_recover"] = None if rec is None else _num(rec - p["start_step"])


def _no_phases(seg, phases) -> str | None:
    if any(p.label in NAMED for p in phases):
        return None
    if seg.constant:
        return "constant"
    return "not separable from noise" if seg.not_separable else "no significant trend"


def segment_curve(
    curve: Curve,
    direction: str,
    segmenter: PhaseSegmenter | None = None,
    eval_n: int | None = None,
    fixed_knots=None,
) -> dict:
    """The JSON dict for one run's curve: its mean over replicates (world draw, seed), plus each
    replicate's own result under "seeds" (with its "seed" and "world")."""
    out = {"metric": curve.metric, "source": curve.source, "run": curve.run}
    rate = rate_hint(curve.metric)
    out.update(segment_arrays(curve.steps, curve.values, direction, segmenter, eval_n, fixed_knots, rate))
    worlds = curve.worlds or [0] * len(curve.seeds)
    if len(curve.seeds) > 1:
        out["seeds"] = [
            {
                "seed": s,
                "world": w,
                **segment_arrays(
                    curve.steps, curve.values[i], direction, segmenter, eval_n, fixed_knots, rate
                ),
            }
            for i, (s, w) in enumerate(zip(curve.seeds, worlds))
        ]
    return out


def usable_knots(steps, knots) -> tuple[list | None, list, float | None]:
    """Plan the stages of one curve from its fixed knots (first steps of later stages): the knots
    kept (every stage left with enough points to be segmented on its own), those dropped (a short
    stage inside the run is read with the one before it) and ``cut``: the first step of a short
    *last* stage (the 4 evaluations after the SFT->RL switch of a short run), which is left unread
    rather than read across the switch."""
    if knots is None or len(knots) == 0:
        return None, [], None
    x = np.asarray(steps, float)
    inside = sorted(k for k in knots if 0 < np.searchsorted(x, k) < len(x))
    end, cut = len(x), None
    if inside:
        last = int(np.searchsorted(x, inside[-1]))
        if len(x) - last < MIN_POINTS and last >= MIN_POINTS:
            end, cut = last, inside.pop()
    kept, dropped, prev = [], [], 0
    for j, k in enumerate(inside):
        i = int(np.searchsorted(x, k))
        nxt = int(np.searchsorted(x, inside[j + 1])) if j + 1 < len(inside) else end
        if i - prev >= MIN_POINTS and nxt - i >= MIN_POINTS:
            kept.append(k)
            prev = i
        else:
            dropped.append(k)
    return kept or None, dropped, cut


def _plan(c: Curve, name: str, knots) -> tuple[Curve, list | None, float | None, list[str]]:
    """The curve to segment (without a short last stage), its fixed knots, and notes."""
    knots, dropped, cut = usable_knots(c.steps, knots)
    notes = []
    if dropped:
        notes.append(
            f"{c.run}: {name} has fewer than {MIN_POINTS} points in the stage starting at step "
            f"{', '.join(_s(_num(k)) for k in dropped)}; read with the stage before it"
        )
    if cut is not None:
        keep = c.steps < cut
        notes.append(
            f"{c.run}: the last stage of {name} (from step {_s(_num(cut))}) has {int((~keep).sum())} "
            f"point(s), fewer than the {MIN_POINTS} a stage needs: its phases are not read"
        )
        c = Curve(c.run, c.metric, c.source, c.steps[keep], c.values[:, keep], c.seeds, worlds=c.worlds)
    return c, knots, cut, notes


def segment_frame(
    frame: pd.DataFrame,
    metric: str,
    direction: str,
    segmenter: PhaseSegmenter | None = None,
    eval_n: int | dict | None = None,
    fixed_knots: list | dict | None = None,
) -> tuple[list[dict], list[str]]:
    """Segment ``metric`` (a name in ``frame``) for every run in a tidy frame (from ``load_curves``).

    Returns (one JSON dict per run, notes). ``eval_n`` (problems in the eval set) and
    ``fixed_knots`` (first steps of later stages) may be given per run as ``{run: value}``. Runs
    whose curve is too short are skipped with a note; if every curve is too short this raises
    ``PhasescopeError``. ``pipeline.analyse`` resolves the name, direction, eval_n and knots.
    """
    if direction not in ("higher", "lower"):
        raise UsageError(f"--direction must be 'higher' or 'lower', not {direction!r}")
    notes: list[str] = []
    name = metric
    curves, more = curves_for(frame, name)
    notes += more
    results, short = [], []
    for c in curves:
        if len(c.steps) < MIN_POINTS:
            short.append(c)
            continue
        n = eval_n.get(c.run) if isinstance(eval_n, dict) else eval_n
        knots = fixed_knots.get(c.run) if isinstance(fixed_knots, dict) else fixed_knots
        part, knots, cut, more = _plan(c, name, knots)
        notes += more
        try:
            results.append(segment_curve(part, direction, segmenter, n, knots))
        except ValueError as exc:  # a stage too short to segment
            raise PhasescopeError(f"{name} in {c.run}: {exc}") from None
        results[-1]["unread_from"] = _num(cut)
        if cut is not None:  # recovery may come in the unread stage: look for it on the whole curve
            _evaluated_recovery(results[-1]["phases"], c.steps, c.values, direction)
            for i, sd in enumerate(results[-1].get("seeds", [])):
                _evaluated_recovery(sd["phases"], c.steps, c.values[i], direction)
    for c in short:
        notes.append(
            f"{c.run}: {name} has {len(c.steps)} point(s); at least {MIN_POINTS} are needed, skipped"
        )
    if not results:
        c = short[0]
        raise UsageError(
            f"{name} in {c.run} has only {len(c.steps)} finite point(s); "
            f"segmenting needs at least {MIN_POINTS} (a longer run, or another metric)"
        )
    return results, notes


def _words(result: dict) -> tuple[str, str, str]:
    """(short metric name, verb when it gets better, verb when it gets worse)."""
    name = result["metric"]
    better, worse = ("rises", "falls") if result["direction"] == "higher" else ("falls", "rises")
    return name, better, worse


def describe_phases(result: dict) -> list[str]:
    """One sentence per phase and per caveat, worded for the curve's direction."""
    name, better, worse = _words(result)
    phases = result["phases"]
    if result.get("no_phases") == "constant":
        return [f"no phases: {name} is constant ({phases[0]['start_value']:.4g} at every step)"]
    out = []
    for p in phases:
        span = f"steps {_s(p['start_step'])}–{_s(p['end_step'])}"
        if p["label"] == "shift":
            rec = p.get("recover_step")
            back = "not back at its base by the end" if rec is None else f"back at its base at step {_s(rec)}"
            out.append(
                f"shift ({span}): {name} {worse} to its worst, {p['worst_value']:.4g} at step "
                f"{_s(p['worst_step'])}, {p['depth']:.4g} worse than where it started; {back}"
            )
        elif p["label"] == "readapt":
            out.append(f"readapt ({span}): {name} {better} by {abs(p['end_value'] - p['start_value']):.4g}")
        elif p["label"] == "overfit":
            out.append(
                f"overfit ({span}): from its best, {p['best_value']:.4g} at step {_s(p['best_step'])}, "
                f"{name} {worse} by {p['decline']:.4g}"
            )
        elif p["label"] == "improve":
            out.append(f"improve ({span}): {name} {better} by {p['gain']:.4g}")
        elif p.get("note"):  # a plateau holding a recovered dip (``phases.DIP``)
            out.append(f"{p['label']} ({span}): {p['note']}")
    out += _caveats(result)
    if result.get("no_phases") and not out:
        out.append(f"no phases: {result['no_phases']}")
    elif result.get("no_phases"):
        out.insert(0, f"no phases: {result['no_phases']}")
    return out


def _caveats(result: dict) -> list[str]:
    name, better, worse = _words(result)
    steps = result["phases"][-1]["end_step"] - result["phases"][0]["start_step"] or 1
    out = []
    for cp, ci, unc, fixed in zip(
        result["changepoints"],
        result["changepoint_ci"],
        result.get("changepoint_uncertain", []),
        result.get("changepoint_fixed", []),
        strict=False,
    ):
        if fixed:
            out.append(f"step {_s(cp)}: a known stage boundary (fixed); each stage is read on its own")
        elif unc:
            why = (
                "no interval"
                if ci[0] == ci[1]
                else f"its 95% CI spans {(ci[1] - ci[0]) / steps:.0%} of the run"
            )
            out.append(f"changepoint at step {_s(cp)} is uncertain ({why})")
    if result.get("unread_from") is not None:
        out.append(
            f"from step {_s(result['unread_from'])}: a last stage with too few points to segment; not read"
        )
    for d in result.get("not_separable", []):
        out.append(
            f"a change of {d['change']:.3g} in {name} (steps {_s(d['start_step'])}–{_s(d['end_step'])}) is not "
            f"separable from the {_floor_words(result)} "
            f"(± {SEPARABLE_Z * d['noise']:.3g}); not called a phase"
        )
    return out


def _floor_words(result: dict) -> str:
    n = result.get("eval_n")
    return f"binomial noise of a {n}-problem eval set" if n else f"noise ({result.get('noise')})"


def format_table(result: dict) -> str:
    """A readable block for one curve's result: the phase table, then sentences (``describe_phases``)."""
    seeds = f", mean of {len(result['seeds'])} seeds" if "seeds" in result else ""
    if any(s.get("world") for s in result.get("seeds", [])):
        seeds = f", mean of {len(result['seeds'])} (world draw, seed) replicates"
    evn = f", eval set of {result['eval_n']}" if result.get("eval_n") else ""
    lines = [
        f"{result['run']} · {result['metric']} ({result['direction']} is better) · "
        f"{result['n_points']} points{seeds}{evn} · noise σ≈{result['noise_sigma']:.3g} · floor: {result.get('noise')}",
        f"  {'phase':<8} {'start':>9} {'end':>9} {'from':>9} {'to':>9} {'slope/step':>11}  start 95% CI",
    ]
    for i, p in enumerate(result["phases"]):
        ci = f"[{_s(p['ci'][0])}, {_s(p['ci'][1])}]" if i else ""
        flag = " fixed" if p.get("fixed") else (" uncertain" if p.get("uncertain") else "")
        lines.append(
            f"  {p['label']:<8} {_s(p['start_step']):>9} {_s(p['end_step']):>9} {p['start_value']:>9.4g} "
            f"{p['end_value']:>9.4g} {p['slope']:>11.3g}  {ci}{flag}"
        )
    lines += [f"  {line}" for line in describe_phases(result)]
    for s in result.get("seeds", []):
        labels = "→".join(p["label"] for p in s["phases"])
        cps = ", ".join(_s(c) for c in s["changepoints"]) or "none"
        world = f"world {s['world']} " if s.get("world") else ""
        lines.append(f"  {world}seed {s['seed']}: {labels} (changepoints: {cps})")
    return "\n".join(lines)


def _s(step) -> str:
    return "-" if step is None else (f"{step:g}" if isinstance(step, float) else str(step))
