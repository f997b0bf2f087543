"""SFT, then RL, as two trainings on one step axis: the paper's SFT-best + RL and SFT-light + RL.

An arm with schedule `sft_then_rl` is trained as two trainings of the one trainer (`PhaseTrainer`):
1. an SFT stage (μ ≡ 1, at train.sft_lr) whose length `sft_steps` is a number; "epoch" (one pass
   over the expert set: ⌈expert rows / expert_batch_size⌉ updates); "best" (train.max_steps // 2 updates
   with train.stage_budget "within", train.max_steps with "added", with the dev split (`train/dev.py`) evaluated every `dev_every` steps; the switch is
   the step of best dev/accuracy); or "auto" (the same, but the stage stops as soon as the online
   detector (`analysis/online.py`) confirms overfit on dev/accuracy or dev/expert_nll; the switch is
   the best step seen by then);
2. an RL stage (μ ≡ 0) from the weights at the switch, of the updates left of the arm's budget
   (train.stage_budget "within", the default: train.max_steps minus every SFT update run, those past
   the switch included, so that every arm spends train.max_steps updates) or of train.max_steps updates,
   as many as the rl arm ("added": the paper's SFT-then-RL, which then spends more than the other arms), in a new trainer: a new optimizer (Adam's moments and step count start at zero) and a
   new learning-rate schedule (warm-up again, at the RL learning rate), as two trainings would have.

One step axis: metrics.jsonl holds the SFT rows 0..switch (stage "sft"), then the RL rows
switch+1..switch+train.max_steps (stage "rl"); the RL stage's first evaluation (of the switch weights)
joins the switch row when the SFT stage did not evaluate there. Also in the run directory:

    sft_stage.jsonl   best/auto: every row of the SFT stage with its dev/* metrics (past the switch too)
    switch.json       switch_step, how it was chosen, the two stages' lengths, the detector's events

Budgets (`train/budget.py`): the SFT stage's rows carry its running totals (and budget/selection,
the dev evaluations run up to the row's step); the switch row carries the whole SFT stage's spend (the
updates trained past the switch and every dev evaluation: the cost of finding the switch weights), and
the RL stage's totals continue from it.

Departures from the paper: its SFT-best is a checkpoint of a separate SFT training picked after the
fact; here the candidates are the dev evaluations every `dev_every` steps (as checkpoints saved at an
interval; step 0 excluded; the denser early dev points feed the detector only) and the best weights
are kept in host memory (one copy of the model; with ZeRO-3 sharded weights this is not supported). A two-stage arm writes no resumable checkpoint:
`--resume` starts it over. Probe records (tokens.jsonl) and per-problem results (problems.jsonl) past
the switch are dropped with the rows; the dev results kept are those of the rows kept (up to the switch).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_utils import SaveStrategy

from phasescope.analysis.online import OnlineDetector
from phasescope.analysis.phase_tracker import PhaseTracker
from phasescope.arms import SELECTING_WORDS
from phasescope.errors import PhasescopeError
from phasescope.runlog.writer import write_json_atomic
from phasescope.train.arm_trainer import build_trainer, oom_message
from phasescope.train.budget import PREFIX, Budget
from phasescope.train.dev import dev_evaluator
from phasescope.train.evaluate import with_problem_log
from phasescope.train.schedules import is_eval_step
from phasescope.train.trainer import evaluate_in_eval_mode

SELECTING = SELECTING_WORDS
SELECT_ON = "dev/accuracy"
AUTO_SIGNALS = {"dev/accuracy": "higher", "dev/expert_nll": "lower"}
"""Dev metrics the `auto` stop watches; the first confirmed overfit on any of them ends the SFT stage."""


@dataclass
class StageView:
    """What `arm_trainer.build_trainer` needs to train one stage of a two-stage arm."""

    arm: Any
    probe: Any = None
    step_offset: int = 0
    stage_of_step: Callable[[int], str] | None = None
    eval_at_start: bool = True
    budget: Budget | None = None
    """The totals the stage's `budget/*` continue from (the SFT stage's whole spend, for the RL stage)."""


class MergingDetector(OnlineDetector):
    """`OnlineDetector` whose candidate phase spans its run of same-label neighbours.

    Why: an SFT curve's first fall is steep and convex, so the prefix fits cut it into several
    `improve` (or `shift`) pieces, the first of them often 2 points long; the plain detector waits
    for that piece alone to hold `min_phase_points` and, as it never skips an unconfirmed phase,
    confirms nothing after it (seen on the default world's dev/expert_nll: no event in 350 steps).
    Merging equal neighbours is what `offline_reference` does with the offline phases too.
    """

    def _candidate(self, phases):
        last = self.events[-1] if self.events else None
        trend = [p for p in phases if p.label != "plateau"]
        for i, ph in enumerate(trend):
            if last is None or (ph.start_step > last.start_step and ph.label != last.label):
                j = i
                while j + 1 < len(trend) and trend[j + 1].label == ph.label:
                    j += 1
                return dataclasses.replace(ph, end_step=trend[j].end_step, end_value=trend[j].end_value)
        return None


def merging_tracker(metric: str, direction: str) -> PhaseTracker:
    """A `PhaseTracker` on a `MergingDetector`."""
    return PhaseTracker(detector=MergingDetector(metric, direction))


@dataclass
class SwitchChooser:
    """The switch step of a selecting SFT stage, from its dev evaluations (no torch: a pure rule).

    best: the step > 0 with the highest dev/accuracy (the earliest on ties). auto: the same, and
    `stop` turns true once a phase tracker confirms an overfit on one of `AUTO_SIGNALS` (the first
    such event is `stopped_by`).
    """

    mode: str
    best_step: int | None = None
    best_value: float = -math.inf
    stopped_by: Any = None
    trackers: dict[str, PhaseTracker] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self):
        if self.mode == "auto" and not self.trackers:
            self.trackers = {m: merging_tracker(m, d) for m, d in AUTO_SIGNALS.items()}

    @property
    def stop(self) -> bool:
        return self.stopped_by is not None

    def update(self, step: int, metrics: dict[str, float], candidate: bool = True) -> bool:
        """Add the dev metrics of `step`; True when it is the best candidate so far (keep its weights).

        Every point feeds the trackers; only `candidate` steps can be chosen (the `dev_every`
        grid, like checkpoints saved at an interval: the dense early points serve the detector).
        """
        self.curve.append({"step": step, **metrics})
        value = metrics.get(SELECT_ON)
        improved = candidate and step > 0 and value is not None and value > self.best_value
        if improved:
            self.best_step, self.best_value = step, value
        for name, tracker in self.trackers.items():
            if name in metrics:
                tracker.update(step, metrics[name])
                if self.stopped_by is None and "overfit" in tracker.first:
                    self.stopped_by = tracker.first["overfit"]
        return improved

    def report(self) -> dict[str, Any]:
        return {
            "selected_on": SELECT_ON,
            "best_dev_accuracy": self.best_value if self.best_step is not None else None,
            "stopped_by": self.stopped_by.to_dict() if self.stopped_by is not None else None,
            "events": {m: [e.to_dict() for e in t.events] for m, t in self.trackers.items()},
            "dev_curve": self.curve,
        }


class BestWeights:
    """A host-memory copy of the model's weights at the best step so far."""

    def __init__(self):
        self.state: dict | None = None

    def keep(self, model) -> None:
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


class DevCallback(TrainerCallback):
    """Evaluates the dev split at step 0, at every step up to `early_until` and every `every` SFT
    steps after; keeps the best weights; under
    `auto` stops the stage once the chooser says so. Metrics go to `found[step]`."""

    def __init__(
        self,
        trainer,
        evaluate,
        every: int,
        chooser: SwitchChooser,
        weights: BestWeights,
        early_until: int = 0,
    ):
        self.trainer, self.evaluate, self.every = trainer, evaluate, every
        self.early_until = early_until
        self.chooser, self.weights = chooser, weights
        self.found: dict[int, dict[str, float]] = {}
        self.max_steps = 0

    def _run(self, step: int) -> None:
        model = self.trainer.model
        out = evaluate_in_eval_mode(model, self.evaluate, step, "time/dev_s")
        self.found[step] = out
        if self.chooser.update(step, out, candidate=step % self.every == 0 or step == self.max_steps):
            self.weights.keep(model)

    def on_train_begin(self, args, state, control, **kwargs):
        self.max_steps = state.max_steps
        if state.global_step == 0:
            self._run(0)

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        # Every step through the early grid: the shift takes a few steps, and the online detector
        # confirms a phase only once it holds several points (it never skips an unconfirmed one).
        if is_eval_step(step, state.max_steps, self.every, 1, self.early_until):
            self._run(step)
            if self.chooser.stop:
                control.should_training_stop = True


class Buffer:
    """Rows (or probe records) held until the switch is known."""

    def __init__(self):
        self.rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)


