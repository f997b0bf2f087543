"""Training one (arm, seed) in this process, the two ways it is started; both end in `train_one`.

- `run_worker`: a worker of `phasescope run` (`phasescope worker EXP_DIR ARM SEED THREADS`), started
  by the pool; its config is the experiment's stored experiment.json.
- `launch`: one arm on several processes (`accelerate launch -m phasescope.cli launch ...`, or the
  `python -m phasescope.train.launch` wrapper). Every process resolves the same config; the main
  process creates the run directory (experiment.json is kept when it exists, so that arms can be
  launched one after another into one experiment) and is the only one that writes to it. Only the
  launched arm's settings are validated and checked (`--arm chord_phi` does not fail on another arm's).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from accelerate import PartialState

from phasescope.config import Config
from phasescope.errors import UsageError
from phasescope.preflight import run_preflight
from phasescope.runlog.experiment import (
    add_launched_arm,
    arm_dir,
    load_experiment_config,
    write_experiment_json,
)
from phasescope.train.distributed import is_main_process
from phasescope.train.train_one import train_one
from phasescope.world import build_world, draw_config


def run_worker(
    exp_dir: Path, arm: str, seed: int, threads: int, resume: bool = False, world: int = 0
) -> None:
    # World draw w trains on the stored config's world redrawn (world.seed + w), in its own directory.
    cfg = draw_config(load_experiment_config(exp_dir), world)
    train_one(cfg, arm, seed, arm_dir(exp_dir, arm, seed, world), threads=threads, resume=resume)


def launch(cfg: Config, arm: str, seed: int, resume: bool = False, overwrite: bool = False) -> None:
    """Train `arm` with `seed` on every process of this launch; see the module docstring.

    Before any process group starts: the preflight for this arm only (its notes from the main process),
    and a refusal to append to an arm directory that already has steps unless `resume` or `overwrite`.
    """
    if arm not in cfg.arms:
        raise UsageError(f"unknown arm {arm!r}; defined arms: {', '.join(cfg.arms)}")
    run_preflight(cfg, [arm], err=_main_stderr)
    exp_dir = Path(cfg.experiment.out) / cfg.experiment.name
    out = arm_dir(exp_dir, arm, seed)
    check_arm_dir(out, resume, overwrite)
    state = PartialState(cpu=not torch.cuda.is_available())
    if is_main_process():
        if overwrite:
            shutil.rmtree(out, ignore_errors=True)
        exp_dir.mkdir(parents=True, exist_ok=True)
        if not (exp_dir / "experiment.json").exists():
            write_experiment_json(exp_dir, cfg)
        add_launched_arm(exp_dir, cfg, arm)
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.model.model_name_or_path:  # the embedded world's base model is built (cached) once
            build_world(cfg.world)
    state.wait_for_everyone()
    train_one(cfg, arm, seed, out, resume=resume)


def _main_stderr(text: str) -> None:
    if is_main_process():
        print(text, file=sys.stderr)


def check_arm_dir(out: Path, resume: bool, overwrite: bool) -> None:
    """A usage error when `out` already has logged steps and neither `resume` nor `overwrite` says what
    to do with them (a relaunch would append a second copy of its steps to metrics.jsonl)."""
    if resume and overwrite:
        raise UsageError("--resume continues an arm and --overwrite deletes it: pass one of them")
    metrics = out / "metrics.jsonl"
    has_steps = metrics.is_file() and metrics.stat().st_size > 0
    if has_steps and not (resume or overwrite):
        raise UsageError(
            f"{out} already has logged steps; continue it with --resume, replace it with --overwrite, "
            "or choose another --seed/--name"
        )
