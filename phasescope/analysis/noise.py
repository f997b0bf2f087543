"""The eval set's binomial noise: a rate measured on n held-out problems moves by √(p(1−p)/n) from
the problems alone, whatever the model does. The one home of that standard error, of the 95% normal
quantile and of the eval-set size that a metric was measured on.
"""

from __future__ import annotations

import numpy as np

from phasescope.runlog.names import is_rate_name

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""
SEPARABLE_Z = Z95 * 2**0.5
"""A change smaller than this many binomial standard errors is within the eval set's noise (the
difference of two independent evaluations of the same rate)."""


def binomial_se(p, n: int):
    """Standard error of a rate near ``p`` (a number, or an array of them) measured on ``n``
    independent problems."""
    p = np.clip(p, 0.0, 1.0)
    se = np.sqrt(p * (1 - p) / n)
    return float(se) if np.ndim(se) == 0 else se


def eval_n_for(metric: str, eval_sets: dict[str, int]) -> int | None:
    """Held-out problems behind ``metric``, from ``eval_sets`` (set name -> problems, "" the main
    set, as ``Experiment.eval_sets``): a set named ``x`` gives ``eval/x_accuracy``, any other rate
    reads the main set. None when unknown, or when the name is not a rate's (an NLL or a length has
    no binomial noise)."""
    if not is_rate_name(metric):
        return None
    tail = metric.split("/")[-1]
    named = [k for k in eval_sets if k and tail.startswith(f"{k}_")]
    n = eval_sets.get(max(named, key=len)) if named else eval_sets.get("")
    return int(n) if isinstance(n, int) and n > 0 else None
