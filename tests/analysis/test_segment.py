"""The segmenter on planted curves with known changepoints."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt

from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import CostStepLinear, PhaseSegmenter, dp_segment, noise_sigma
from phasescope.analysis.synthetic import (
    VARIANTS,
    f1_score,
    match_changepoints,
    planted_curve,
    random_planted,
)


def test_noise_sigma_recovers_known_noise_on_uneven_steps():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 1000, 3000))
    y = np.interp(x, [0, 300, 1000], [0, 5, 1]) + rng.normal(0, 0.2, len(x))
    assert noise_sigma(x, y) == pytest.approx(0.2, rel=0.08)


def test_vectorised_dp_matches_ruptures_dynp_with_the_same_cost():
    rng = np.random.default_rng(1)
    c = planted_curve("full", n_points=60, noise=0.03, spacing="random", rng=rng)
    ours = dp_segment(c.steps, c.values, max_k=2, min_size=3)[2]
    algo = rpt.Dynp(custom_cost=CostStepLinear(), min_size=3, jump=1).fit(
        np.column_stack([c.steps, c.values])
    )
    theirs = algo.predict(n_bkps=2)[:-1]
    assert ours == theirs


@pytest.mark.parametrize("spacing", ["even", "random", "front"])
def test_full_shape_changepoints_within_tolerance_and_labelled(spacing):
    c = planted_curve("full", n_points=200, span=5000, spacing=spacing, depth=0.15, noise=0.04, rng=3)
    seg = PhaseSegmenter().fit(c.steps, c.values).predict()
    phases = label_phases(seg, "higher")
    assert [p.label for p in phases] == ["shift", "readapt", "overfit"]
    found = [p.start_step for p in phases[1:]]
    assert np.allclose(found, c.changepoints, atol=0.03 * 5000)
    for p, truth in zip(phases[1:], c.changepoints, strict=True):
        assert p.ci[0] <= p.start_step <= p.ci[1]
        assert p.ci[0] - 0.03 * 5000 <= truth <= p.ci[1] + 0.03 * 5000
        assert p.ci[1] - p.ci[0] < 0.2 * 5000
    assert phases[0].extra["depth"] == pytest.approx(0.15, abs=0.04)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_gets_its_phase_set(variant):
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(10):
        c = random_planted(variant, rng)
        phases = label_phases(PhaseSegmenter(n_bootstrap=20).fit(c.steps, c.values).predict())
        hits += {p.label for p in phases} == set(c.phases)
    assert hits >= 9


def test_flat_noise_gets_no_changepoints():
    rng = np.random.default_rng(5)
    false = 0
    for _ in range(20):
        c = planted_curve("flat", n_points=300, noise=0.05, spacing="random", rng=rng)
        phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(c.steps, c.values).predict())
        false += len(phases) - 1
    assert false <= 1


def test_planted_f1_on_a_small_batch():
    rng = np.random.default_rng(2)
    tp = fp = fn = 0
    for v in VARIANTS:
        for _ in range(8):
            c = random_planted(v, rng)
            phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(c.steps, c.values).predict())
            a, b, d = match_changepoints(
                c.changepoints, [p.start_step for p in phases[1:]], 0.05 * np.ptp(c.steps)
            )
            tp, fp, fn = tp + a, fp + b, fn + d
    assert f1_score(tp, fp, fn) >= 0.9


def test_short_first_segment_is_found_despite_min_size():
    # The shift lasts 2 evaluation intervals: min_size must not swallow it.
    steps = np.arange(0, 41) * 50.0
    clean = np.interp(steps, [0, 100, 1000, 2000], [0.6, 0.3, 0.8, 0.6])
    y = clean + np.random.default_rng(0).normal(0, 0.01, len(steps))
    phases = label_phases(PhaseSegmenter().fit(steps, y).predict())
    assert [p.label for p in phases] == ["shift", "readapt", "overfit"]
    assert phases[1].start_step == 100


def test_seeds_are_segmented_on_the_mean_and_bootstrapped_over_seeds():
    c = planted_curve("full", n_points=120, noise=0.05, n_seeds=4, rng=9)
    seg = PhaseSegmenter(n_bootstrap=100).fit(c.steps, c.values).predict()
    assert seg.n_seeds == 4
    assert np.allclose(seg.values, c.values.mean(axis=0))
    assert np.allclose(seg.changepoints, c.changepoints, atol=50)
    assert all(lo <= cp <= hi for cp, (lo, hi) in zip(seg.changepoints, seg.ci, strict=True))


def test_long_curve_coarse_to_fine_keeps_locations_exact():
    c = planted_curve("full", n_points=20_000, span=20_000, noise=0.05, rng=4)
    seg = PhaseSegmenter(n_bootstrap=20).fit(c.steps, c.values).predict()
    assert np.allclose(seg.changepoints, c.changepoints, atol=100)  # 0.5% of the span


def test_lower_is_better_loss_reads_its_rise_as_a_shift():
    c = planted_curve("full", n_points=150, noise=0.02, lower_is_better=True, rng=6)
    phases = label_phases(PhaseSegmenter().fit(c.steps, c.values).predict(), direction="lower")
    assert [p.label for p in phases] == ["shift", "readapt", "overfit"]
    assert phases[0].end_value > phases[0].start_value  # the loss went up during the shift
    assert phases[0].extra["depth"] > 0
    as_higher = label_phases(PhaseSegmenter().fit(c.steps, c.values).predict(), direction="higher")
    assert [p.label for p in as_higher] == ["improve", "overfit", "improve"]


def test_fit_rejects_too_short_and_non_finite():
    with pytest.raises(ValueError, match="at least 6"):
        PhaseSegmenter().fit([0, 1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        PhaseSegmenter().fit(np.arange(10), [0, 1, 2, np.nan, 4, 5, 6, 7, 8, 9])


def test_broadened_families_small_batch_f1_presence_and_coverage():
    # A deterministic slice of benchmarks/segment_benchmark.py (which reports the full numbers).
    from phasescope.analysis.phases import NAMED
    from phasescope.analysis.synthetic import FAMILIES, family_curve

    rng = np.random.default_rng(20)
    tp = fp = fn = covered = right = total = 0
    for family in FAMILIES:
        for direction in ("higher", "lower"):
            for _ in range(4):
                c = family_curve(family, rng, lower_is_better=direction == "lower")
                phases = label_phases(PhaseSegmenter().fit(c.steps, c.values).predict(), direction)
                found = [p.start_step for p in phases[1:]]
                tol = 0.05 * np.ptp(c.steps)
                a, b, d = match_changepoints(c.changepoints, found, tol)
                tp, fp, fn = tp + a, fp + b, fn + d
                for t in c.changepoints:
                    near = [p for p in phases[1:] if abs(p.start_step - t) <= tol]
                    covered += bool(near) and near[0].ci[0] <= t <= near[0].ci[1]
                right += {p.label for p in phases} & set(NAMED) == set(c.phases) & set(NAMED)
                total += 1
    assert f1_score(tp, fp, fn) >= 0.93
    assert right / total >= 0.93
    assert covered / tp >= 0.85
