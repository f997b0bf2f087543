"""Every pair of arms on the final, peak and matched-budget values: the test used, its difference,
95% interval and p, Holm's correction over the whole family, and the probability of improvement.

The test, per pair and quantity (named in the entry's ``test``):

- ``paired hierarchical bootstrap (seeds x problems)`` (``paired``), where both arms have
  per-problem results for the evaluations the quantity is read at: the eval set's noise and the
  seeds' spread are both in the interval, and the pairing removes what the arms share.
- ``welch over seeds`` otherwise (foreign logs, NLL metrics, runs from before per-problem results),
  with the exact permutation p and Hedges' g beside it (``seedstats``).
- ``binomial z (eval set n=…)`` with one seed per arm and a known eval-set size: the two rates'
  binomial standard errors treated as independent (the old, cautious formula).

Multiplicity: every entry with a p is one test of one family (all pairs × the three quantities,
which includes every pair the verdict speaks about); ``p_holm`` is Holm's adjusted p and ``ci_holm``
the interval at the level the test was decided at (``multiplicity``). ``better`` names an arm only
when ``p_holm`` < 0.05 *and* ``ci_holm`` excludes 0.

Probability of improvement (``rliable_stats``): with per-problem results, P(A > B) over the paired
(replicate, problem) cells (a problem A got right and B wrong counts 1, a tie ½); otherwise rliable's
unpaired P(A > B) over the arms' replicate values.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from phasescope.analysis.multiplicity import ALPHA, holm_adjust, holm_levels
from phasescope.analysis.noise import Z95, binomial_se
from phasescope.analysis.paired import TEST, TEST_WORLDS, PairedData, interval, paired_difference
from phasescope.analysis.ranking import ranking
from phasescope.analysis.replicates import QUANTITIES
from phasescope.analysis.rliable_stats import probability_of_improvement
from phasescope.analysis.seedstats import hedges_g, permutation_p, welch

WELCH = "welch over seeds"
FAMILY = "every pair of arms on final, peak and matched-budget values"


def pairwise(result: dict, paired: PairedData | None = None) -> tuple[list[dict], dict]:
    """Every pair on final, best and at_matched, in ranking order (better final first, so most
    differences read as positive leads), Holm-corrected; and the family's description."""
    arms, out, drawn = result["arms"], [], []
    for a, b in itertools.combinations(ranking(result), 2):
        for q in QUANTITIES:
            if arms[a][q]["n"] and arms[b][q]["n"]:
                p = seed_pair(a, b, q, arms, result["eval_n"])
                d = paired_difference(paired, a, b, q) if paired is not None else None
                if d is not None:
                    _use_paired(p, d, TEST if paired.n_worlds == 1 else TEST_WORLDS)
                out.append(p)
                drawn.append(d)
    m = _correct(out, drawn, arms, result["direction"])
    return out, {"method": "holm", "alpha": ALPHA, "m": m, "family": FAMILY}


def seed_pair(a: str, b: str, q: str, arms: dict, eval_n: int | None) -> dict:
    """The tests over seeds of a − b on ``q`` (unpaired): Welch, permutation, Hedges' g, and the eval
    set's binomial noise when ``eval_n`` is known."""
    va, vb = arms[a][q]["values"], arms[b][q]["values"]
    w = welch(va, vb)
    p_perm, p_min = permutation_p(va, vb)
    g, g_ci = hedges_g(va, vb)
    out = {"a": a, "b": b, "quantity": q, "n_a": len(va), "n_b": len(vb)}
    out.update(mean_a=float(np.mean(va)), mean_b=float(np.mean(vb)), diff=w["diff"])
    out.update(ci=w["ci"], ci_method="welch-t" if w["ci"] else None, ci_welch=w["ci"])
    out.update(t=w["t"], df=w["df"], p_welch=w["p"], p_perm=p_perm, p_perm_min=p_min)
    out.update(hedges_g=g, g_ci=g_ci, test=WELCH if w["p"] is not None else None, p=w["p"])
    out.update(ci_paired=None, p_paired=None, n_replicates=None, n_problems=None)
    out["prob_improvement"] = probability_of_improvement(va, vb)
    out["poi_over"] = "replicate values (unpaired)"
    se = None
    if eval_n:
        # Eval-set binomial noise of the difference of two (seed-averaged) rates on the same problems.
        se = math.sqrt(binomial_se(out["mean_a"], eval_n) ** 2 + binomial_se(out["mean_b"], eval_n) ** 2)
        out["eval_noise_ci"] = [out["diff"] - Z95 * se, out["diff"] + Z95 * se]
        out["exceeds_eval_noise"] = abs(out["diff"]) > Z95 * se
        if out["ci"] is None:
            out["ci"], out["ci_method"] = out["eval_noise_ci"], f"binomial (eval set n={eval_n})"
            if se > 0:
                out["test"] = f"binomial z (eval set n={eval_n})"
                out["p"] = math.erfc(abs(out["diff"]) / se / math.sqrt(2))
    out["caveat"] = _seed_caveat(len(va), len(vb), w["ci"], p_min)
    return out


