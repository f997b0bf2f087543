"""PhaseCallback replaying the default run's 9 flat eval/general_accuracy curves (rl, chord_phi,
chord_mu x 3 seeds, tests/fixtures/flat_general_curves.json) through on_log, as a trainer would
hand it each evaluation's row: no phase is confirmed and training is never stopped, with the eval
set's size given and without it (then it is read from the values' 1/200 grid)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

FLAT = json.loads((Path(__file__).parent / "fixtures" / "flat_general_curves.json").read_text())


class _State:
    global_step = 0


@pytest.mark.parametrize("eval_n", [200, None])
def test_replaying_the_flat_curves_confirms_nothing_and_never_stops(eval_n):
    from transformers import TrainerControl

    from phasescope import PhaseCallback

    for name, c in FLAT["curves"].items():
        cb = PhaseCallback(metric="eval_general_accuracy", on_overfit="stop", eval_n=eval_n)
        state, control = _State(), TrainerControl()
        for step, value in zip(c["steps"], c["values"], strict=True):
            state.global_step = step
            cb.on_log(None, state, control, logs={"eval_general_accuracy": value})
            assert not control.should_training_stop, name
        assert cb.events == [] and len(cb.rows) == len(c["steps"]), name
        assert cb.rows[-1]["phase/code"] == 0.0
