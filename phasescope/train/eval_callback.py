"""Held-out (and dev) evaluation during training: at step 0, on the evaluation grid, joined to the step's row.

Split from `trainer.py` (which re-exports both names); `EvalCallback` drives a `PhaseTrainer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from transformers import TrainerCallback

from phasescope.arms import stage_of
from phasescope.train.schedules import is_eval_step


def evaluate_in_eval_mode(model, evaluate, step: int, time_key: str) -> dict[str, float]:
    """`evaluate(model, step)` with dropout off, its wall time under `time_key`; the model's training
    mode is restored afterwards (held-out and dev evaluations both run mid-training)."""
    was_training = model.training
    model.eval()
    t0 = time.perf_counter()
    try:
        out = evaluate(model, step)
    finally:
        model.train(was_training)
    out[time_key] = time.perf_counter() - t0
    return out


class EvalCallback(TrainerCallback):
    """Held-out evaluation at step 0 (the base model) and every `eval_every` steps and at the last step.

    Step 0 is written as its own row; later evaluations join the training row of the same step.
    """

    def __init__(
        self,
        trainer,
        evaluate: Callable[[torch.nn.Module, int], dict[str, float]],
        eval_every: int,
        early_every: int = 0,
        early_until: int = 0,
        at_start: bool = True,
        dev: Callable[[torch.nn.Module, int], dict[str, float]] | None = None,
    ):
        self.trainer = trainer
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.early_every = early_every
        self.early_until = early_until
        self.at_start = at_start  # False: the RL stage of sft_then_rl, whose start the SFT stage evaluated
        self.dev = dev  # the dev split, for a schedule that watches a dev metric (chord_phase)

    def _run(self, step: int) -> dict[str, float]:
        ev = self.evaluate  # None: no held-out evaluation (train.eval_heldout = false, `phasescope tune`)
        out = evaluate_in_eval_mode(self.trainer.model, ev, step, "time/eval_s") if ev else {}
        if self.dev is not None:
            out.update(evaluate_in_eval_mode(self.trainer.model, self.dev, step, "time/dev_s"))
            self.trainer.budget.selection += 1  # what μ is chosen on costs evaluations: budget/selection
        return out

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0 and self.at_start:
            mu = self.trainer.mu(0)
            row = {"step": 0, "stage": stage_of(mu), "train/mu": mu, **self.trainer.budget.row()}
            row.update(self._run(0))
            row.update(self.trainer.budget.row())  # the step-0 dev evaluation counts in budget/selection
            row.update(self.trainer.observe(row))
            self.trainer.on_row(row)

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer.end_step()
        step = state.global_step
        if is_eval_step(step, state.max_steps, self.eval_every, self.early_every, self.early_until):
            self.trainer.attach_eval(self._run(step))
