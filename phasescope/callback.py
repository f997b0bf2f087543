"""``PhaseCallback``: phases while training, in any Hugging Face trainer (Trainer, SFTTrainer, GRPOTrainer).

Add it to the trainer's callbacks; it watches one logged metric (``eval_loss`` by default; any key
the trainer logs, e.g. ``reward`` for GRPO), feeds each value to an ``OnlineDetector``, writes
``phase/*`` values into the same log row, and acts when an overfit is confirmed::

    from phasescope import PhaseCallback
    trainer = SFTTrainer(model=..., args=..., train_dataset=..., eval_dataset=...,
                         callbacks=[PhaseCallback(on_overfit="stop")])

Logged on every row that holds the metric: ``phase/code`` (``PHASE_CODES``; 0 before the first
phase is confirmed), ``phase/events``, ``phase/best_step`` and ``phase/best_value``; on the row that
confirms a phase, ``phase/<label>_start_step`` and ``phase/<label>_lag``.

Actions on a confirmed overfit (``on_overfit``): ``"warn"`` logs a warning and trains on;
``"stop"`` ends training after this step; ``"save_best"`` also saves a checkpoint at every new best
value of the metric, so the best model is on disk when training stops (its path is
``best_checkpoint``).

Why the callback moves itself to the front of the trainer's callback list: the reporting callbacks
(W&B, TensorBoard, ...) come before user callbacks and send each row as soon as they see it, and a
callback is not given the trainer to call ``trainer.log`` with. Running first, it adds its values
to the row before anyone reports it, so they land wherever the user's logs go. transformers 5 has
no documented way to do this: callbacks run in list order with no priority, ``add_callback`` /
``pop_callback`` are the trainer's (a callback is handed the model, tokenizer, optimizer, scheduler
and dataloaders, never the trainer or its handler), and ``on_evaluate`` runs after the evaluation's
row was logged. Hence ``_move_to_front`` finds the handler's list through ``gc.get_referrers``;
where it cannot (another trainer design), the values still reach ``state.log_history`` and every
reporter after the callback.
"""

from __future__ import annotations

import gc
import logging
import os

from transformers import TrainerCallback

from phasescope.analysis.online import PHASE_CODES, Event, OnlineDetector
from phasescope.errors import UsageError

ACTIONS = ("warn", "stop", "save_best")
logger = logging.getLogger("phasescope")


class PhaseCallback(TrainerCallback):
    """Online phase detection on a logged metric, with an action on a confirmed overfit."""

    def __init__(
        self,
        metric: str = "eval_loss",
        direction: str | None = None,
        on_overfit: str = "warn",
        **detector_kwargs,
    ):
        if on_overfit not in ACTIONS:
            raise UsageError(f"unknown on_overfit action {on_overfit!r}; choose one of {', '.join(ACTIONS)}")
        self.metric = metric
        self.on_overfit = on_overfit
        self.detector = OnlineDetector(metric, direction, **detector_kwargs)
        self.events: list[Event] = []
        self.best_checkpoint: str | None = None
        self._seen: set[str] = set()

    def on_init_end(self, args, state, control, **kwargs):
        _move_to_front(self)

    def on_train_begin(self, args, state, control, **kwargs):
        _move_to_front(self)  # again, for a callback added with trainer.add_callback after __init__

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return control
        self._seen.update(logs)
        value = logs.get(self.metric)
        if not isinstance(value, (int, float)):
            return control
        best_before = self.detector.best
        new = self.detector.update(state.global_step, float(value))
        self.events += new
        row = self._phase_row(new)
        logs.update(row)
        if state.log_history and state.log_history[-1].get(self.metric) == value:
            state.log_history[-1].update(row)  # the trainer appended a copy of this row already
        improved = self.detector.best != best_before and self.detector.best[0] == float(state.global_step)
        if self.on_overfit == "save_best" and improved:
            control.should_save = True
            self.best_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        for ev in new:
            self._act(ev, control)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.detector.steps or not self._seen:
            return control
        seen = ", ".join(sorted(k for k in self._seen if not k.startswith("phase/")))
        logger.warning("phasescope: metric %r was never logged; logged metrics: %s", self.metric, seen)
        return control

    def _phase_row(self, new: list[Event]) -> dict:
        d = self.detector
        row = {
            "phase/code": PHASE_CODES.get(d.phase, 0),
            "phase/events": len(d.events),
        }
        if d.best is not None:
            row["phase/best_step"], row["phase/best_value"] = d.best
        for ev in new:
            row[f"phase/{ev.label}_start_step"] = ev.start_step
            row[f"phase/{ev.label}_lag"] = ev.lag
        return row

    def _act(self, ev: Event, control) -> None:
        logger.warning(
            "phasescope: %s confirmed at step %g (began at step %g, %s = %.4g)",
            ev.label, ev.confirmed_step, ev.start_step, self.metric, ev.value,
        )  # fmt: skip
        if ev.label != "overfit" or self.on_overfit == "warn":
            return
        control.should_training_stop = True
        if self.on_overfit == "save_best" and self.best_checkpoint:
            logger.warning("phasescope: stopping; the best checkpoint is %s", self.best_checkpoint)


def _move_to_front(callback: TrainerCallback) -> None:
    """Put ``callback`` first in the callback list that holds it (see the module docstring)."""
    for ref in gc.get_referrers(callback):
        if isinstance(ref, list) and any(type(c).__name__ == "DefaultFlowCallback" for c in ref):
            # Moving an earlier item to the front keeps the positions of the later ones, so a
            # handler iterating over this list while we move still calls each callback once.
            ref.remove(callback)
            ref.insert(0, callback)
            return
