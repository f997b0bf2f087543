"""One (arm, seed) trained in this process: setup → arguments → trainer → train.

    <run>/metrics.jsonl   one row per optimizer step (append-only), step 0 = the base model
    <run>/tokens.jsonl    token-divergence probe, one record per evaluation
    <run>/problems.jsonl  which problems each evaluation answered correctly (+ problems_index.json)
    <run>/checkpoint/     the latest complete checkpoint (for --resume)
    <run>/DONE            written when the arm finished

`train_one` is what every entry point ends in: a `phasescope run` worker (`train/worker.py`), the
Accelerate launcher (`phasescope launch`), tests and benchmarks. On several processes only the main
one writes to the run directory.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

import torch

from phasescope.arms import is_two_stage
from phasescope.config import Config
from phasescope.errors import PhasescopeError
from phasescope.runlog.checkpoint import checkpoint_root, latest_checkpoint, truncate_jsonl
from phasescope.runlog.experiment import now, read_experiment
from phasescope.runlog.problems import INDEX, PROBLEMS, ProblemsWriter
from phasescope.runlog.reader import read_metrics
from phasescope.runlog.tokens import has_probe_header
from phasescope.runlog.wandb_mirror import WandbMirror, mirror_rows, run_id
from phasescope.runlog.writer import MetricsWriter
from phasescope.train.args import grpo_args
from phasescope.train.arm_trainer import Logs, build_trainer, oom_message
from phasescope.train.distributed import NullWriter, is_main_process
from phasescope.train.real import hf_setup, write_data_report
from phasescope.train.setup import Setup, world_setup
from phasescope.train.stages import train_stages
from phasescope.version import __version__

RESUMED_LOGS = ("metrics.jsonl", "tokens.jsonl", PROBLEMS)
"""The append-only logs `--resume` cuts back to the checkpoint's step."""


def train_one(
    cfg: Config,
    arm_name: str,
    seed: int,
    out_dir: Path,
    threads: int | None = None,
    resume: bool = False,
):
    """Train `arm_name` with `seed`, write `out_dir/metrics.jsonl`, and return the trained model.

    With `resume`, continue from the last complete checkpoint in `out_dir/checkpoint/` (logs are cut
    back to its step first), or start over when there is none.
    """
    if threads:
        torch.set_num_threads(threads)
    is_main = is_main_process()  # only the main process writes to the run directory
    setup = build_setup(cfg, arm_name, seed, out_dir if is_main else None)
    args = grpo_args(cfg, cfg.arms[arm_name], seed, out_dir, setup)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = None
    if resume:  # the main process cuts the logs back; every process loads the same checkpoint
        start = prepare_resume(out_dir) if is_main else latest_checkpoint(out_dir)
    probing = cfg.train.probes and setup.expert is not None
    with run_logs(cfg, arm_name, seed, out_dir, is_main, probing) as logs:
        if is_two_stage(cfg.arms[arm_name]):  # SFT, then a fresh RL training (train/stages.py)
            model = train_stages(cfg, arm_name, setup, args, logs, out_dir, is_main)
        else:
            model = _train(cfg, arm_name, setup, args, logs, out_dir, start)
    if is_main:
        (out_dir / "DONE").write_text(now())
    return model


def build_setup(cfg: Config, arm_name: str, seed: int, out_dir: Path | None = None) -> Setup:
    """The embedded world's Setup, or a real model's (`train/real.py`), whose data report goes to
    `out_dir`/data.json when given."""
    if not cfg.model.model_name_or_path:
        return world_setup(cfg, seed)
    setup = hf_setup(cfg, arm_name, seed)
    if out_dir is not None:
        write_data_report(out_dir, setup.data_report or {})
    return setup


