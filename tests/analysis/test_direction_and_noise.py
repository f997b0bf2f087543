"""Direction-aware words, eased turning points, fixed stage knots, honest small-eval statistics."""

from __future__ import annotations

import numpy as np
import pytest

from phasescope.analysis.phases import NAMED, PHASES, label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.segment_results import describe_phases, format_table, segment_arrays
from phasescope.analysis.synthetic import FAMILIES, eased, family_curve, planted_curve


def _result(steps, values, direction, **kw):
    return {"metric": "m", "source": "-", "run": "r", **segment_arrays(steps, values, direction, **kw)}


def test_labels_are_importable_and_improve_replaces_rise():
    assert PHASES == ("shift", "readapt", "overfit", "improve", "plateau")
    assert PHASES[:4] == NAMED


def test_a_loss_that_falls_fast_then_slowly_keeps_its_knot():
    steps = np.arange(0, 1001, 10.0)
    clean = np.interp(steps, [0, 50, 1000], [14.8, 1.2, 0.8])
    y = clean + np.random.default_rng(0).normal(0, 0.02, len(steps))
    r = _result(steps, y, "lower")
    assert [p["label"] for p in r["phases"]] == ["improve", "improve"]
    assert r["changepoints"] == [pytest.approx(50, abs=10)]


def test_loss_words_read_as_a_loss():
    c = planted_curve("full", n_points=150, noise=0.02, lower_is_better=True, rng=6)
    r = _result(c.steps, c.values, "lower")
    assert [p["label"] for p in r["phases"]] == ["shift", "readapt", "overfit"]
    text = format_table(r)
    assert "lower is better" in text and "peak" not in text and "drop" not in text
    shift, readapt, overfit = describe_phases(r)[:3]
    assert "m rises to its worst" in shift and "worse than where it started" in shift
    assert "m falls by" in readapt
    assert "from its best" in overfit and "m rises by" in overfit
    # the worst point of a loss is its maximum, the best its minimum
    assert r["phases"][0]["worst_value"] == pytest.approx(max(p["end_value"] for p in r["phases"][:1]))
    assert r["phases"][2]["best_value"] < r["phases"][0]["worst_value"]


def test_accuracy_words_and_the_same_fields_for_both_directions():
    c = planted_curve("full", n_points=150, noise=0.02, rng=6)
    hi = _result(c.steps, c.values, "higher")
    lo = _result(c.steps, 1 - c.values, "lower")
    assert (
        "m falls to its worst" in describe_phases(hi)[0] and "m rises to its worst" in describe_phases(lo)[0]
    )
    assert set(hi) == set(lo)
    for a, b in zip(hi["phases"], lo["phases"], strict=True):
        assert set(a) == set(b)
        assert a["label"] == b["label"]


def test_eased_dip_and_peak_are_reported_at_the_curve_extremes():
    # A steep fall and a slow climb, rounded over ~4% of the run: the worst point lies ~27 steps
    # after the corner where the two lines meet, the best point ~17 steps after its corner.
    steps = np.arange(0, 1001, 4.0)
    corners = [(0, 0.6), (100, 0.3), (600, 0.8), (1000, 0.6)]
    clean = eased(steps, corners, 40.0)
    grid = np.linspace(0, 1000, 100001)
    fine = eased(grid, corners, 40.0)
    worst = grid[np.argmin(np.where(grid < 300, fine, np.inf))]
    best = grid[np.argmax(fine)]
    assert worst - 100 > 20 and best - 600 > 12
    y = clean + np.random.default_rng(1).normal(0, 0.004, len(steps))
    seg = PhaseSegmenter().fit(steps, y).predict()
    phases = label_phases(seg)
    assert [p.label for p in phases] == ["shift", "readapt", "overfit"]
    assert seg.ease > 0
    assert phases[1].start_step == pytest.approx(worst, abs=8)
    assert phases[2].start_step == pytest.approx(best, abs=8)
    for p, truth in zip(phases[1:], (worst, best), strict=True):
        assert p.ci[0] <= truth <= p.ci[1]


def test_constant_curve_has_no_phases():
    steps = np.arange(30.0)
    y = np.full(30, 0.3) + np.where(np.arange(30) % 7 == 0, 1e-17, 0.0)  # float dust only
    r = _result(steps, y, "higher")
    assert r["no_phases"] == "constant" and r["changepoints"] == []
    assert [p["label"] for p in r["phases"]] == ["plateau"]
    assert describe_phases(r) == ["no phases: m is constant (0.3 at every step)"]


def test_one_problem_flipping_on_a_40_problem_eval_is_not_a_phase():
    steps = np.arange(0, 400, 10.0)
    y = np.where(steps < 200, 20, 21) / 40 + 1e-17 * np.sin(steps)
    naive = _result(steps, y, "higher")
    # Without n, a step looks like a phase: 2 distinct values tell no grid, nor an assumed eval set.
    assert any(p["label"] in NAMED for p in naive["phases"])
    assert naive["noise"].startswith("first differences")
    r = _result(steps, y, "higher", eval_n=40)
    assert r["no_phases"] == "not separable from noise"
    assert [p["label"] for p in r["phases"]] == ["plateau"]
    assert r["not_separable"] and r["not_separable"][0]["change"] == pytest.approx(0.025, abs=0.005)
    assert any(
        "not separable from the binomial noise of a 40-problem eval set" in s for s in describe_phases(r)
    )


