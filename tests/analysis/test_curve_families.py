"""The benchmark families, the oracle and the families harness: known answers on a few cases (the
full numbers: benchmarks/families_benchmark.py)."""

from __future__ import annotations

import types

import numpy as np
import pytest

from benchmarks.families_benchmark import (
    format_table,
    matched_pairs,
    score_families,
    score_reading,
    table_rows,
    truth_detector,
    upper95,
)
from phasescope.analysis import curve_noise
from phasescope.analysis.curve_families import EVENT_FAMILIES, FAMILIES, NO_EVENT, family_curve
from phasescope.analysis.curve_shapes import event_windows
from phasescope.analysis.oracle import oracle_alarm
from phasescope.analysis.synthetic import match_changepoints


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_every_family_draws_a_curve_with_its_truth(family, direction):
    c = family_curve(family, np.random.default_rng(3), direction)
    assert c.steps.shape == c.values.shape == c.clean.shape and np.all(np.diff(c.steps) > 0)
    assert np.all(np.isfinite(c.values)) and c.noise > 0
    if family in NO_EVENT:
        assert c.changepoints == [] and c.phases == ["plateau"]
        return
    g = c.clean if direction == "higher" else -c.clean
    named = [p for p in c.phases if p != "plateau"]
    if "shift" in named and family != "planted":  # the shift ends at the clean curve's worst point
        worst = np.interp(c.changepoints[0], c.steps, g)
        assert worst <= g.min() + 0.02 * np.ptp(g)
    if "overfit" in named:  # overfit starts at the best point
        best = np.interp(c.changepoints[-1], c.steps, g)
        assert best >= g.max() - 0.02 * np.ptp(g)


def test_a_fixed_eval_set_is_binomial_at_each_point_and_correlated_across_points():
    rng = np.random.default_rng(0)
    theta = np.zeros(400)
    values, clean, noise = curve_noise.fixed_eval_set(theta, 200, 0.95, False, rng)
    b_mean = clean[0]
    assert np.allclose(clean, b_mean)
    resid = values - clean
    # Each evaluation's spread is the eval set's: about sqrt(sum p(1-p))/n, not less.
    assert 0.7 * noise < resid.std() < 1.3 * noise
    # ...but consecutive evaluations share each problem's luck.
    assert np.corrcoef(resid[1:], resid[:-1])[0, 1] > 0.8
    independent, _, _ = curve_noise.fixed_eval_set(theta, 200, 0.0, False, rng)
    r = independent - clean
    assert abs(np.corrcoef(r[1:], r[:-1])[0, 1]) < 0.2


def test_the_truth_detector_scores_perfectly_and_nothing_scores_no_events():
    sums, wrong = score_families(truth_detector, cases=3, seed=1)
    rows = {(r["family"], r["direction"]): r for r in table_rows(sums)}
    assert set(rows) >= {(f, d) for f in FAMILIES for d in ("higher", "lower")}
    assert {("all events", "both"), ("all no-event", "both"), ("all", "both")} <= set(rows)
    assert wrong == []
    every = rows[("all", "both")]
    assert every["curves"] == 3 * 2 * len(FAMILIES)
    assert every["F1"] == every["presence"] == every["coverage"] == 1.0 and every["false phase"] == 0.0
    text = format_table(table_rows(sums))
    assert text.splitlines()[0].split()[:4] == ["family", "dir", "curves", "F1"]
    assert "flat_eval_set" in text and "all no-event" in text


