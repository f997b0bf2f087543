"""The search of one arm: an Optuna study in `<tune dir>/<arm>/study.db`, asked for one trial at a time.

Resuming is the storage's job: the study is an Optuna RDB (SQLite) file, so rerunning the same command
loads it and continues. `--trials N` is the number of completed trials the study should hold: a study
interrupted at 12 of 20 runs 8 more, one already at 20 runs none. A trial left running by a killed
process is marked failed (user attribute `stale`) when the study is opened again; a trial whose
training fails is marked failed with its error, and the search goes on (a learning rate that makes the
loss non-finite is a result, not a crash) unless `MAX_FAILED_IN_A_ROW` fail one after another, which
says that something other than the values is wrong. The study also records its budget (max_steps,
seeds, the score): continuing it at another budget would mix scores that cannot be compared, and is
refused.

Trials run one after another, each trial's seeds side by side in the worker pool: TPE proposes each
trial from every trial before it, which a batch of trials in parallel would not. The sampler is seeded
by the number of trials the study already holds, so that a resumed search does not replay the first
invocation's random start-up proposals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from phasescope.errors import PhasescopeError, UsageError
from phasescope.tune.objective import SCORE_TEXT, TrialResult, run_trial, trial_config
from phasescope.tune.space import Knob, grid_space, suggest

MAX_FAILED_IN_A_ROW = 3
SAMPLERS = ("tpe", "random", "grid")
STUDY_FILE = "study.db"


@dataclass
class ArmPlan:
    """Everything one arm's search needs: what to train, where, and how many trials."""

    arm: str
    knobs: list[Knob]
    config: str | None
    overrides: list[str]
    arm_dir: Path
    trials: int
    seeds: int
    workers: int | None
    max_steps: int
    sampler: str = "tpe"
    seed: int = 0
    baseline: dict[str, Any] = field(default_factory=dict)
    """The config's own values (`space.config_values`): a new study's first trial (not on a grid)."""


class _Grid(optuna.samplers.GridSampler):
    """A GridSampler whose end the tune loop checks (`is_exhausted`): its own `after_trial` calls
    `study.stop()`, which raises outside `study.optimize` (phasescope asks and tells)."""

    def after_trial(self, study, trial, state, values) -> None:
        pass


def make_sampler(kind: str, knobs: list[Knob], seed: int) -> optuna.samplers.BaseSampler:
    if kind == "grid":
        return _Grid(grid_space(knobs), seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(plan: ArmPlan) -> optuna.Study:
    """Create or load the arm's study (refused when it was run at another budget); stale trials failed."""
    optuna.logging.set_verbosity(logging.WARNING)  # phasescope prints its own line per trial
    plan.arm_dir.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{(plan.arm_dir / STUDY_FILE).resolve()}")
    held = len(_trials(storage, plan.arm))
    sampler = make_sampler(plan.sampler, plan.knobs, plan.seed + held)
    study = optuna.create_study(
        study_name=plan.arm, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
    )
    budget = {"max_steps": plan.max_steps, "seeds": plan.seeds, "score": SCORE_TEXT}
    stored = study.user_attrs.get("budget")
    if stored is None:
        study.set_user_attr("budget", budget)
    elif stored != budget:
        raise UsageError(
            f"{plan.arm_dir / STUDY_FILE} was tuned with max_steps={stored['max_steps']}, "
            f"seeds={stored['seeds']}; this command asks max_steps={plan.max_steps}, seeds={plan.seeds}: "
            "scores at two budgets do not compare, so choose another --name"
        )
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name(plan.arm), t.number
        )
        storage.set_trial_user_attr(trial_id, "stale", True)
        study.tell(t.number, state=TrialState.FAIL)
    return study


def _trials(storage, name: str) -> list:
    try:
        return storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False)
    except KeyError:
        return []


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def tune_arm(plan: ArmPlan, log=print, train=run_trial) -> optuna.Study:
    """Run trials until the study holds `plan.trials` completed ones; `train(cfg, dir, log)` trains one."""
    study = open_study(plan)
    only = set(grid_space(plan.knobs)) if plan.sampler == "grid" else None
    if plan.baseline and plan.sampler != "grid" and not study.get_trials(deepcopy=False):
        study.enqueue_trial(plan.baseline, user_attrs={"baseline": True})
    failed_in_a_row = 0
    while len(completed(study)) < plan.trials:
        if plan.sampler == "grid" and study.sampler.is_exhausted(study):
            log(f"{plan.arm}: the grid is exhausted after {len(completed(study))} trials")
            break
        trial = study.ask()
        values = suggest(trial, plan.knobs, only)
        result = _run_one(plan, trial, values, log, train)
        if result.ok:
            study.tell(trial, result.score)
            failed_in_a_row = 0
        else:
            trial.set_user_attr("error", result.error)
            study.tell(trial, state=TrialState.FAIL)
            failed_in_a_row += 1
        log(_trial_line(plan, trial.number, values, result))
        if failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            raise PhasescopeError(
                f"{plan.arm}: {failed_in_a_row} trials failed in a row (last: {result.error}); "
                f"see {plan.arm_dir / 'trials'}"
            )
    return study


def _run_one(plan: ArmPlan, trial, values: dict[str, Any], log, train) -> TrialResult:
    """Train one trial; any interruption (Ctrl-C, a bug) marks it failed before it propagates."""
    exp_dir = plan.arm_dir / "trials" / f"{trial.number:04d}"
    trial.set_user_attr("dir", str(exp_dir))
    try:
        cfg = trial_config(plan.config, plan.overrides, plan.arm, values, exp_dir, plan.seeds, plan.workers)
        result = train(cfg, exp_dir, log)
    except UsageError as exc:  # e.g. values the config refuses: this trial fails, the search goes on
        return TrialResult(False, error=str(exc))
    except BaseException as exc:
        trial.set_user_attr("error", f"interrupted: {type(exc).__name__}: {exc}"[:300])
        trial.study.tell(trial, state=TrialState.FAIL)
        if isinstance(exc, PhasescopeError) and exc.exit_code >= 128:  # the pool's SIGINT/SIGTERM
            stopped = PhasescopeError(
                f"interrupted; {plan.arm} trial {trial.number} is marked failed; rerun the same command "
                "to continue the study"
            )
            stopped.exit_code = exc.exit_code
            raise stopped from None
        raise
    trial.set_user_attr("seed_scores", result.seed_scores)
    trial.set_user_attr("seconds", round(result.seconds, 1))
    return result


def _trial_line(plan: ArmPlan, number: int, values: dict[str, Any], result: TrialResult) -> str:
    shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={v:.3g}" for k, v in values.items())
    outcome = f"dev {result.score:.3f}" if result.ok else f"failed ({result.error})"
    return f"{plan.arm} trial {number}: {shown} -> {outcome} in {result.seconds:.0f} s"
