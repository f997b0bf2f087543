"""PhaseTracker: the one set of phase/* names, per row, and a state that continues exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasescope.analysis.online import PHASE_CODES, OnlineDetector
from phasescope.analysis.phase_tracker import PhaseTracker
from phasescope.analysis.synthetic import planted_curve
from phasescope.errors import UsageError


def _full():
    # shift to step 100, readapt to step 500, overfit to step 1000 (accuracy: higher is better)
    return planted_curve("full", n_points=200, span=1000, noise=0.01, rng=0)


def test_rows_carry_code_events_best_and_each_confirmation_from_its_row_on():
    c = _full()
    tracker = PhaseTracker("eval/accuracy")
    rows = [tracker.update(s, v) for s, v in zip(c.steps, c.values, strict=True)]
    events = OnlineDetector("eval/accuracy").run(c.steps, c.values)
    assert [e.label for e in events] == ["shift", "readapt", "overfit"] and tracker.events == events
    assert rows[0] == {"phase/code": 0.0, "phase/events": 0.0, "phase/best_step": 0.0,
                       "phase/best_value": float(c.values[0])}  # fmt: skip
    for ev in events:
        i = int(np.flatnonzero(c.steps == ev.confirmed_step)[0])
        assert rows[i][f"phase/{ev.label}_start_step"] == ev.start_step
        assert rows[i][f"phase/{ev.label}_lag"] == ev.lag
        assert rows[i]["phase/code"] == PHASE_CODES[ev.label]
        assert all(r[f"phase/{ev.label}_confirmed_step"] == ev.confirmed_step for r in rows[i:])
        assert not any(f"phase/{ev.label}_confirmed_step" in r for r in rows[:i])
        assert sum(f"phase/{ev.label}_start_step" in r for r in rows) == 1  # on its confirming row only
    best = int(np.argmax(c.values))
    assert rows[-1]["phase/best_step"] == c.steps[best] and rows[-1]["phase/events"] == 3.0
    assert all(isinstance(v, float) for r in rows for v in r.values())


def test_a_row_without_a_number_adds_nothing():
    tracker = PhaseTracker("eval_loss")
    assert tracker.update(1, None) == {} and tracker.update(2, "0.5") == {} and tracker.update(3, True) == {}
    assert tracker.direction == "lower" and tracker.detector.steps == []


def test_a_saved_state_continues_exactly_as_if_never_stopped():
    c = _full()
    whole = PhaseTracker("eval/accuracy")
    first = PhaseTracker("eval/accuracy")
    cut = 120  # after the shift and readapt are confirmed, before the overfit
    for s, v in zip(c.steps[:cut], c.values[:cut], strict=True):
        whole.update(s, v)
        first.update(s, v)
    saved = json.loads(json.dumps(first.state_dict()))  # as a checkpoint's trainer_state.json holds it
    resumed = PhaseTracker("eval/accuracy")
    resumed.load_state_dict(saved)
    assert resumed.state_dict() == saved and len(resumed.events) == 2
    for s, v in zip(c.steps[cut:], c.values[cut:], strict=True):
        assert resumed.update(s, v) == whole.update(s, v)
    assert resumed.state_dict() == whole.state_dict() and [e.label for e in resumed.events][-1] == "overfit"


def test_a_state_of_another_metric_is_refused():
    saved = PhaseTracker("eval/accuracy").state_dict()
    with pytest.raises(UsageError, match="saved phase detector watched 'eval/accuracy'"):
        PhaseTracker("eval_loss").load_state_dict(saved)
