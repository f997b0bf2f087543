"""The verdict of a comparison in words: which arm is best on a quantity, by how much over the
runner-up with which interval and test, and whether that survives Holm's correction over every pair
compared (``pairwise``). Reads the dict of ``compare_frame``; computes nothing new. It never calls a
lead separated, or outside an interval, when the Holm-corrected interval includes 0.
"""

from __future__ import annotations

from phasescope.analysis.pairwise import WELCH
from phasescope.analysis.ranking import find_pair, ranking
from phasescope.analysis.tables import pm as _pm


def matched_verdict(result: dict) -> str:
    """The matched-budget part: the axis, the budget, the ranking there beside the end-of-run one,
    and the arms whose rank is budget-limited; then the verdict on ``at_matched``."""
    axis, budget = result["budget_axis"], result["matched_budget"]
    head = f"At matched budget ({axis} = {budget:g}, the largest every arm reached"
    head += f"; {result['budget_note']}): " if result.get("budget_note") else "): "
    at, end = ranking(result, "at_matched"), ranking(result)
    head += f"ranking {' > '.join(at)}; at each arm's own end {' > '.join(end)}."
    lines = [head, verdict(result, "at_matched")]
    rising = [a for a in result["arms"] if result["arms"][a].get("still_rising")]
    if rising:
        lines.append(f"{', '.join(rising)}: still rising: its rank is budget-limited.")
    return " ".join(lines) + " At each arm's own end:"


def verdict(result: dict, quantity: str = "final") -> str:
    """One honest paragraph: which arm is best on ``quantity`` and whether that beats the noise
    after Holm's correction (a lead is called separated only when the pair's ``better`` names the
    top arm: its Holm-adjusted p is below 0.05 and its corrected interval excludes 0)."""
    arms = result["arms"]
    order = ranking(result, quantity)
    what = {"final": "final ", "best": "peak "}.get(quantity, "")
    m = result["metric"] + (" at matched budget" if quantity == "at_matched" else "")
    top = order[0]
    s = arms[top][quantity]
    unit = "replicate" if result.get("worlds") else "seed"  # several world draws: (world, seed) pairs
    lines = [f"Highest {what}{m}: {top}, {_pm(s)} ({s['n']} {unit}{'s' if s['n'] != 1 else ''})."]
    if result["direction"] == "lower":
        lines[0] = lines[0].replace("Highest", "Lowest (best)")
    if len(order) == 1:
        return lines[0]
    separated, tied = [], []
    for other in order[1:]:
        p, _ = find_pair(result, top, other, quantity)
        (separated if p is not None and p.get("better") == top else tied).append(other)
    p, sign = find_pair(result, top, order[1], quantity)
    lines.append(_runner_up(result, order[1], quantity, p, sign))
    if p["caveat"]:
        lines.append(f"Caveat: {p['caveat']}.")
    if "eval_noise_ci" in p and not p.get("ci_paired"):
        noise = (p["eval_noise_ci"][1] - p["eval_noise_ci"][0]) / 2
        within = "exceeds" if p["exceeds_eval_noise"] else "is within"
        lines.append(
            f"Eval-set noise (n = {result['eval_n']} held-out problems, the same for every seed): "
            f"±{noise:.3f} on this difference, which the difference {within}."
        )
    m_tests = (result.get("multiplicity") or {}).get("m", 0)
    holm = f"after Holm's correction over {m_tests} tests" if m_tests else "(no test was possible)"
    if separated and not tied:
        lines.append(f"{top}'s lead over every other arm holds {holm} (each corrected interval excludes 0).")
    elif tied:
        lines.append(
            f"Not separable from {top} {holm}: {', '.join(tied)}"
            + (f"; separated: {', '.join(separated)}." if separated else ".")
        )
    return " ".join(lines)


def _signed(x: float, sign: int) -> float:
    """``sign · x`` with -0.0 made 0.0 (so a zero difference does not print as -0.000)."""
    return sign * x + 0.0


def _runner_up(result: dict, runner: str, quantity: str, p: dict, sign: int) -> str:
    """The difference to the runner-up with the test used, its 95% and Holm-corrected intervals."""
    txt = f"Versus the runner-up {runner} ({_pm(result['arms'][runner][quantity])}): "
    txt += f"difference {_signed(p['diff'], sign):+.3f}"
    if p["ci"] is not None:
        lo, hi = sorted((_signed(p["ci"][0], sign), _signed(p["ci"][1], sign)))
        txt += f", 95% CI [{lo:+.3f}, {hi:+.3f}] ({p.get('test') or p['ci_method']}"
        if p.get("p") is not None and p.get("test") != WELCH:
            txt += f", p = {p['p']:.2g}"
        if p["p_welch"] is not None:
            over = "" if p.get("test") == WELCH else "over seeds: "
            txt += f"; {over}Welch p = {p['p_welch']:.2g}, permutation p = {p['p_perm']:.2g}"
        txt += ")"
    else:
        txt += " (no CI: no seed spread and no eval-set size)"
    if p.get("ci_holm") is not None:
        lo, hi = sorted((_signed(p["ci_holm"][0], sign), _signed(p["ci_holm"][1], sign)))
        level = 100 * p["holm_level"]
        txt += f"; Holm-adjusted p = {p['p_holm']:.2g}, corrected {level:.4g}% CI [{lo:+.3f}, {hi:+.3f}]"
    if p["hedges_g"] is not None:
        g_lo, g_hi = sorted((sign * p["g_ci"][0], sign * p["g_ci"][1]))
        txt += f"; Hedges' g {_signed(p['hedges_g'], sign):+.2f} [{g_lo:+.2f}, {g_hi:+.2f}]"
    return txt + "."
