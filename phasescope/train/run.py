"""One (arm, seed) trained in this process: setup → arguments → trainer → train.

    <run>/metrics.jsonl   one row per optimizer step (append-only), step 0 = the base model
    <run>/tokens.jsonl    token-divergence probe, one record per evaluation
    <run>/checkpoint/     the latest complete checkpoint (for --resume)
    <run>/DONE            written when the arm finished

`train_one` is what every entry point ends in: a `phasescope run` worker (`train/worker.py`), the
Accelerate launcher (`phasescope launch`), tests and benchmarks. On several processes only the main
one writes to the run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasescope.arms import is_two_stage
from phasescope.config import Config
from phasescope.errors import PhasescopeError
from phasescope.runlog.checkpoint import checkpoint_root, latest_checkpoint, truncate_jsonl
from phasescope.runlog.experiment import now
from phasescope.runlog.writer import MetricsWriter


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
    import torch

    if threads:
        torch.set_num_threads(threads)
    from phasescope.train.args import grpo_args
    from phasescope.train.distributed import is_main_process
    from phasescope.train.setup import build_setup

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
            from phasescope.train.stages import train_stages

            model = train_stages(cfg, arm_name, setup, args, logs, out_dir, is_main)
        else:
            model = _train(cfg, arm_name, setup, args, logs, out_dir, start)
    if is_main:
        (out_dir / "DONE").write_text(now())
    return model


def _train(cfg: Config, arm_name: str, setup, args, logs, out_dir: Path, start):
    import torch

    trainer, probe = build_trainer(cfg, arm_name, setup, args, logs)
    if start is not None and probe is not None:
        restore_probe(trainer, probe, setup.model, out_dir)
    try:
        trainer.train(resume_from_checkpoint=str(start[1]) if start else None)
    except torch.OutOfMemoryError:
        raise PhasescopeError(oom_message(cfg, trainer.state.global_step + 1)) from None
    return trainer.model


@dataclass
class Logs:
    on_row: Callable[[dict[str, Any]], None]
    """metrics.jsonl first, then the W&B mirror."""
    tokens: Any = None
    """The tokens.jsonl writer while probing, else None."""


def _writer(path: Path, is_main: bool):
    from phasescope.train.distributed import NullWriter

    return MetricsWriter(path) if is_main else NullWriter()


@contextmanager
def run_logs(cfg: Config, arm_name: str, seed: int, out_dir: Path, is_main: bool, probing: bool):
    """metrics.jsonl, tokens.jsonl (while `probing`) and the W&B mirror of one run.

    W&B copies each row after metrics.jsonl has it; any W&B failure is one warning, never fatal.
    """
    from phasescope.runlog.wandb_mirror import WandbMirror, mirror_rows

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
        from phasescope.runlog.reader import read_metrics

        mirror.catch_up(read_metrics(out_dir / "metrics.jsonl"))
    with _writer(out_dir / "metrics.jsonl", is_main) as metrics:
        yield Logs(mirror_rows(metrics.write, mirror), tokens)
    mirror.finish()
    if tokens is not None:
        tokens.close()


def wandb_identity(cfg: Config, arm_name: str, seed: int, exp_dir: Path) -> dict[str, Any]:
    """The W&B run id (the same after --resume, see `wandb_mirror.run_id`) and tags of one run."""
    from pathlib import PurePath

    from phasescope import __version__
    from phasescope.runlog.experiment import read_experiment
    from phasescope.runlog.wandb_mirror import run_id

    started = str(read_experiment(exp_dir).get("started", ""))
    model = PurePath(cfg.model.model_name_or_path).name if cfg.model.model_name_or_path else "embedded-world"
    return {
        "run_id": run_id(cfg.experiment.name, started, arm_name, seed),
        "tags": [arm_name, model[:64], f"phasescope-{__version__}"],
    }


def build_trainer(cfg: Config, arm_name: str, setup, args, logs: Logs, stage=None):
    """The PhaseTrainer of one arm with its evaluation callback; and the token probe, when probing.

    `stage` (a `stages.StageView`) trains one stage of a two-stage arm: its own arm settings, the
    probe of the stage before, its offset on the run's step axis, and whether to evaluate at its start.
    """
    from transformers import PrinterCallback, ProgressCallback

    from phasescope.train.trainer import EvalCallback, PhaseTrainer

    tc = cfg.train
    arm = stage.arm if stage is not None else cfg.arms[arm_name]
    evaluator, probe = _evaluator(cfg, setup, logs, arm, stage)
    trainer = PhaseTrainer(
        model=setup.model,
        reward_funcs=setup.reward_funcs,
        args=args,
        train_dataset=setup.train_dataset,
        processing_class=setup.tokenizer,
        arm=arm,
        expert=setup.expert,
        on_row=logs.on_row,
        divergent_threshold=tc.divergent_threshold,
        sft_lr=tc.sft_lr,
        on_nonfinite=tc.on_nonfinite,
        **setup.trainer_kwargs,
    )
    for cb in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(cb)
    at_start = stage.eval_at_start if stage is not None else True
    trainer.add_callback(
        EvalCallback(trainer, evaluator, tc.eval_steps, tc.eval_early_every, tc.eval_early_until, at_start)
    )
    return trainer, probe


def _evaluator(cfg: Config, setup, logs: Logs, arm, stage):
    """The held-out evaluator (on the run's step axis) followed by the token probe when probing."""
    from phasescope.arms import stage_at
    from phasescope.train.probes import probe_from_expert, with_probe

    tc = cfg.train
    evaluator, probe = setup.evaluator, None
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
    offset = stage.step_offset if stage is not None else 0
    if offset:  # the trainer counts its own steps; evaluations (and probe records) are on the run's axis
        inner = evaluator
        evaluator = lambda model, step: inner(model, step + offset)  # noqa: E731
    return evaluator, probe


def restore_probe(trainer, probe, model, out_dir: Path) -> None:
    """On resume: the probe's step-0 (base) distributions, for probe/kl_to_base, and its header state.

    The model is still the base here (the checkpoint's weights load inside train()), and Accelerate's
    autocast is the one its prepared forward uses at step 0, so the cache is bit-identical. The
    probe's text header is already in the kept part of tokens.jsonl when it was written before.
    """
    from phasescope.runlog.tokens import has_probe_header

    was_training = model.training
    model.eval()
    with trainer.accelerator.autocast():
        probe.cache_base(model)
    model.train(was_training)
    probe.header_written = has_probe_header(out_dir / "tokens.jsonl")


def prepare_resume(out_dir: Path, log=print) -> tuple[int, Path] | None:
    """Cut metrics.jsonl / tokens.jsonl back to the last complete checkpoint and return it; with no
    checkpoint, clear the run's logs so that it starts over. Nothing is duplicated or lost."""
    import shutil

    found = latest_checkpoint(out_dir)
    if found is None:
        for name in ("metrics.jsonl", "tokens.jsonl"):
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(checkpoint_root(out_dir), ignore_errors=True)
        log(f"resume: no complete checkpoint in {out_dir}; starting this run over")
        return None
    step, path = found
    for name in ("metrics.jsonl", "tokens.jsonl"):
        kept, dropped = truncate_jsonl(out_dir / name, step)
        if dropped:
            log(f"resume: {name}: dropped {dropped} line(s) after step {step}")
    log(f"resume: continuing from {path} (step {step})")
    return found


def oom_message(cfg: Config, step: int | None) -> str:
    tc = cfg.train
    at = f" at step {step}" if step is not None else ""
    return (
        f"out of accelerator memory{at}: lower train.prompts_per_step ({tc.prompts_per_step}), "
        f"train.num_generations ({tc.num_generations}), train.expert_batch_size ({tc.expert_batch_size}) "
        f"or train.max_completion_length ({tc.max_completion_length}), or set "
        "model.gradient_checkpointing=true; then continue with --resume"
    )