def _train(cfg: Config, arm_name: str, setup, args, logs, out_dir: Path, start):
    trainer, probe = build_trainer(cfg, arm_name, setup, args, logs)
    if start is not None and probe is not None:
        restore_probe(trainer, probe, setup.model, out_dir)
    try:
        trainer.train(resume_from_checkpoint=str(start[1]) if start else None)
    except torch.OutOfMemoryError:
        raise PhasescopeError(oom_message(cfg, trainer.state.global_step + 1)) from None
    return trainer.model


def _writer(path: Path, is_main: bool):
    return MetricsWriter(path) if is_main else NullWriter()


@contextmanager
def run_logs(cfg: Config, arm_name: str, seed: int, out_dir: Path, is_main: bool, probing: bool):
    """metrics.jsonl, tokens.jsonl (while `probing`), problems.jsonl and the W&B mirror of one run.

    W&B copies each row after metrics.jsonl has it; any W&B failure is one warning, never fatal.
    """
    tokens = _writer(out_dir / "tokens.jsonl", is_main) if probing else None
    mirror = WandbMirror(
        cfg.experiment.wandb if is_main else "off",
        group=cfg.experiment.name,
        job_type=arm_name,
        name=f"{arm_name}/seed{seed}",
        config={**cfg.to_dict(), "arm_name": arm_name, "seed": seed},
        dir=out_dir.parent.parent,
        **wandb_identity(cfg, arm_name, seed, out_dir.parent.parent),
    )
    if mirror.active and (out_dir / "metrics.jsonl").exists():  # a resumed run: W&B catches up first
        mirror.catch_up(read_metrics(out_dir / "metrics.jsonl"))
    problems = ProblemsWriter(out_dir) if is_main else None
    with _writer(out_dir / "metrics.jsonl", is_main) as metrics:
        yield Logs(mirror_rows(metrics.write, mirror), tokens, problems.write_payload if problems else None)
    mirror.finish()
    if problems is not None:
        problems.close()
    if tokens is not None:
        tokens.close()


def wandb_identity(cfg: Config, arm_name: str, seed: int, exp_dir: Path) -> dict[str, Any]:
    """The W&B run id (the same after --resume, see `wandb_mirror.run_id`) and tags of one run."""
    started = str(read_experiment(exp_dir).get("started", ""))
    model = PurePath(cfg.model.model_name_or_path).name if cfg.model.model_name_or_path else "embedded-world"
    return {
        "run_id": run_id(cfg.experiment.name, started, arm_name, seed),
        "tags": [arm_name, model[:64], f"phasescope-{__version__}"],
    }


def restore_probe(trainer, probe, model, out_dir: Path) -> None:
    """On resume: the probe's step-0 (base) distributions, for probe/kl_to_base, and its header state.

    The model is still the base here (the checkpoint's weights load inside train()), and Accelerate's
    autocast is the one its prepared forward uses at step 0, so the cache is bit-identical. The
    probe's text header is already in the kept part of tokens.jsonl when it was written before.
    """
    was_training = model.training
    model.eval()
    with trainer.accelerator.autocast():
        probe.cache_base(model)
    model.train(was_training)
    probe.header_written = has_probe_header(out_dir / "tokens.jsonl")


def prepare_resume(out_dir: Path, log=print) -> tuple[int, Path] | None:
    """Cut metrics.jsonl / tokens.jsonl / problems.jsonl back to the last complete checkpoint and return
    it; with no checkpoint, clear the run's logs so that it starts over. Nothing is duplicated or lost."""
    found = latest_checkpoint(out_dir)
    if found is None:
        for name in (*RESUMED_LOGS, INDEX):
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(checkpoint_root(out_dir), ignore_errors=True)
        log(f"resume: no complete checkpoint in {out_dir}; starting this run over")
        return None
    step, path = found
    for name in RESUMED_LOGS:
        kept, dropped = truncate_jsonl(out_dir / name, step)
        if dropped:
            log(f"resume: {name}: dropped {dropped} line(s) after step {step}")
    log(f"resume: continuing from {path} (step {step})")
    return found