def test_a_real_dip_on_a_large_eval_is_still_called():
    c = planted_curve("full", n_points=120, eval_n=1000, rng=3)
    r = _result(c.steps, c.values, "higher", eval_n=1000)
    assert [p["label"] for p in r["phases"]] == ["shift", "readapt", "overfit"]
    assert r["not_separable"] == []


def test_fixed_knots_segment_each_stage_on_its_own():
    sft = planted_curve("full", n_points=100, span=500, noise=0.01, rng=2)
    rl_steps = np.arange(505, 1001, 5.0)
    rl = np.interp(rl_steps, [505, 1000], [0.45, 0.75]) + np.random.default_rng(3).normal(
        0, 0.01, len(rl_steps)
    )
    steps = np.concatenate([sft.steps, rl_steps])
    y = np.concatenate([sft.values, rl])
    seg = PhaseSegmenter(fixed_knots=[505]).fit(steps, y).predict()
    phases = label_phases(seg)
    assert [(p.label, p.stage) for p in phases] == [
        ("shift", 0),
        ("readapt", 0),
        ("overfit", 0),
        ("improve", 1),
    ]
    assert phases[3].fixed and phases[3].start_step == 505 and not phases[3].uncertain
    assert 505 in seg.changepoints and seg.fixed[seg.changepoints.index(505)]
    r = _result(steps, y, "higher", fixed_knots=[505])
    assert r["changepoint_fixed"] == [False, False, True]
    assert any("known stage boundary" in s for s in describe_phases(r))


def test_a_stage_too_short_to_segment_is_a_clear_error():
    steps = np.arange(20.0)
    with pytest.raises(ValueError, match="has 3 point.*at least 6"):
        PhaseSegmenter(fixed_knots=[17]).fit(steps, steps * 0.1)


def test_degenerate_and_sprawling_intervals_are_uncertain():
    c = planted_curve("full", n_points=200, noise=0.01, rng=5)
    sharp = label_phases(PhaseSegmenter().fit(c.steps, c.values).predict())
    assert all(p.ci[1] > p.ci[0] and not p.uncertain for p in sharp[1:])
    none = label_phases(PhaseSegmenter(n_bootstrap=0).fit(c.steps, c.values).predict())
    assert all(p.uncertain and p.ci[0] == p.ci[1] for p in none[1:])
    # A barely visible bend on a noisy curve: wherever it is put, the interval is most of the run.
    steps = np.arange(0, 100.0)
    y = np.interp(steps, [0, 50, 99], [0, 1, 1.4]) + np.random.default_rng(0).normal(0, 0.08, 100)
    seg = PhaseSegmenter(penalty=0.5).fit(steps, y).predict()
    wide = [ci for ci in seg.ci if ci[1] - ci[0] > 50]
    assert all(u for ci, u in zip(seg.ci, seg.uncertain, strict=True) if ci in wide)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_draws_curves_with_known_events(family):
    rng = np.random.default_rng(0)
    for lower in (False, True):
        c = family_curve(family, rng, lower_is_better=lower)
        assert len(c.changepoints) == len(c.phases) - 1
        assert all(c.steps[0] <= t <= c.steps[-1] for t in c.changepoints)
        if family == "no_phase":
            assert c.phases == ["plateau"]


def _wording_problems(path) -> list[str]:
    from phasescope.analysis import analyse, open_experiment

    exp = open_experiment(path)
    problems = []
    for metric in exp.metrics().metric:
        try:
            results = analyse(exp, metric).phases
        except Exception:  # too short or not finite: the CLI's one-line errors, tested elsewhere
            continue
        for r in results:
            better, worse = ("rises", "falls") if r["direction"] == "higher" else ("falls", "rises")
            want = {"shift": f"{worse} to its worst", "readapt": f"{better} by", "overfit": f"{worse} by"}
            want["improve"] = f"{better} by"
            for sentence in describe_phases(r):
                label = sentence.split(" ")[0]
                if label in want and want[label] not in sentence:
                    problems.append(f"{metric}: {sentence}")
            if any(w in format_table(r) for w in (" peak", " minimum", " drop", " bottom")):
                problems.append(f"{metric}: accuracy-only word in {format_table(r)!r}")
    return problems


@pytest.mark.parametrize(
    "name",
    [
        "qwen25_7b_medical_llamafactory.trainer_log.jsonl",  # eval_loss with an overfit
        "roberta_logclassifier.trainer_state.json",  # accuracy and losses
        "ppo_hopper_run-2020-08-31-04-36-38.csv",  # reward
    ],
)
def test_real_logs_read_in_their_own_direction(real_logs, name):
    assert _wording_problems(real_logs / name) == []


@pytest.mark.slow
def test_every_real_log_reads_in_its_own_direction(real_logs):
    for path in sorted(real_logs.iterdir()):
        if path.suffix in (".json", ".jsonl", ".csv"):
            assert _wording_problems(path) == [], path.name
