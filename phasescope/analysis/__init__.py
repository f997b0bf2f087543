"""Read learning curves from any trainer and segment them into shift / readapt / overfit phases.

Never imports torch, so curves can be analysed on a machine without a GPU stack. Public API::

    frame, notes = load_curves("runs/my_exp")           # tidy: run, seed, step, metric, value, source
    results, notes = segment_frame(frame, "eval/accuracy")   # one JSON-ready dict per run
    seg = PhaseSegmenter().fit(steps, values).predict()      # changepoints (steps) with CIs
    phases = label_phases(seg, direction="higher")           # named phases with statistics
    print(format_table(results[0]))                          # table + sentences in the curve's direction
"""

from phasescope.analysis.curves import Curve, curves_for, infer_direction, metric_table, resolve_metric
from phasescope.analysis.phases import PHASES, Phase, label_phases
from phasescope.analysis.results import describe, format_table, segment_arrays, segment_curve, segment_frame
from phasescope.analysis.segment import MIN_POINTS, PhaseSegmenter, Segmentation
from phasescope.runlog.importers import load_curves

__all__ = [
    "PHASES",
    "MIN_POINTS",
    "Curve",
    "Phase",
    "PhaseSegmenter",
    "Segmentation",
    "curves_for",
    "describe",
    "format_table",
    "infer_direction",
    "label_phases",
    "load_curves",
    "metric_table",
    "resolve_metric",
    "segment_arrays",
    "segment_curve",
    "segment_frame",
]
