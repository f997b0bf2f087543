"""compare: known answers on planted experiments (a known better arm, a one-seed experiment) and
on small hand-computed samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasescope.analysis import analyse, load_curves
from phasescope.analysis.compare import auc, compare_frame, hedges_g, permutation_p, summarize_values, welch
from phasescope.analysis.ranking import ranking
from phasescope.analysis.tables import format_compare

from .conftest import make_experiment


@pytest.fixture(scope="module")
def toy_compare(toy_exp):
    return analyse(toy_exp, "eval/accuracy").comparison


def _pair(result, a, b, q="final"):
    (p,) = [p for p in result["pairwise"] if {p["a"], p["b"]} == {a, b} and p["quantity"] == q]
    sign = 1 if p["a"] == a else -1
    return p, sign


def test_known_better_arm_has_positive_effect_with_ci_excluding_zero(toy_compare):
    # Planted finals: chord_phi 0.75, sft_then_rl 0.65, noise 0.02 over 3 seeds.
    assert ranking(toy_compare)[:2] == ["chord_phi", "sft_then_rl"]
    p, sign = _pair(toy_compare, "chord_phi", "sft_then_rl")
    lo, hi = sorted(sign * v for v in p["ci"])
    assert 0.04 < sign * p["diff"] < 0.16
    assert lo > 0 and lo < sign * p["diff"] < hi
    # No per-problem results in this fixture: the test over seeds is used, and says so.
    assert p["ci_method"] == "welch-t" and p["test"] == "welch over seeds" and p["ci_paired"] is None
    assert sign * p["hedges_g"] > 1 and sign * min(p["g_ci"]) > 0
    # 3 vs 3 seeds: 20 relabellings, so the exact permutation p cannot go below 2/20.
    assert p["p_perm_min"] == pytest.approx(0.1) and p["p_perm"] == pytest.approx(0.1)
    assert "3 vs 3 seeds" in p["caveat"]
    # Eval-set binomial noise for n = 256 at p ≈ 0.7: ±1.96·√(2·0.7·0.3/256) ≈ 0.079.
    half = (p["eval_noise_ci"][1] - p["eval_noise_ci"][0]) / 2
    assert half == pytest.approx(0.079, abs=0.006) and p["exceeds_eval_noise"]
    # The uncorrected Welch interval excludes 0, but not after Holm over the 10 pairs x 3 quantities:
    # no "better", and the corrected interval (wider than the 95% one) includes 0.
    assert toy_compare["multiplicity"]["m"] == 30
    assert p["p_welch"] < 0.05 < p["p_holm"] and p["better"] is None
    assert p["ci_holm"][0] < 0 < p["ci_holm"][1] and p["holm_level"] > 0.95
    # Against rl (planted 0.5 below) the lead survives the correction.
    p, sign = _pair(toy_compare, "chord_phi", "rl")
    assert p["p_holm"] < 0.05 and p["better"] == "chord_phi" and sign * min(p["ci_holm"]) > 0


def test_verdict_names_the_winner_with_ci_and_caveats(toy_compare):
    v = toy_compare["verdict"]
    assert v.split("At each arm's own end: ")[1].startswith("Highest final eval/accuracy: chord_phi")
    assert "95% CI" in v and "sft_then_rl" in v and "permutation p" in v and "n = 256" in v
    assert "Not separable from chord_phi after Holm's correction over 30 tests: sft_then_rl" in v
    assert "outside its 95% CI" not in v and "lead over every other arm" not in v


def test_same_curve_arms_are_not_separated(tmp_path):
    # sft and sft_then_rl differ after step 100 only in their overfit drop (0.12 vs 0.05 planted);
    # on the *best* value (the peak before the drop) they are the same curve shape.
    exp = make_experiment(tmp_path, arms=("sft", "sft_then_rl"), seeds=3, noise=0.03, with_probes=False)
    frame, _ = load_curves(exp)
    knots = frame.attrs["stage_starts"]
    result, _ = compare_frame(frame, "eval/accuracy", direction="higher", fixed_knots=knots)
    p, _ = _pair(result, "sft", "sft_then_rl", "best")
    assert p["ci"][0] < 0 < p["ci"][1] and p["better"] is None


def test_phase_presence_and_statistics(toy_compare):
    sft = toy_compare["arms"]["sft"]["phases"]
    assert (
        sft["shift"]["presence"] == 1 and sft["readapt"]["presence"] == 1 and sft["overfit"]["presence"] == 1
    )
    # Planted: shift to step 20 (depth 0.2), readapt 20→100, recovery to the initial 0.45 at step 52.
    assert sft["shift"]["depth"]["mean"] == pytest.approx(0.2, abs=0.05)
    assert sft["shift"]["duration"]["mean"] == pytest.approx(20, abs=10)
    assert sft["readapt"]["onset"]["mean"] == pytest.approx(20, abs=10)
    assert sft["readapt"]["recovery"]["mean"] == pytest.approx(52, abs=10)
    assert sft["overfit"]["onset"]["mean"] == pytest.approx(100, abs=15)
    assert toy_compare["arms"]["chord_phi"]["phases"]["shift"]["presence"] == 0
    assert toy_compare["arms"]["chord_phi"]["phases"]["improve"]["presence"] == 1
    for key in ("ci", "ci_t", "std"):
        assert sft["shift"]["depth"][key] is not None


def test_endpoints_base_min_peak_final_auc(toy_compare):
    sft = toy_compare["arms"]["sft"]
    assert sft["base"]["mean"] == pytest.approx(0.45, abs=0.04)
    assert sft["worst"]["mean"] == pytest.approx(0.25, abs=0.04) and sft["worst_step"][
        "mean"
    ] == pytest.approx(20, abs=10)
    assert sft["best"]["mean"] == pytest.approx(0.70, abs=0.05)
    assert sft["final"]["mean"] == pytest.approx(0.58, abs=0.04)
    assert 0.4 < sft["auc"]["mean"] < 0.6
    assert sft["final"]["eval_se"] == pytest.approx(math.sqrt(0.58 * 0.42 / 256), abs=0.002)


def test_one_seed_says_no_test_and_uses_eval_set_noise(tmp_path):
    exp = make_experiment(tmp_path, arms=("rl", "chord_phi"), seeds=1, with_probes=False)
    result = analyse(exp, "eval/accuracy").comparison
    p, sign = _pair(result, "chord_phi", "rl")
    assert p["p_welch"] is None and p["p_perm"] is None and p["hedges_g"] is None
    assert "no test" in p["caveat"]
    assert p["ci_method"] == "binomial (eval set n=256)"
    assert sign * p["diff"] > 0.1 and p["ci"] == p["eval_noise_ci"]
    assert result["arms"]["rl"]["final"]["std"] is None and result["arms"]["rl"]["final"]["ci"] is None
    assert "no test" in result["verdict"] and "(1 seed)" in result["verdict"]


def test_no_eval_noise_for_non_rates(toy_exp):
    a = analyse(toy_exp, "eval/expert_nll", eval_n=256)  # a given size, but not a rate: no binomial noise
    result = a.comparison
    assert any("--eval-n ignored" in n for n in a.notes) and a.eval_n is None
    assert a.noise.startswith(("first differences", "seed")) and "binomial" not in a.noise  # the floor used
    assert result["eval_n"] is None and result["direction"] == "lower"
    assert "eval_noise_ci" not in result["pairwise"][0]
    assert "Lowest (best)" in result["verdict"]


def test_format_compare_has_all_tables(toy_compare):
    text = format_compare(toy_compare)
    for word in ("chord_phi", "phases", "pairwise", "verdict:", "shift", "95% CI"):
        assert word in text


def test_welch_matches_scipy():
    from scipy import stats

    a, b = [0.71, 0.74, 0.78], [0.60, 0.66, 0.64, 0.61]
    w = welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert w["t"] == pytest.approx(ref.statistic) and w["p"] == pytest.approx(ref.pvalue)
    assert w["ci"][0] < w["diff"] < w["ci"][1]
    assert welch([1, 1], [1, 1])["p"] is None  # no spread: no test


def test_exact_permutation_and_hedges_g():
    p, p_min = permutation_p([1, 2, 3], [4, 5, 6])
    assert p == pytest.approx(0.1) and p_min == pytest.approx(0.1)
    p, _ = permutation_p([1, 2, 3], [1, 2, 3])
    assert p == pytest.approx(1.0)
    g, ci = hedges_g([1, 2, 3], [4, 5, 6])  # d = -3, J = 1 - 3/15 = 0.8
    assert g == pytest.approx(-2.4) and ci[0] < g < ci[1] < 0


def test_summaries_and_auc():
    s = summarize_values([0.5])
    assert s["mean"] == 0.5 and s["std"] is None and s["ci"] is None
    s = summarize_values([1.0, 2.0, 3.0])
    assert s["std"] == pytest.approx(1.0)
    assert s["ci_t"] == pytest.approx([2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)], rel=1e-5)
    assert 1.0 <= s["ci"][0] < 2 < s["ci"][1] <= 3.0
    assert auc([0, 10, 30], [0.0, 1.0, 1.0]) == pytest.approx((5 + 20) / 30)
    assert auc(np.arange(5), np.full(5, 0.3)) == pytest.approx(0.3)


def test_a_seeds_final_is_its_own_last_value_when_seeds_end_at_different_steps():
    # A two-stage arm switches, and so ends, at a different step per seed: the shared grid stops
    # where the shortest seed stops, but each seed's final is its own last evaluation.
    import pandas as pd

    rows = []
    for seed, (switch, end_value) in enumerate([(300, 0.80), (365, 0.90), (390, 0.70)]):
        steps = list(range(0, switch + 601, 25))
        for i, st in enumerate(steps):
            value = 0.3 + (end_value - 0.3) * i / (len(steps) - 1)
            rows.append(
                {
                    "run": "sft_then_rl",
                    "seed": seed,
                    "step": st,
                    "metric": "eval/accuracy",
                    "value": value,
                    "source": f"s{seed}",
                }
            )
    frame = pd.DataFrame(rows)
    result, _ = compare_frame(frame, "eval/accuracy", direction="higher")
    final = result["arms"]["sft_then_rl"]["final"]
    assert final["values"] == pytest.approx([0.80, 0.90, 0.70])
    assert final["mean"] == pytest.approx(0.80)
    assert result["arms"]["sft_then_rl"]["best"]["values"] == pytest.approx([0.80, 0.90, 0.70])


def test_the_heldout_figure_draws_each_seed_to_its_own_end():
    import pandas as pd

    from phasescope.report.plots import fig_heldout

    rows = [
        {
            "run": "sft_then_rl",
            "seed": seed,
            "step": st,
            "metric": "eval/accuracy",
            "value": 0.5,
            "source": "s",
        }
        for seed, switch in enumerate([300, 365, 390])
        for st in range(0, switch + 601, 25)
    ]
    fig = fig_heldout(pd.DataFrame(rows), "eval/accuracy")
    ends = sorted(
        {float(line.get_xdata()[-1]) for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 1}
    )
    assert 975.0 in ends and 900.0 in ends  # the longest seed (390 + 600 → 975), and the shared grid's end
