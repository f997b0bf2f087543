"""How many held-out evaluations (and generated answers) the schedule implies, before any is run.

Counted with the trainer's own rule (`train.schedules.is_eval_step`): step 0, every `eval_every`
steps, the last step, and the early grid (`eval_early_every` up to `eval_early_until`).
"""

from __future__ import annotations

from dataclasses import dataclass

from phasescope.train.schedules import is_eval_step


@dataclass(frozen=True)
class EvalPlan:
    steps: int
    eval_every: int
    early_every: int
    early_until: int
    eval_steps: tuple[int, ...]
    early_only: int
    """Evaluations only the early grid adds."""


def eval_plan(steps: int, eval_every: int, early_every: int = 0, early_until: int = 0) -> EvalPlan:
    """Every step that gets an evaluation (0..steps) and how many of them the early grid adds."""
    all_steps = tuple(
        s for s in range(steps + 1) if is_eval_step(s, steps, eval_every, early_every, early_until)
    )
    regular = sum(is_eval_step(s, steps, eval_every) for s in range(steps + 1))
    return EvalPlan(steps, eval_every, early_every, early_until, all_steps, len(all_steps) - regular)


def eval_cost_lines(plan: EvalPlan, answers: int, runs: int, max_tokens: int) -> list[str]:
    """Summary lines: the grid, evaluations per run, and the answers they generate (`answers` per evaluation)."""
    n = len(plan.eval_steps)
    grid = f"step 0, every {plan.eval_every}, step {plan.steps}"
    if plan.early_only:
        grid += f", and every {plan.early_every} up to {plan.early_until} (+{plan.early_only} early)"
    lines = [f"{plan.steps:,} steps; evaluations at {grid}: {n} per run"]
    if answers:
        lines.append(
            f"{n} × {answers:,} answers = {n * answers:,} generated per run (≤ {max_tokens:,} tokens each); "
            f"{runs} run{'s' * (runs != 1)}: {n * answers * runs:,}"
        )
    return lines
