"""Holm's correction for the family of pairwise tests a comparison makes, and the level each test was
decided at, so that the interval shown beside a corrected p agrees with it.

Holm (1979), step-down: sort the m p-values ascending, p(1) ≤ … ≤ p(m); reject H(1), H(2), … while
p(j) < α/(m − j + 1) and stop at the first k where that fails (H(k) and every later one stand).
The adjusted p is p̃(j) = max over i ≤ j of min(1, (m − i + 1)·p(i)); H(j) is rejected iff p̃(j) < α.
It controls the family-wise error rate under any dependence between the tests (the pairs of a
comparison share arms, so they are dependent), which is why it is used rather than Benjamini–Hochberg
(a false-discovery rate, not "no false claim of better"), and it is uniformly more powerful than
Bonferroni.

The interval: Holm has no simultaneous confidence intervals that match its decisions exactly
(Strassburger & Bretz 2008 construct compatible ones, uninformative for rejected hypotheses). What
is stored here is the *decision level* α_j of each test: α/(m − j + 1) for a rejected H(j), and
α/(m − k + 1) (the level of the first test that stood) for H(k) and every later one. The
(1 − α_j) interval of a test then excludes 0 exactly when Holm rejects it (for a p-value that inverts
the interval, as the tests of ``pairwise`` do), and it is never narrower than the 95% interval.
"""

from __future__ import annotations

import math

ALPHA = 0.05


def _order(pvalues) -> list[int]:
    """Indices of the tests that have a p-value (None or NaN: no test, not in the family), ascending p."""
    have = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    return sorted(have, key=lambda i: (pvalues[i], i))


def holm_adjust(pvalues) -> list[float | None]:
    """Holm-adjusted p-values in the input's order; None where the input has none."""
    order = _order(pvalues)
    m = len(order)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * float(pvalues[i])))
        out[i] = running
    return out


def holm_levels(pvalues, alpha: float = ALPHA) -> list[float | None]:
    """The significance level each test is decided at under Holm's step-down (module docstring):
    a test is rejected iff its p is below its level; None where there is no p."""
    order = _order(pvalues)
    m = len(order)
    out: list[float | None] = [None] * len(pvalues)
    stood = None  # the level of the first test that was not rejected
    for j, i in enumerate(order):
        level = alpha / (m - j)
        if stood is None and not float(pvalues[i]) < level:
            stood = level
        out[i] = level if stood is None else stood
    return out
