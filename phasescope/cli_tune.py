"""The `phasescope tune` command (registered in cli.py): parse, call `phasescope.tune`, print.

Kept out of cli.py, which is near the module size limit; like every command, it imports the library
inside its body so that `phasescope --help` stays fast.
"""

from __future__ import annotations

import shlex
import sys
from enum import Enum

import typer

from phasescope.cli_options import arm_list


class Sampler(str, Enum):
    """`--sampler` choices (tune/study.py)."""

    tpe = "tpe"
    random = "random"
    grid = "grid"


_GRID_POINTS = typer.Option(
    None,
    "--grid-points",
    help="With --sampler grid: the N half-decades around each configured rate (default: all five).",
)
_KNOBS = typer.Option(
    None,
    "--knobs",
    help="Comma-separated knobs to search (learning_rate, sft_lr, mu, mu_peak, mu_decay_steps, "
    "expert_data_ratio); the others keep their config values.",
)


def tune(
    config: str = typer.Argument(
        None, help="Experiment TOML (default: the embedded world, experiments/default.toml)."
    ),
    arms: str = typer.Option(None, "--arms", help="Comma-separated arms to tune (default: the config's)."),
    trials: int = typer.Option(
        20, "--trials", help="Completed trials per arm; a rerun continues the study up to this count."
    ),
    seeds: int = typer.Option(
        2, "--seeds", help="Seeds per trial (the score is their mean; they train side by side)."
    ),
    out: str = typer.Option(None, "--out", help="Parent folder of the tune directory (default: runs)."),
    name: str = typer.Option(
        None, "--name", help="Tune directory name (default: <experiment name>-tune, e.g. runs/default-tune)."
    ),
    overrides: list[str] = typer.Option(
        None,
        "--set",
        help="Override a field: --set train.max_steps=200 (repeatable; train.max_steps is each trial's budget).",
    ),
    workers: int = typer.Option(
        None, "--workers", help="Worker processes at once (default: the config's, 2)."
    ),
    sampler: Sampler = typer.Option(
        Sampler.tpe, "--sampler", help="tpe (default), random, or grid (the learning rate(s) on a grid)."
    ),
    grid_points: int = _GRID_POINTS,
    knobs: str = _KNOBS,
) -> None:
    """Tune each arm's learning rate(s) and own knobs (μ, its decay, the expert ratio) with Optuna, scored
    on the dev split only; writes summary.md/json, a figure per arm and best.toml (docs/tuning.md)."""
    from phasescope.tune import TuneRequest
    from phasescope.tune import tune as run_tune

    chosen = arm_list(arms)
    req = TuneRequest(
        config=config,
        arms=chosen,
        trials=trials,
        seeds=seeds,
        out=out,
        name=name,
        overrides=list(overrides or []),
        workers=workers,
        sampler=sampler.value,
        grid_points=grid_points,
        knobs=[k.strip() for k in knobs.split(",") if k.strip()] if knobs else None,
        command="phasescope " + shlex.join(_argv_after("tune")),
    )
    result = run_tune(req, log=typer.echo)
    typer.echo("")
    typer.echo((result.tune_dir / "summary.md").read_text(encoding="utf-8").split("\n\n")[-1].rstrip())
    for path in result.files:
        typer.echo(f"wrote {path}")


def _argv_after(word: str) -> list[str]:
    """The command line from `word` on (for the record in summary.md and best.toml)."""
    args = sys.argv[1:]
    return args[args.index(word) :] if word in args else [word]
