"""Segment every curve of a metric and render the result: the JSON of DESIGN.md's "Segment output",
and a readable table. This is the layer the CLI, reports and notebooks call.

Seeds of one run are segmented on their mean curve (intervals bootstrapped over seeds), with each
seed's own segmentation alongside under ``"seeds"``. Extra keys beyond the stable format: ``run``,
``direction``, ``noise_sigma``, ``changepoint_ci`` and per-phase statistics (see ``phases``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from phasescope.analysis.curves import Curve, curves_for, infer_direction, resolve_metric
from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import MIN_POINTS, PhaseSegmenter
from phasescope.errors import PhasescopeError, UsageError


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


def segment_arrays(steps, values, direction: str = "higher", segmenter: PhaseSegmenter | None = None) -> dict:
    """Segment one curve (values 1-D, or 2-D seeds x steps) into the per-curve JSON dict
    (without ``metric``/``source``)."""
    seg = (segmenter or PhaseSegmenter()).fit(steps, values).predict()
    phases = label_phases(seg, direction)
    return {
        "n_points": len(seg.steps),
        "changepoints": [_num(p.start_step) for p in phases[1:]],
        "changepoint_ci": [_num(list(p.ci)) for p in phases[1:]],
        "noise_sigma": float(seg.sigma),
        "phases": [{k: _num(v) if k != "label" else v for k, v in p.to_dict().items()} for p in phases],
    }


def segment_curve(curve: Curve, direction: str, segmenter: PhaseSegmenter | None = None) -> dict:
    """The JSON dict for one run's curve: its mean over seeds, plus per-seed results."""
    out = {"metric": curve.metric, "source": curve.source, "run": curve.run, "direction": direction}
    out.update(segment_arrays(curve.steps, curve.values, direction, segmenter))
    if len(curve.seeds) > 1:
        out["seeds"] = [
            {"seed": s, **segment_arrays(curve.steps, curve.values[i], direction, segmenter)}
            for i, s in enumerate(curve.seeds)
        ]
    return out


def segment_frame(
    frame: pd.DataFrame, metric: str, direction: str | None = None, segmenter: PhaseSegmenter | None = None
) -> tuple[list[dict], list[str]]:
    """Segment ``metric`` for every run in a tidy frame (from ``load_curves``).

    Returns (one JSON dict per run, notes). ``direction`` defaults to what the metric's name says
    (higher for unknown names, with a note). Runs whose curve is too short are skipped with a note;
    if every curve is too short this raises ``PhasescopeError``.
    """
    notes: list[str] = []
    name = resolve_metric(frame, metric)
    if direction is None:
        direction = infer_direction(name)
        if direction is None:
            direction = "higher"
            notes.append(
                f"cannot tell from the name {name!r} whether higher is better; assumed higher (--direction)"
            )
    elif direction not in ("higher", "lower"):
        raise UsageError(f"--direction must be 'higher' or 'lower', not {direction!r}")
    curves, more = curves_for(frame, name)
    notes += more
    results, short = [], []
    for c in curves:
        if len(c.steps) < MIN_POINTS:
            short.append(c)
            continue
        if np.ptp(c.values) == 0:
            notes.append(f"{c.run}: {name} is constant ({c.values.flat[0]:g}); one plateau")
        results.append(segment_curve(c, direction, segmenter))
    for c in short:
        notes.append(
            f"{c.run}: {name} has {len(c.steps)} point(s); at least {MIN_POINTS} are needed, skipped"
        )
    if not results:
        c = short[0]
        raise PhasescopeError(
            f"{name} in {c.run} has only {len(c.steps)} finite point(s); "
            f"segmenting needs at least {MIN_POINTS}"
        )
    return results, notes


def format_table(result: dict) -> str:
    """A readable block for one curve's result."""
    seeds = f", mean of {len(result['seeds'])} seeds" if "seeds" in result else ""
    lines = [
        f"{result['run']} · {result['metric']} ({result['direction']} is better) · "
        f"{result['n_points']} points{seeds} · noise σ≈{result['noise_sigma']:.3g}",
        f"  {'phase':<8} {'start':>9} {'end':>9} {'from':>9} {'to':>9} {'slope/step':>11}  start 95% CI",
    ]
    for i, p in enumerate(result["phases"]):
        ci = f"[{_s(p['ci'][0])}, {_s(p['ci'][1])}]" if i else ""
        lines.append(
            f"  {p['label']:<8} {_s(p['start_step']):>9} {_s(p['end_step']):>9} {p['start_value']:>9.4g} "
            f"{p['end_value']:>9.4g} {p['slope']:>11.3g}  {ci}"
        )
    extras = []
    for p in result["phases"]:
        if p["label"] == "shift":
            extras.append(f"shift depth {p['depth']:.4g} (bottom at step {_s(p['bottom_step'])})")
        elif p["label"] == "readapt":
            rec = p["recover_step"]
            extras.append(
                "never recovers to the initial level" if rec is None else f"recovers at step {_s(rec)}"
            )
        elif p["label"] == "overfit":
            extras.append(
                f"overfit from step {_s(p['onset_step'])} (peak {p['peak_value']:.4g}), drop {p['drop']:.4g}"
            )
    if extras:
        lines.append("  " + "; ".join(extras))
    for s in result.get("seeds", []):
        labels = "→".join(p["label"] for p in s["phases"])
        cps = ", ".join(_s(c) for c in s["changepoints"]) or "none"
        lines.append(f"  seed {s['seed']}: {labels} (changepoints: {cps})")
    return "\n".join(lines)


def _s(step) -> str:
    return "-" if step is None else (f"{step:g}" if isinstance(step, float) else str(step))
