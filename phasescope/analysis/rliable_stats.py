"""Two aggregate statistics of rliable (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge
of the Statistical Precipice", NeurIPS; github.com/google-research/rliable), written out here because
the formulas are a few lines and rliable (with its JAX/arch dependencies) is not a dependency.

- Interquartile mean (rliable's ``aggregate_iqm``: ``scipy.stats.trim_mean(scores, 0.25)`` over all
  scores): sort the n values, drop ⌊n/4⌋ from each end, average the rest. With fewer than 4 values
  nothing is dropped and the IQM is the mean, so ``iqm`` answers None there ("not enough replicates
  for a robust mean") rather than repeat the mean under another name.
- Probability of improvement (rliable's ``probability_of_improvement``): for scores X (runs × tasks)
  and Y (runs × tasks), P(X > Y) = mean over tasks of (1/(N·M)) Σ_i Σ_j S(x_it, y_jt), with
  S = 1 if x > y, ½ if x = y, 0 otherwise (a Mann–Whitney U statistic per task). Departure: with
  ``paired=True`` run i of X is compared with run i of Y only (the same seed and the same problem,
  which arms here share), Σ_i S(x_it, y_it)/N, instead of every run with every run.
"""

from __future__ import annotations

import numpy as np

IQM_MIN = 4
"""The fewest values for which the interquartile mean drops anything (⌊n/4⌋ ≥ 1)."""


def iqm(values) -> float | None:
    """The interquartile mean of the finite ``values``; None with fewer than ``IQM_MIN`` of them."""
    x = np.sort(np.asarray([v for v in values if v is not None], float))
    x = x[np.isfinite(x)]
    n = len(x)
    if n < IQM_MIN:
        return None
    cut = n // 4
    return float(x[cut : n - cut].mean())


def _s(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x > y) + 0.5 * (x == y)


def probability_of_improvement(x, y, paired: bool = False) -> float | None:
    """P(X > Y) of two score arrays (runs × tasks; a 1-D array is one task's runs), rliable's
    definition, or run-by-run when ``paired`` (then X and Y have the same shape). None when empty."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim == 1:
        x, y = x[:, None], y[:, None]
    if x.size == 0 or y.size == 0:
        return None
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{x.shape[1]} tasks against {y.shape[1]}")
    if paired:
        if x.shape != y.shape:
            raise ValueError(f"paired scores of shapes {x.shape} and {y.shape}")
        return float(_s(x, y).mean())
    # Every run of X against every run of Y, task by task: (N, 1, T) against (1, M, T).
    return float(_s(x[:, None, :], y[None, :, :]).mean(axis=(0, 1)).mean())
