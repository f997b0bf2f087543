"""The PhaseTrainer of one arm, or of one stage of a two-stage arm, with its evaluator and token probe.

`build_trainer` is shared by `train_one` (a one-stage arm) and `train/stages.py` (each stage of
`sft_then_rl`); `Logs` is where both send their rows. Neither of those two modules is imported here,
so the two-stage code and the one-stage code do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transformers import PrinterCallback, ProgressCallback

from phasescope.arms import stage_at, watches_dev
from phasescope.arms.mixing import is_paired
from phasescope.config import Config
from phasescope.train.dev import dev_evaluator
from phasescope.train.evaluate import with_problem_log
from phasescope.train.probes import probe_from_expert, with_probe
from phasescope.train.trainer import EvalCallback, PhaseTrainer


@dataclass
class Logs:
    on_row: Callable[[dict[str, Any]], None]
    """metrics.jsonl first, then the W&B mirror."""
    tokens: Any = None
    """The tokens.jsonl writer while probing, else None."""
    problems: Callable[[int, dict], None] | None = None
    """(step, {split: (ids, correct)}) → problems.jsonl (`runlog/problems.py`); None writes nothing."""


def build_trainer(cfg: Config, arm_name: str, setup, args, logs: Logs, stage=None):
    """The PhaseTrainer of one arm with its evaluation callback; and the token probe, when probing.

    `stage` (a `stages.StageView`) trains one stage of a two-stage arm: its own arm settings, the
    probe of the stage before, its offset on the run's step axis, and whether to evaluate at its start.
    """
    tc = cfg.train
    arm = stage.arm if stage is not None else cfg.arms[arm_name]
    # No held-out evaluator in a tuning trial (train.eval_heldout = false): the dev split stands in for it.
    evaluator, probe = _evaluator(cfg, setup, logs, arm, stage) if tc.eval_heldout else (None, None)
    trainer = PhaseTrainer(
        model=setup.model,
        reward_funcs=setup.reward_funcs,
        args=args,
        train_dataset=setup.paired_dataset if is_paired(arm) else setup.train_dataset,
        processing_class=setup.tokenizer,
        arm=arm,
        expert=setup.expert,
        on_row=logs.on_row,
        divergent_threshold=tc.divergent_threshold,
        sft_lr=arm.sft_lr or tc.sft_lr,
        on_nonfinite=tc.on_nonfinite,
        **setup.trainer_kwargs,
    )
    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)
    at_start = stage.eval_at_start if stage is not None else True
    # A μ that follows a dev metric's phases (chord_phase) needs the dev split at every evaluation step.
    dev = dev_evaluator(cfg, setup.tokenizer, arm_name) if watches_dev(arm) or not tc.eval_heldout else None
    if dev is not None:
        dev = _on_run_axis(with_problem_log(dev, logs.problems), stage)
    trainer.add_callback(
        EvalCallback(
            trainer, evaluator, tc.eval_steps, tc.eval_early_every, tc.eval_early_until, at_start, dev
        )
    )
    return trainer, probe


def _evaluator(cfg: Config, setup, logs: Logs, arm, stage):
    """The held-out evaluator (on the run's step axis) followed by the token probe when probing."""
    tc = cfg.train
    evaluator, probe = with_problem_log(setup.evaluator, logs.problems), None
    if logs.tokens is not None:
        # Token-divergence probe at every evaluation: probe/* join the eval row, records go to tokens.jsonl.
        probe = stage.probe if stage is not None and stage.probe is not None else None
        if probe is None:
            ex = setup.expert
            probe = probe_from_expert(
                setup.tokenizer,
                ex.prompts,
                ex.responses,
                tc.probe_size,
                setup.probe_seed,
                tc.probe_top_k,
                tc.divergent_threshold,
            )
        stage_of = stage.stage_of_step if stage is not None else None
        stage_of = stage_of or (lambda s: stage_at(s, arm))
        evaluator = with_probe(evaluator, probe, logs.tokens.write, stage_of)
    return _on_run_axis(evaluator, stage), probe


def _on_run_axis(evaluate, stage):
    """The trainer counts its own steps; evaluations (and their records) are on the run's step axis."""
    offset = stage.step_offset if stage is not None else 0
    if not offset:
        return evaluate
    return lambda model, step: evaluate(model, step + offset)


def oom_message(cfg: Config, step: int | None) -> str:
    tc = cfg.train
    at = f" at step {step}" if step is not None else ""
    return (
        f"out of accelerator memory{at}: lower train.prompts_per_step ({tc.prompts_per_step}), "
        f"train.num_generations ({tc.num_generations}), train.expert_batch_size ({tc.expert_batch_size}) "
        f"or train.max_completion_length ({tc.max_completion_length}), or set "
        "model.gradient_checkpointing=true; then continue with --resume"
    )