def _seed_caveat(na: int, nb: int, ci, p_min) -> str:
    if min(na, nb) < 2:
        return "one seed: no test of seed-to-seed variation is possible"
    if ci is None:
        return "no spread between seeds: the t test is undefined"
    if min(na, nb) < 5:
        return (
            f"{na} vs {nb} seeds: Welch p is approximate; the exact permutation p cannot go below {p_min:.3g}"
        )
    return ""


def _use_paired(p: dict, d: dict, test: str) -> None:
    """Make the paired bootstrap the pair's test (the tests over seeds stay beside it)."""
    p.update(test=test, diff=d["diff"], ci=d["ci"], ci_method="paired bootstrap", p=d["p"])
    p.update(ci_paired=d["ci"], p_paired=d["p"], n_replicates=d["n_replicates"], n_problems=d["n_problems"])
    p["prob_improvement"] = probability_of_improvement(*d["cells"], paired=True)
    p["poi_over"] = "paired (replicate, problem) cells"
    k = d["n_replicates"]
    if k == 1:
        p["caveat"] = "one shared replicate: the interval holds the eval set's noise only, not the seeds'"
    elif k < max(p["n_a"], p["n_b"]):
        p["caveat"] = f"paired on the {k} replicates both arms have per-problem results for"
    else:
        p["caveat"] = ""


def _correct(pairs: list[dict], drawn: list, arms: dict, direction: str) -> int:
    """Holm over every pair's p: adjusted p, the interval at the decision level, and ``better``.
    Returns the family's size."""
    ps = [p["p"] for p in pairs]
    adjusted, levels = holm_adjust(ps), holm_levels(ps, ALPHA)
    for p, d, adj, level in zip(pairs, drawn, adjusted, levels, strict=True):
        p["p_holm"], p["better"] = adj, None
        p["holm_level"] = None if level is None else 1 - level
        p["ci_holm"] = None if level is None else _ci_at(p, d, level, arms)
        ci = p["ci_holm"]
        if adj is not None and adj < ALPHA and ci is not None and (ci[0] > 0 or ci[1] < 0):
            sign = 1 if p["diff"] > 0 else -1
            if direction == "lower":
                sign = -sign
            p["better"] = p["a"] if sign > 0 else p["b"]
    return sum(p is not None for p in ps)


def _ci_at(p: dict, d: dict | None, level: float, arms: dict) -> list[float] | None:
    """The pair's interval of level 1 − ``level`` from the test it used."""
    if d is not None:
        return interval(d["drawn"], level)
    if p["test"] == WELCH:
        from scipy import stats

        # Welch's interval at another level: the same standard error and df, another t quantile.
        va, vb = (np.asarray(arms[p[s]][p["quantity"]]["values"], float) for s in ("a", "b"))
        se = math.sqrt(va.var(ddof=1) / len(va) + vb.var(ddof=1) / len(vb))
        half = float(stats.t.ppf(1 - level / 2, p["df"])) * se
        return [p["diff"] - half, p["diff"] + half]
    if p["test"] and "eval_noise_ci" in p:
        from scipy import stats

        half = (p["eval_noise_ci"][1] - p["diff"]) / Z95 * float(stats.norm.ppf(1 - level / 2))
        return [p["diff"] - half, p["diff"] + half]
    return None
