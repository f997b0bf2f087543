"""The CLI's side of the preflight: `phasescope check`, and the same checks at the start of a run.

- `phasescope check CONFIG [--arms a,b] [--set k=v]` → `check_command(config, sets, arms)` (exit code).
- `phasescope run`: `run_preflight(cfg)` once the config is resolved (after `--resume` picks the stored
  one), before the run directory, the base model or any worker.
- The launcher: `run_preflight(cfg, [args.arm])` on every process before `PartialState()` (the checks
  are deterministic, so all fail alike); only the main process should print the notes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from phasescope.config import load_config
from phasescope.preflight.checks import preflight
from phasescope.preflight.report import Report


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def check_command(
    config: str | None,
    sets: list[str] | None = None,
    arms: list[str] | None = None,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = _stderr,
) -> int:
    """`phasescope check CONFIG [--set k=v] [--arms a,b]`: print the summary, then each note and error
    on stderr; 0 when the run may start, 2 when it must not. A bad config raises `UsageError` (exit 2)."""
    # As `run --arms`: only the chosen arms' settings are validated.
    cfg = load_config(config, list(sets or []), {"experiment.arms": list(arms)} if arms else None)
    report = preflight(cfg, arms)
    out(report.summary())
    for text in report.notes:
        err(f"note: {text}")
    for text in report.errors:
        err(f"error: {text}")
    return 0 if report.ok else 2


def run_preflight(cfg: Any, arms: list[str] | None = None, err: Callable[[str], None] = _stderr) -> Report:
    """At the start of `phasescope run` and of the launcher: notes on stderr, errors raised as one
    `PreflightError` (exit 2, one `error:` line each). Returns the report (its `facts` for data.json)."""
    report = preflight(cfg, arms, for_run=True)
    for text in report.notes:
        err(f"note: {text}")
    report.raise_for_errors()
    return report
