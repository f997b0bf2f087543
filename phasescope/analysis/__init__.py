"""Read learning curves from any trainer and segment them into shift / readapt / overfit phases.

Never imports torch, so curves can be analysed on a machine without a GPU stack. Public API::

    exp = open_experiment("runs/my_exp")          # what the run holds: curves, stage starts, eval sets
    a = analyse(exp, "eval/accuracy")             # metric, direction, noise and knots resolved once
    a.phases                                      # one JSON-ready dict per run (`phasescope segment --json`)
    a.comparison, a.verdict                       # compare.json and its verdict
    print(format_table(a.phases[0]))              # table + sentences in the curve's direction

The estimator underneath, for one curve of your own::

    seg = PhaseSegmenter(fixed_knots=[300]).fit(steps, values).predict()   # changepoints with CIs
    phases = label_phases(seg, direction="higher")                        # named phases, statistics
"""

from phasescope.analysis.curves import Curve, curves_for, infer_direction, metric_table, resolve_metric
from phasescope.analysis.phases import PHASES, Phase, label_phases
from phasescope.analysis.pipeline import Analysis, analyse
from phasescope.analysis.segment import MIN_POINTS, PhaseSegmenter, Segmentation
from phasescope.analysis.segment_results import (
    describe_phases,
    format_table,
    segment_arrays,
    segment_curve,
    segment_frame,
)
from phasescope.runlog.importers import load_curves
from phasescope.runlog.open import Experiment, open_experiment

__all__ = [
    "PHASES",
    "MIN_POINTS",
    "Analysis",
    "Curve",
    "Experiment",
    "Phase",
    "PhaseSegmenter",
    "Segmentation",
    "analyse",
    "curves_for",
    "describe_phases",
    "format_table",
    "infer_direction",
    "label_phases",
    "load_curves",
    "metric_table",
    "open_experiment",
    "resolve_metric",
    "segment_arrays",
    "segment_curve",
    "segment_frame",
]