class RlRows:
    """The RL stage's rows on the run's step axis; its start evaluation joins the held switch row."""

    def __init__(self, write: Callable[[dict[str, Any]], None], offset: int, held: dict[str, Any] | None):
        self.write, self.offset, self.held = write, offset, held

    def __call__(self, row: dict[str, Any]) -> None:
        row = {**row, "step": row["step"] + self.offset}
        if self.held is not None:
            if row["step"] == self.offset:  # evaluation of the switch weights: the switch row's
                # the switch row keeps its own budget/*: the SFT stage's whole spend (`switch_budget`)
                kept = ("step", "stage", "train/mu")
                self.held.update({k: v for k, v in row.items() if k not in kept and not k.startswith(PREFIX)})
                return
            self.close()
        self.write(row)

    def close(self) -> None:
        if self.held is not None:
            self.write(self.held)
            self.held = None


def sft_stage_length(sft_steps: int | str, n_expert: int, expert_batch: int, rl_steps: int) -> int:
    """Updates of the SFT stage (at most, for best/auto): see the module docstring. `rl_steps` is the
    longest a best/auto stage may run (train.max_steps, or half of it with stage_budget "within")."""
    if isinstance(sft_steps, int):
        return sft_steps
    if sft_steps == "epoch":
        return max(1, math.ceil(n_expert / max(1, expert_batch)))
    return rl_steps


