"""What `phasescope run` shows while its workers train: a bar per (arm, seed) on a terminal, plain lines
otherwise (CI, a log file), so that a redirected run's output stays readable text.

On a terminal (`rich`): one bar per running (arm, seed) with its step, its latest held-out accuracy
and an ETA from the step rate; the pool's own lines ("started ...", "finished ...") print above the
bars. Elsewhere: one line every `PLAIN_EVERY_S` seconds, `  sft/seed0 120/350 acc 0.41 | ...`.
Both read the workers' metrics.jsonl, never the workers themselves.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from phasescope.runlog.experiment import arm_dir
from phasescope.runlog.reader import read_metrics, run_dir_name

PLAIN_EVERY_S = 15
BAR_EVERY_S = 1.0


def latest(exp_dir: Path, arm: str, seed: int, world: int = 0) -> tuple[int, float | None]:
    """The last step written by (arm, seed, world draw) and its latest eval/accuracy (None before the first)."""
    rows = read_metrics(arm_dir(exp_dir, arm, seed, world) / "metrics.jsonl")
    step = rows[-1]["step"] if rows else 0
    accs = [r["eval/accuracy"] for r in rows if "eval/accuracy" in r]
    return step, (accs[-1] if accs else None)


def total_steps(steps: int | dict[str, int], arm: str) -> int:
    """Steps on an arm's axis: one number for every arm, or per arm (a two-stage arm adds its SFT
    stage; for sft_steps best/auto an upper bound, since the switch is chosen while it runs)."""
    return steps.get(arm, max(steps.values(), default=0)) if isinstance(steps, dict) else steps


def progress_display(exp_dir: Path, steps: int | dict[str, int], terminal: bool | None = None):
    """Bars on a terminal, plain lines elsewhere (`terminal` overrides the check)."""
    if terminal is None:
        terminal = sys.stdout.isatty()
    return Bars(exp_dir, steps) if terminal else PlainLines(exp_dir, steps)


class PlainLines:
    """One summary line every PLAIN_EVERY_S seconds (today's output when not on a terminal)."""

    def __init__(self, exp_dir: Path, steps: int | dict[str, int]):
        self.exp_dir, self.steps, self.last = exp_dir, steps, 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def say(self, log):
        return log

    def add(self, arm: str, seed: int, world: int = 0) -> None:
        pass

    def remove(self, arm: str, seed: int, world: int = 0) -> None:
        pass

    def refresh(self, running, log) -> None:
        if running and time.perf_counter() - self.last > PLAIN_EVERY_S:
            self.last = time.perf_counter()
            parts = []
            for arm, seed, *world in running:
                step, acc = latest(self.exp_dir, arm, seed, *world)
                parts.append(
                    f"{arm}/{run_dir_name(seed, *world)} {step}/{total_steps(self.steps, arm)}"
                    + (f" acc {acc:.2f}" if acc is not None else "")
                )
            log("  " + " | ".join(parts))


class Bars:
    """A rich progress bar per running (arm, seed): step, held-out accuracy, ETA."""

    def __init__(self, exp_dir: Path, steps: int | dict[str, int]):
        self.exp_dir, self.steps, self.last = exp_dir, steps, 0.0
        self.tasks: dict[tuple, int] = {}
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[acc]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc) -> bool:
        self.progress.stop()
        return False

    def say(self, log):
        """The pool's own lines, printed above the bars (a plain print would land inside them)."""
        return lambda msg: self.progress.console.print(msg, markup=False, highlight=False)

    def add(self, arm: str, seed: int, world: int = 0) -> None:
        step, _ = latest(self.exp_dir, arm, seed, world)  # a resumed run starts where its logs end
        self.tasks[(arm, seed, world)] = self.progress.add_task(
            f"{arm}/{run_dir_name(seed, world)}",
            total=total_steps(self.steps, arm),
            completed=step,
            acc="acc  -  ",
        )

    def remove(self, arm: str, seed: int, world: int = 0) -> None:
        task = self.tasks.pop((arm, seed, world), None)
        if task is not None:
            self.progress.remove_task(task)

    def refresh(self, running, log) -> None:
        if time.perf_counter() - self.last < BAR_EVERY_S:
            return
        self.last = time.perf_counter()
        for key, task in self.tasks.items():
            step, acc = latest(self.exp_dir, *key)
            shown = f"acc {acc:.2f}" if acc is not None else "acc  -  "
            self.progress.update(task, completed=step, acc=shown)
