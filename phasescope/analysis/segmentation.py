"""What ``segment.PhaseSegmenter.predict`` returns: a curve's changepoints, fit and noise floor.

Kept apart from the estimator so that readers of a segmentation (``phases``, ``segment_results``,
the online detector) need not read the search; ``segment`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phasescope.analysis.noise import NoiseFloor


@dataclass
class Segmentation:
    """What ``PhaseSegmenter.predict`` returns. Steps are in the curve's own units.

    ``changepoints`` are the events: a knot between a fall and a rise is reported at the fitted
    turning point (worst or best point), any other knot where it is. Fixed knots cut the curve into
    ``stages``, each segmented alone; the top fields concatenate theirs (boundaries: ``fixed``).
    """

    steps: np.ndarray
    values: np.ndarray  # the curve that was segmented (mean over seeds when there are several)
    changepoints: list[float]  # event steps, sorted
    ci: list[tuple[float, float]]  # one (low, high) 95% step interval per changepoint
    fitted: np.ndarray
    slopes: np.ndarray  # per segment, metric units per step
    slope_se: np.ndarray  # per segment
    sigma: float  # estimated noise standard deviation, metric units
    bic: dict[int, float] = field(default_factory=dict)
    n_seeds: int = 1
    knot_index: list[int] = field(default_factory=list)
    ease: float = 0.0  # rounding width (Gaussian sd) of the fitted corners, in steps
    uncertain: list[bool] = field(default_factory=list)  # per changepoint: CI degenerate or too wide
    fixed: list[bool] = field(default_factory=list)  # per changepoint: a known stage boundary
    eval_n: int | None = None  # eval-set size, when the metric is a rate on that many problems
    constant: bool = False  # every value is the same: no phases
    floor: NoiseFloor | None = None  # the noise no phase is called below (``noise.noise_floor``)
    stages: list[Segmentation] = field(default_factory=list)
    fit_events: list[float] = field(default_factory=list)  # the fit's own events, before ``data_extremes``
    spikes: list[float] = field(default_factory=list)  # steps fitted as their neighbours' line (``outliers``)
    not_separable: list[dict] = field(default_factory=list)  # filled by ``label_phases``

    @property
    def noise(self) -> str:
        """Which noise the phases were tested against, in words (per stage, when they differ)."""
        if self.stages:
            return "; ".join(dict.fromkeys(st.noise for st in self.stages))
        return self.floor.describe() if self.floor is not None else "none (constant curve)"

    def value_at(self, step: float) -> float:
        """The fitted value at any step inside the curve's range (linear between logged steps)."""
        return float(np.interp(step, self.steps, self.fitted))
