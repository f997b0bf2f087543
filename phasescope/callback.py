"""``PhaseCallback``: phases while training, in any Hugging Face trainer (Trainer, SFTTrainer, GRPOTrainer).

Add it to the trainer's callbacks; it watches one logged metric (``eval_loss`` by default; any key
the trainer logs, e.g. ``reward`` for GRPO), feeds each value to a ``PhaseTracker``
(``analysis/online.py``, which also names the ``phase/*`` values) and acts when an overfit is
confirmed::

    from phasescope import PhaseCallback
    trainer = SFTTrainer(model=..., args=..., train_dataset=..., eval_dataset=...,
                         callbacks=[PhaseCallback(on_overfit="stop")])

``eval_n``: the metric is a rate on an eval set of that many problems; no phase is confirmed that
its binomial noise could make (``analysis/noise.py``; without it, an accuracy logged as k/n has n
read from its values, a short smooth rate off any grid is read on an assumed eval set of 200, and
any other metric, a loss included, gets a floor from its first differences).

An overfit is also what a decline from the first evaluation is when that evaluation is not the
untrained model (a trainer that evaluates first at step ``eval_steps``: its best may come before
the first evaluation); the event's ``note`` says so, and ``"stop"`` stops on it.

Actions on a confirmed overfit (``on_overfit``): ``"warn"`` logs a warning and trains on;
``"stop"`` ends training after this step; ``"save_best"`` also saves a checkpoint at every new best
value of the metric, so the best model is on disk when training stops (its path is
``best_checkpoint``).

Where the ``phase/*`` values go. ``Trainer.log`` appends a copy of the row to ``state.log_history``
and then hands the row itself to every callback's ``on_log``, in list order; transformers puts its
reporters (W&B, TensorBoard, ...) before the callbacks given to the trainer, and hands a callback
no trainer to log with. So a callback's values cannot join the row that was already stored and
reported without writing into the trainer's state behind its back. This callback uses only the
public contract: it adds its values to the row it is handed (``logs``), which every callback after
it in the list receives; ``rows`` keeps each of its rows (``{"step": ..., "phase/...": ...}``).
To have the trainer's reporters log them, put the callback ahead of them with
``PhaseCallback(...).attach(trainer)`` (instead of ``callbacks=[...]``): it goes first in the public
``trainer.callback_handler.callbacks`` list. ``log_history`` still holds the trainer's own row.

Resuming: ``PhaseCallback`` is an ``ExportableState``, like ``EarlyStoppingCallback``. Each checkpoint
stores its arguments and the tracker's state in ``trainer_state.json`` (``stateful_callbacks``), and
a run resumed with ``TrainingArguments(restore_callback_states_from_checkpoint=True)`` rebuilds it
from them (transformers makes a new instance and replaces the one passed in: read the restored
callback from ``trainer.callback_handler.callbacks``), so detection continues where it stood.
"""

from __future__ import annotations

import logging
import os

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from phasescope.analysis.online import Event
from phasescope.analysis.phase_tracker import PhaseTracker
from phasescope.errors import UsageError

ACTIONS = ("warn", "stop", "save_best")
logger = logging.getLogger("phasescope")


class PhaseCallback(TrainerCallback, ExportableState):
    """Online phase detection on a logged metric, with an action on a confirmed overfit."""

    def __init__(
        self,
        metric: str = "eval_loss",
        direction: str | None = None,
        on_overfit: str = "warn",
        eval_n: int | None = None,
        **detector_kwargs,
    ):
        if on_overfit not in ACTIONS:
            raise UsageError(f"unknown on_overfit action {on_overfit!r}; choose one of {', '.join(ACTIONS)}")
        self.metric = metric
        self.on_overfit = on_overfit
        self.init_args = {
            "metric": metric,
            "direction": direction,
            "on_overfit": on_overfit,
            "eval_n": eval_n,
            **detector_kwargs,
        }
        self.tracker = PhaseTracker(metric, direction, eval_n=eval_n, **detector_kwargs)
        self.best_checkpoint: str | None = None
        self.rows: list[dict] = []
        self._seen: set[str] = set()

    @property
    def detector(self):
        return self.tracker.detector

    @property
    def events(self) -> list[Event]:
        """Every phase change confirmed so far."""
        return self.tracker.events

    @property
    def phase_state(self) -> dict:
        """The tracker's state (``PhaseTracker.state_dict``); set it to continue from a saved one."""
        return self.tracker.state_dict()

    @phase_state.setter
    def phase_state(self, state: dict) -> None:
        self.tracker.load_state_dict(state)

    def state(self) -> dict:
        """What a checkpoint stores (``ExportableState``): the arguments, the tracker's state and the
        best checkpoint's path."""
        return {
            "args": dict(self.init_args),
            "attributes": {"phase_state": self.phase_state, "best_checkpoint": self.best_checkpoint},
        }

    def attach(self, trainer) -> PhaseCallback:
        """Put this callback first among ``trainer``'s callbacks, ahead of the reporters that
        ``report_to`` added (W&B, TensorBoard, ...), so the ``phase/*`` values join the rows they log.
        Returns the callback."""
        handler = trainer.callback_handler
        handler.callbacks = [self] + [c for c in handler.callbacks if c is not self]
        return self

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return control
        self._seen.update(logs)
        best_before = self.detector.best
        row = self.tracker.update(state.global_step, logs.get(self.metric))
        if not row:
            return control
        logs.update(row)  # the row every later callback receives (module docstring)
        self.rows.append({"step": state.global_step, **row})
        best = self.detector.best
        if self.on_overfit == "save_best" and best != best_before and best[0] == float(state.global_step):
            control.should_save = True
            self.best_checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        for ev in self.tracker.new:
            self._act(ev, control)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.detector.steps or not self._seen:
            return control
        seen = ", ".join(sorted(k for k in self._seen if not k.startswith("phase/")))
        logger.warning("phasescope: metric %r was never logged; logged metrics: %s", self.metric, seen)
        return control

    def _act(self, ev: Event, control) -> None:
        logger.warning(
            "phasescope: %s confirmed at step %g (began at step %g, %s = %.4g)%s",
            ev.label, ev.confirmed_step, ev.start_step, self.metric, ev.value, f": {ev.note}" if ev.note else "",
        )  # fmt: skip
        if ev.label != "overfit" or self.on_overfit == "warn":
            return
        control.should_training_stop = True
        if self.on_overfit == "save_best" and self.best_checkpoint:
            logger.warning("phasescope: stopping; the best checkpoint is %s", self.best_checkpoint)
