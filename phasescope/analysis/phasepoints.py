"""One seed's phases as the quantities a comparison averages over seeds: for each phase label,
whether it is present, its onset, end, duration, depth (gain for improve, decline for overfit) and,
for a shift, the step the curve is back at its base. Consecutive spans of one label (two readapt
spans in a row) count as one phase. ``recovery_step`` is the one definition of when a curve is
back at its base, which the segment results use too.
"""

from __future__ import annotations

import numpy as np

from phasescope.analysis.phases import PHASES


def recovery_step(steps, y, worst_step, direction: str = "higher") -> float | None:
    """First evaluated step after the worst point of a shift at which the curve is back at or
    beyond its base (the step-0 value) in the good direction; None when it never is."""
    x, v = np.asarray(steps, float), np.asarray(y, float)
    if worst_step is None or len(v) == 0:
        return None
    good = v >= v[0] if direction == "higher" else v <= v[0]
    after = np.nonzero(good & (x > worst_step))[0]
    return float(x[after[0]]) if len(after) else None


def phase_points(phases: list[dict], steps=None, y=None, direction: str = "higher") -> dict:
    """Per phase label in one seed's segmentation: present?, depth, duration, onset, recovery step.
    Given the seed's curve, recovery is the first evaluated step at or beyond the base (step-0
    value) after the shift's worst point, wherever it falls (an arm may recover in a later stage)."""
    out = {}
    shift = next((p for p in phases if p["label"] == "shift"), None)
    rec = None
    if shift is not None and y is not None:
        rec = recovery_step(steps, y, shift.get("worst_step"), direction)
    elif shift is not None:
        rec = next((p.get("recover_step") for p in phases if p["label"] == "readapt"), None)
    for label in PHASES:
        found = [p for p in phases if p["label"] == label]
        if not found:
            out[label] = {"present": False}
            continue
        p = _merged(phases, found[0])
        d = {
            "present": True,
            "onset": p["start_step"],
            "end": p["end_step"],
            "duration": p["end_step"] - p["start_step"],
        }
        if label == "shift":
            d["depth"] = p.get("depth")
            d["worst_step"] = p.get("worst_step")
            d["recovery"] = rec
        elif label == "readapt":
            d["recovery"] = rec if shift is not None else p.get("recover_step")
        elif label == "overfit":
            d["depth"] = p.get("decline")
        elif label == "improve":
            d["depth"] = p.get("gain")
        out[label] = d
    return out


def _merged(phases: list[dict], first: dict) -> dict:
    """The first span of a label joined with the spans of the same label right after it (two
    readapt spans in a row are one readapt phase): onset of the first, end of the last, the
    largest depth/decline and the summed gain."""
    i = phases.index(first)
    run = [first]
    for q in phases[i + 1 :]:
        if q["label"] != first["label"]:
            break
        run.append(q)
    out = {**first, "end_step": run[-1]["end_step"]}
    for k in ("depth", "decline"):
        vals = [q[k] for q in run if q.get(k) is not None]
        if vals:
            out[k] = max(vals)
    if first.get("gain") is not None:
        out["gain"] = sum(q.get("gain") or 0.0 for q in run)
    return out
