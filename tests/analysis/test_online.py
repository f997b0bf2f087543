"""The online phase detector on planted curves: events, lag, causality, agreement with offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasescope.analysis.online import OnlineDetector, offline_reference
from phasescope.analysis.phases import label_phases
from phasescope.analysis.planted_kinds import planted_kind
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.synthetic import planted_curve


def _full(noise: float = 0.01, seed: int = 0, **kw):
    # shift to step 100, readapt to step 500, overfit to step 1000
    return planted_curve("full", n_points=200, span=1000, noise=noise, rng=seed, **kw)


def test_reports_shift_readapt_overfit_near_the_planted_steps_after_they_begin():
    c = _full()
    events = OnlineDetector().run(c.steps, c.values)
    assert [e.label for e in events] == ["shift", "readapt", "overfit"]
    for ev, true in zip(events, [0.0, *c.changepoints], strict=True):
        assert ev.start_step == pytest.approx(true, abs=30)
        assert ev.start_step < ev.confirmed_step <= true + 150  # confirmed after it began, soon
    assert events[2].value == pytest.approx(0.75, abs=0.02)  # the peak: 0.5 + gain 0.25
    assert json.loads(json.dumps(events[2].to_dict()))["lag"] == events[2].lag


def test_is_causal_events_confirmed_by_a_step_do_not_depend_on_later_points():
    c = _full(noise=0.03, seed=3)
    final = OnlineDetector().run(c.steps, c.values)
    for cut in (60, 110, 150):
        early = OnlineDetector().run(c.steps[:cut], c.values[:cut])
        assert early == [e for e in final if e.confirmed_step <= c.steps[cut - 1]]


def test_phase_is_the_last_confirmed_label_and_updates_return_only_new_events():
    c = _full()
    det = OnlineDetector()
    assert det.phase is None
    seen = []
    for s, v in zip(c.steps, c.values, strict=True):
        new = det.update(s, v)
        seen += new
        if new:
            assert det.phase == new[-1].label
    assert seen == det.events and det.phase == "overfit"


def test_a_lower_is_better_rate_gives_the_same_events_as_the_accuracy_it_mirrors():
    c = _full(noise=0.02, seed=1)
    acc = OnlineDetector("eval/accuracy").run(c.steps, c.values)
    loss_det = OnlineDetector("eval/error_rate")
    assert loss_det.direction == "lower"
    # Mirrored inside [0, 1] (1 - accuracy, an error rate: a share of problems too), so that both
    # curves get the same noise floor: a short smooth rate is read on an assumed eval set, a loss is not.
    assert c.values.min() >= 0 and c.values.max() <= 1
    loss = loss_det.run(c.steps, 1.0 - c.values)
    assert [(e.label, e.start_step, e.confirmed_step) for e in loss] == [
        (e.label, e.start_step, e.confirmed_step) for e in acc
    ]


@pytest.mark.parametrize(
    ("variant", "labels"), [("flat", []), ("rise_only", ["improve"]), ("no_overfit", ["shift", "readapt"])]
)
def test_no_phase_that_is_not_planted(variant, labels):
    found = [
        [e.label for e in OnlineDetector().run(c.steps, c.values)]
        for c in (planted_curve(variant, n_points=150, span=1000, noise=0.04, rng=seed) for seed in range(8))
    ]
    assert sum(f != labels for f in found) <= 1, found
    assert not any("overfit" in f for f in found)


def test_ignores_non_finite_values_and_steps_that_do_not_advance():
    det = OnlineDetector()
    assert det.update(0, 0.5) == [] and det.update(0, 0.7) == [] and det.update(-1, 0.1) == []
    assert det.update(1, float("nan")) == []
    assert det.steps == [0.0] and det.values == [0.5]


@pytest.mark.parametrize("kind", ["linear", "eased", "binomial", "uneven", "lower"])
def test_agrees_with_the_offline_segmenter_at_the_end_of_the_run(kind):
    """Over planted curves of every variant, the events at the end of the run are the offline
    phases (``offline_reference``), with starts within 5% of the run."""
    rng = np.random.default_rng(7)
    agree = total = 0
    for variant in ("full", "no_overfit", "no_shift", "rise_only"):
        for _ in range(3):
            c, direction = planted_kind(variant, kind, rng, n_points=150, noise_frac=0.15)
            span = c.steps[-1] - c.steps[0]
            events = OnlineDetector(direction=direction).run(c.steps, c.values)
            phases = label_phases(PhaseSegmenter(n_bootstrap=0).fit(c.steps, c.values).predict(), direction)
            ref = offline_reference(phases)
            total += 1
            tol = 0.05 * span
            agree += [e.label for e in events] == [r[0] for r in ref] and all(
                lo - tol <= e.start_step <= hi + tol for e, (_, lo, hi) in zip(events, ref, strict=True)
            )
    assert agree >= total - 1  # at most one curve in twelve may differ


def test_an_unknown_direction_is_a_one_line_usage_error():
    from phasescope.errors import UsageError

    with pytest.raises(UsageError, match="direction must be 'higher' or 'lower', got 'up'"):
        OnlineDetector("eval_loss", "up")


def test_the_detector_and_the_follower_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, phasescope.analysis.online, phasescope.analysis.planted_kinds, phasescope.watch;"
        " assert 'torch' not in sys.modules and 'phasescope.train' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plateau_z_known_answers():
    from phasescope.analysis.online_rules import plateau_z

    x = np.linspace(0, 1000, 201)
    rise = 0.5 + 0.0004 * np.minimum(x - 400, 0)
    assert plateau_z(x, 0.001 * x, 0.01) == pytest.approx(0.0, abs=1e-6)  # a straight line: no corner helps
    assert plateau_z(x, rise, 0.01) == pytest.approx(0.0, abs=1e-6)  # levels off: the plateau fits exactly
    assert plateau_z(x, rise - 0.0004 * np.maximum(x - 400, 0), 0.01) > 50  # a peak
    assert plateau_z(x, rise + 0.0001 * np.maximum(x - 400, 0), 0.01) < -5  # still rising, more slowly
    noise = np.random.default_rng(0).normal(0, 0.01, len(x))
    assert plateau_z(x, rise + noise, 0.01) < 2
    assert plateau_z(x[:4], rise[:4], 0.01) == 0.0


def test_overfit_confirmed_soon_after_a_peak_and_never_on_a_rise_that_levels_off():
    x = np.linspace(0, 1000, 201)  # rise to step 400, then fall (or level off); noise 0.02
    for seed in range(4):
        noise = np.random.default_rng(seed).normal(0, 0.02, len(x))
        rise = 0.5 + 0.0004 * np.minimum(x - 400, 0) + noise
        peak = [
            e for e in OnlineDetector().run(x, rise - 0.0004 * np.maximum(x - 400, 0)) if e.label == "overfit"
        ]
        assert len(peak) == 1 and abs(peak[0].start_step - 400) <= 30 and 400 < peak[0].confirmed_step <= 520
        assert [e.label for e in OnlineDetector().run(x, rise)] == ["improve"]


@pytest.mark.parametrize("shape", ["flat", "rise"])
def test_a_single_outlying_evaluation_never_confirms_a_phase(shape):
    """A one-step spike of 15 noise sd (up or down, early, mid-run or the last point) adds no
    event: before issue 22 a spike up on a rising curve confirmed an overfit from the spike."""
    x = np.arange(60) * 10.0
    for seed in range(4):
        rng = np.random.default_rng(seed)
        y = 0.5 + (0.3 * np.minimum(x / 300, 1) if shape == "rise" else 0) + rng.normal(0, 0.01, len(x))
        clean = [e.label for e in OnlineDetector("eval/accuracy").run(x, y)]
        for at in (25, 40, 59):
            for sign in (1, -1):
                z = y.copy()
                z[at] += sign * 0.15
                assert [e.label for e in OnlineDetector("eval/accuracy").run(x, z)] == clean, (seed, at, sign)


def test_eval_n_travels_in_the_state_and_sets_the_floor():
    det = OnlineDetector("eval/accuracy", eval_n=200)
    x = np.arange(30) * 5.0
    det.run(x, 0.46 + 0.01 * np.sin(x / 20))
    assert det.noise == "binomial, eval set of 200"
    again = OnlineDetector("eval/accuracy")
    again.load_state_dict(det.state_dict())
    assert again.eval_n == 200


def test_glr_confirmation_finds_the_planted_phases_and_is_causal():
    c = _full(noise=0.02, seed=2)
    events = OnlineDetector(confirm="glr").run(c.steps, c.values)
    assert [e.label for e in events] == ["shift", "readapt", "overfit"]
    for ev, true in zip(events[1:], c.changepoints, strict=True):
        assert ev.start_step == pytest.approx(true, abs=40)
        assert true < ev.confirmed_step <= true + 350  # the calibrated threshold is slow: see families_online
    cut = int(np.searchsorted(c.steps, events[2].confirmed_step))  # the overfit's confirming point
    assert OnlineDetector(confirm="glr").run(c.steps[:cut], c.values[:cut]) == events[:2]


def test_glr_threshold_trades_lag_and_a_bad_confirm_is_a_usage_error():
    c = _full(noise=0.02, seed=2)
    lags = [
        next(
            e.confirmed_step
            for e in OnlineDetector(confirm="glr", glr_threshold=h).run(c.steps, c.values)
            if e.label == "overfit"
        )
        for h in (10.0, 80.0)
    ]
    assert lags[0] < lags[1]
    from phasescope.errors import UsageError  # noqa: PLC0415 - as above

    with pytest.raises(UsageError, match="confirm must be"):
        OnlineDetector(confirm="cusum")


def test_an_early_peak_too_short_to_test_still_confirms_its_overfit():
    """A rise over the first three evaluations (too few points for its own test), then a long
    decline: the fit labels the decline an overfit (after an improvement beyond the noise), and
    the detector confirms that overfit while the rise waits, instead of never confirming anything."""
    x = 100.0 * np.arange(1, 31)
    clean = np.interp(x, [100, 300, 3000], [0.40, 0.58, 0.25])
    y = clean + np.random.default_rng(0).normal(0, 0.01, len(x))
    events = OnlineDetector("eval/accuracy", eval_n=200).run(x, y)
    overfit = [e for e in events if e.label == "overfit"]
    assert overfit and 200 <= overfit[0].start_step <= 500
    assert overfit[0].confirmed_step < 3000