def test_a_detector_that_finds_nothing_misses_every_event_and_one_that_always_shifts_is_all_false():
    def nothing(curve):
        return [{"label": "plateau", "start_step": curve.steps[0], "ci": (0, 0)}]

    def always(curve):
        mid = float(curve.steps[len(curve.steps) // 2])
        return [
            {"label": "plateau", "start_step": curve.steps[0], "ci": (0, 0)},
            {"label": "shift", "start_step": mid, "ci": (mid, mid)},
        ]

    sums, _ = score_families(nothing, cases=2, seed=0, families=EVENT_FAMILIES[1:3])
    rows = {(r["family"], r["direction"]): r for r in table_rows(sums)}
    n_true = sums[("all", "both")]["n_true"]
    assert n_true > 0 and rows[("all", "both")]["coverage"] == 0.0  # missed events count as not covered
    assert rows[("all", "both")]["F1"] < 1.0
    sums, _ = score_families(always, cases=2, seed=0, families=NO_EVENT)
    assert table_rows(sums)[-1]["false phase"] == 1.0


def test_an_interval_that_misses_the_truth_is_not_covered_and_a_spare_find_is_false():
    c = family_curve("planted", np.random.default_rng(5))
    read = truth_detector(c)
    for p in read[1:]:
        p["ci"] = (p["start_step"] + 1, p["start_step"] + 2)
    s = score_reading(c, read)
    assert s["tp"] == len(c.changepoints) and s["covered"] == 0
    flat = family_curve("flat", np.random.default_rng(5))
    mid = float(flat.steps[len(flat.steps) // 2])
    s = score_reading(flat, [*truth_detector(flat), {"label": "shift", "start_step": mid, "ci": (0, 1)}])
    assert (s["fp"], s["false_phase"], s["presence"]) == (1, 1, 0)


def test_point_windows_pair_as_match_changepoints_counts():
    rng = np.random.default_rng(2)
    for _ in range(200):
        true, found = (
            list(rng.uniform(0, 100, rng.integers(0, 4))),
            list(rng.uniform(0, 100, rng.integers(0, 5))),
        )
        tp, fp, fn = match_changepoints(true, found, 5.0)
        pairs = matched_pairs([(t, t) for t in true], found, 5.0)
        assert (len(pairs), len(found) - len(pairs), len(true) - len(pairs)) == (tp, fp, fn)


def test_a_flat_top_is_one_window_and_a_sharp_turn_a_point():
    t = np.linspace(0, 100, 1001)
    flat_top = np.minimum(t / 40, 1.0) - np.maximum(t - 60, 0) / 40  # best from 40 to 60
    assert event_windows(t, flat_top, [60.0]) == [
        (pytest.approx(38.8, abs=0.15), pytest.approx(61.2, abs=0.15))
    ]
    sharp = np.minimum(t / 50, 2 - t / 50)
    lo, hi = event_windows(t, sharp, [50.0])[0]
    assert 48 < lo <= 50 <= hi < 52


def test_clopper_pearson_upper_bound():
    assert upper95(0, 400) == pytest.approx(1 - 0.025 ** (1 / 400), rel=1e-6)
    assert upper95(4, 400) < 0.03 < upper95(8, 400)


def test_the_oracle_confirms_a_real_change_fast_and_a_false_one_rarely():
    rng = np.random.default_rng(0)
    x = np.arange(200.0)
    clean = np.where(x < 100, 0.5, 0.5 - 0.002 * (x - 100))  # overfit from step 100 on
    at = oracle_alarm(x, clean + rng.normal(0, 0.02, 200), clean, 100.0, 0.02)
    assert at is not None and 100 < at < 140
    # No change happened (the data stay at the frozen level): alarms at most alpha (Ville), here 2%.
    frozen = np.full(200, 0.5)
    alarms = sum(
        oracle_alarm(x, frozen + rng.normal(0, 0.02, 200), clean, 100.0, 0.02) is not None
        for _ in range(1000)
    )
    assert alarms <= 30


def test_online_scoring_against_the_oracle():
    from benchmarks.families_online import score_online, summarise, true_onset

    c = family_curve("planted", np.random.default_rng(0))
    while "overfit" not in c.phases:
        c = family_curve("planted", np.random.default_rng(len(c.steps)))
    onset = true_onset(c, "overfit")
    assert onset == c.changepoints[-1]
    late = types.SimpleNamespace(label="overfit", start_step=onset, confirmed_step=onset + 0.1 * c.span)
    scores = score_online(c, [late], {})
    kind, lag, oracle, _ = scores["overfit"]
    assert kind == "lag" and lag == pytest.approx(0.1) and 0 < oracle < 1
    assert score_online(c, [], {})["overfit"][0] == "miss"
    s = summarise([scores["overfit"]])
    assert s["ratio"] == pytest.approx(0.1 / oracle)
    flat = family_curve("flat", np.random.default_rng(0))
    assert score_online(flat, [late], {})["overfit"][0] == "false"
    assert score_online(flat, [], {})["any"][0] == "clean"


def test_the_benchmark_prints_its_table(capsys):
    from benchmarks.families_benchmark import main

    main(["--cases", "2", "--families", "planted", "flat"])
    out = capsys.readouterr().out
    rows = [line.split()[:2] for line in out.splitlines()]
    assert ["planted", "higher"] in rows and ["flat", "lower"] in rows and ["all", "both"] in rows