def stage_lengths(budget: int, stage_budget: str) -> tuple[int, Callable[[int], int]]:
    """(the longest a best/auto SFT stage may run, SFT updates spent -> RL stage updates) for an arm of
    `budget` = train.max_steps updates: "within" the budget, the SFT stage takes at most half and the RL
    stage the rest, so the arm spends exactly `budget`; "added", the SFT stage comes on top of `budget`
    RL updates. A fixed SFT stage that leaves no RL update is refused."""
    if stage_budget == "added":
        return budget, lambda spent: budget

    def rest(spent: int) -> int:
        if spent >= budget:
            raise PhasescopeError(
                f"the SFT stage takes {spent} of the arm's {budget} updates (train.stage_budget = "
                '"within"), leaving none for RL: lower sft_steps, raise train.max_steps, or set '
                'train.stage_budget = "added"'
            )
        return budget - spent

    return max(1, budget // 2), rest


def stage_args(args, max_steps: int):
    """The run's GRPOConfig for one stage: its own length, no checkpoints (a two-stage arm starts over)."""
    out = copy.deepcopy(args)  # not dataclasses.replace: GRPOConfig's __post_init__ refuses its own output
    out.max_steps, out.save_strategy = max_steps, SaveStrategy.NO
    return out


@dataclass
class SftOutcome:
    model: Any
    switch: int
    steps_run: int
    held: dict[str, Any] | None  # the switch row, held back to receive the RL stage's start evaluation
    probe: Any
    info: dict[str, Any]
    budget: Budget  # the SFT stage's whole spend, past the switch and dev evaluations included


def train_stages(cfg, arm_name: str, setup, args, logs, out_dir: Path, is_main: bool):
    """Train a two-stage arm (module docstring); write switch.json; return the trained model."""
    arm = cfg.arms[arm_name]
    # The arm's budget: the one place this module reads train.max_steps.
    longest, rl_length = stage_lengths(cfg.train.max_steps, cfg.train.stage_budget)
    for name in ("sft_stage.jsonl", "switch.json"):
        (out_dir / name).unlink(missing_ok=True)
    n = sft_stage_length(
        arm.sft_steps, len(setup.expert.prompts) if setup.expert else 0, cfg.train.expert_batch_size, longest
    )
    rl_length(n)  # a fixed stage that leaves no RL update fails before training, not after the SFT stage
    stage1 = _sft_stage if arm.sft_steps in SELECTING else _fixed_sft_stage
    sft = stage1(cfg, arm_name, setup, stage_args(args, n), logs, out_dir, is_main)
    rl_steps = rl_length(sft.steps_run)  # "within": every SFT update run, past the switch too, is spent
    b = sft.switch
    rl_arm = dataclasses.replace(arm, schedule="constant", mu=0.0, sft_steps=0)
    view = StageView(
        rl_arm, sft.probe, b, lambda s: "sft" if s <= b else "rl", sft.held is not None, sft.budget
    )
    rows = RlRows(logs.on_row, b, sft.held)
    # The RL stage trains the SFT stage's model (LoRA adapters included: not applied a second time).
    kwargs = {k: v for k, v in setup.trainer_kwargs.items() if k != "peft_config"}
    setup = dataclasses.replace(setup, model=sft.model, trainer_kwargs=kwargs)
    trainer = _train(
        cfg, arm_name, setup, stage_args(args, rl_steps), dataclasses.replace(logs, on_row=rows), view
    )
    rows.close()
    info = {
        "arm": arm_name,
        "sft_steps": arm.sft_steps,
        "switch_step": b,
        "sft_stage_steps": sft.steps_run,
        "rl_steps": trainer.state.global_step,
        "last_step": b + trainer.state.global_step,
        **sft.info,
    }
    if is_main:
        write_json_atomic(out_dir / "switch.json", info)
    return trainer.model


def _train(cfg, arm_name: str, setup, args, logs, view: StageView, callback=None):
    """Build one stage's trainer (plus `callback(trainer)`, if given) and train it."""
    trainer, probe = build_trainer(cfg, arm_name, setup, args, logs, view)
    trainer.stage_probe = probe
    if view.budget is not None:
        trainer.budget.load(view.budget)
    if callback is not None:
        trainer.add_callback(callback(trainer))
    try:
        trainer.train()
    except torch.OutOfMemoryError:
        raise PhasescopeError(oom_message(cfg, trainer.state.global_step + 1)) from None
    return trainer


def _sft_arm(cfg, arm_name: str):
    return dataclasses.replace(cfg.arms[arm_name], schedule="constant", mu=1.0, sft_steps=0)


def _fixed_sft_stage(cfg, arm_name, setup, args, logs, out_dir, is_main) -> SftOutcome:
    """A fixed-length SFT stage, its rows written as they come (its last step is evaluated)."""
    trainer = _train(cfg, arm_name, setup, args, logs, StageView(_sft_arm(cfg, arm_name)))
    n = trainer.state.global_step
    spent = Budget()
    spent.load(trainer.budget)
    return SftOutcome(trainer.model, n, n, None, trainer.stage_probe, {"chosen_by": "fixed"}, spent)


def _sft_stage(cfg, arm_name, setup, args, logs, out_dir: Path, is_main: bool) -> SftOutcome:
    """A selecting SFT stage: rows and probe records held until the switch is chosen on the dev split."""
    arm = cfg.arms[arm_name]
    chooser, weights = SwitchChooser(arm.sft_steps), BestWeights()
    held_problems: list[tuple[int, dict]] = []  # per-problem results, kept like the rows up to the switch
    evaluate = with_problem_log(
        dev_evaluator(cfg, setup.tokenizer, arm_name), lambda *r: held_problems.append(r)
    )
    rows, records = Buffer(), Buffer() if logs.tokens is not None else None
    found: dict[int, dict[str, float]] = {}

    def dev_callback(trainer):
        early = cfg.train.eval_early_until if cfg.train.eval_early_every else 0
        cb = DevCallback(trainer, evaluate, arm.dev_every, chooser, weights, early)
        cb.found = found
        return cb

    view = StageView(_sft_arm(cfg, arm_name))
    stage_logs = type(logs)(rows.write, records, lambda *r: held_problems.append(r))
    trainer = _train(cfg, arm_name, setup, args, stage_logs, view, dev_callback)
    for row in rows.rows:
        row.update(found.get(row["step"], {}))
        row[PREFIX + "selection"] = sum(1 for s in found if s <= row["step"])
    if is_main:
        with open(out_dir / "sft_stage.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows.rows)
    b = chooser.best_step if chooser.best_step is not None else trainer.state.global_step
    if chooser.best_step is not None:
        weights.restore(trainer.model)
    for row in rows.rows:
        if row["step"] < b:
            logs.on_row(row)
    held = next(r for r in rows.rows if r["step"] == b)
    spent = switch_budget(trainer.budget, len(found))
    held.update(spent.row())
    evaluated = "eval/accuracy" in held
    for rec in records.rows if records is not None else []:
        if rec["step"] < b or (rec["step"] == b and evaluated):
            logs.tokens.write(rec)
    for step, payload in held_problems if logs.problems is not None else []:
        kept = {k: v for k, v in payload.items() if step < b or (step == b and (evaluated or k == "dev"))}
        if kept:
            logs.problems(step, kept)
    if evaluated:  # the SFT stage evaluated the switch weights: no second evaluation at the RL start
        logs.on_row(held)
        held = None
    info = {"chosen_by": arm.sft_steps, "dev_every": arm.dev_every, **chooser.report()}
    return SftOutcome(trainer.model, b, trainer.state.global_step, held, trainer.stage_probe, info, spent)


def switch_budget(stage: Budget, dev_evaluations: int) -> Budget:
    """What the switch weights of a selecting SFT stage cost: the stage's every update (those past the
    switch too, trained to find it) and its dev evaluations. The switch row carries it, and the RL stage
    continues from it, so budget/* never fall and the model after the switch is charged what it cost."""
    spent = Budget()
    spent.load(stage)
    spent.selection = dev_evaluations
    return spent
