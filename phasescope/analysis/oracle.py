"""An oracle sequential change detector: the lag no online phase detector can beat on average.

It is told what no real detector knows: the mean curve before the change (the clean curve frozen
at the true change: the level the run would have stayed at had the overfit, or the recovery, not
begun), the mean curve after it (the clean curve itself) and the noise's standard deviation.
With both means known, the log-likelihood ratio of each new point x_k under Gaussian noise is

    (mu1_k - mu0_k) / sigma^2 * (x_k - (mu0_k + mu1_k) / 2)

and the oracle sums it point by point (a CUSUM on the true levels; its increments are 0 until
the two means part, so the sum starts where the change does) and raises the alarm when the sum
reaches log(1 / alpha). Without a reset this is Wald's sequential probability ratio test, whose
false-alarm rate Ville's inequality bounds by ``alpha`` when the noise is Gaussian and
independent; on correlated or heavy-tailed curves the oracle keeps the same threshold (it is a
yardstick of lag, not a detector to deploy). The lag is the alarm's step minus the true change.
"""

from __future__ import annotations

import math

import numpy as np


def oracle_alarm(steps, values, clean, change: float, noise: float, alpha: float = 0.02) -> float | None:
    """The step at which the oracle confirms a change of the mean from ``clean`` frozen at
    ``change`` to ``clean``, or None if it never does."""
    x = np.asarray(steps, float)
    y = np.asarray(values, float)
    mu1 = np.asarray(clean, float)
    mu0 = np.where(x <= change, mu1, np.interp(change, x, mu1))
    sigma2 = max(float(noise), 1e-12) ** 2
    llr = np.cumsum((mu1 - mu0) / sigma2 * (y - (mu0 + mu1) / 2))
    hit = np.nonzero(llr >= math.log(1 / alpha))[0]
    return float(x[hit[0]]) if len(hit) else None


def oracle_lag(steps, values, clean, change: float, noise: float, alpha: float = 0.02) -> float:
    """The oracle's lag as a share of the run (``inf`` when it never confirms)."""
    x = np.asarray(steps, float)
    at = oracle_alarm(x, values, clean, change, noise, alpha)
    return math.inf if at is None else (at - change) / float(x[-1] - x[0])
