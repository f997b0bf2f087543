"""Running arms: one (arm, seed) per worker process, all writing into one experiment directory.

    runs/<experiment>/experiment.json              resolved config, versions, git commit, start time
    runs/<experiment>/<arm>/seed<k>/metrics.jsonl  one row per logged step (append-only)
    runs/<experiment>/<arm>/seed<k>/tokens.jsonl   token-divergence probe, one record per evaluation
    runs/<experiment>/<arm>/seed<k>/train.log      the worker's own output

Arms are independent, so the parent builds (or loads) the shared base model once, then runs up to
`experiment.workers` arms at once, each with one torch thread: on a 2-core CPU two single-thread
processes beat one two-thread process, and two multi-thread processes slow each other many-fold.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasescope.config import Config, config_from_dict
from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.writer import MetricsWriter, write_json_atomic


def arm_dir(exp_dir: Path, arm: str, seed: int) -> Path:
    return exp_dir / arm / f"seed{seed}"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("phasescope", "torch", "transformers", "trl", "accelerate", "ruptures", "pandas"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def write_experiment_json(exp_dir: Path, cfg: Config) -> None:
    from phasescope.train.arms import describe

    write_json_atomic(
        exp_dir / "experiment.json",
        {
            "name": cfg.experiment.name,
            "config": cfg.to_dict(),
            "arms": {a: describe(a, cfg.arms[a]) for a in cfg.experiment.arms},
            "seeds": list(range(cfg.experiment.seeds)),
            "versions": versions(),
            "git_commit": _git_commit(),
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        },
    )


def load_experiment_config(exp_dir: Path) -> Config:
    meta = json.loads((exp_dir / "experiment.json").read_text())
    return config_from_dict(meta["config"])


# --- one arm, one seed (runs inside a worker process) -------------------------------------------------


def train_one(cfg: Config, arm_name: str, seed: int, out_dir: Path, threads: int | None = None):
    """Train `arm_name` with `seed`, write `out_dir/metrics.jsonl`, and return the trained model."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
    from trl import GRPOConfig

    from phasescope.train.distributed import NullWriter, is_main_process, per_device_rows
    from phasescope.train.evaluate import make_world_evaluator
    from phasescope.train.trainer import EvalCallback, ExpertSet, PhaseTrainer
    from phasescope.world import build_world
    from phasescope.world.base import load_base
    from phasescope.world.task import parse_answer

    arm = cfg.arms[arm_name]
    tc = cfg.train
    real = None  # a real model and data (phasescope/train/real.py), else the embedded world
    is_main = is_main_process()  # only the main process writes to the run directory
    if cfg.model.name_or_path:
        from phasescope.train.real import build_real, write_data_report

        real = build_real(cfg, seed)
        model, tokenizer, train_ds = real.model, real.tokenizer, real.train_dataset
        expert_prompts, expert_responses = real.expert_prompts, real.expert_responses
        reward_funcs = real.reward_funcs
        if is_main:
            write_data_report(out_dir, real.data_report)
    else:
        world = build_world(cfg.world)
        model, tokenizer = load_base(world.base_path)
        problems = world.rl_problems
        train_ds = Dataset.from_dict(
            {"prompt": [p.prompt for p in problems], "answer": [p.answer for p in problems]}
        )

        def correctness(prompts, completions, completion_ids, answer, **kwargs):
            # Decode from ids: TRL's text completions drop the end mark, which the answer format needs.
            texts = ["".join(tokenizer.convert_ids_to_tokens(ids)) for ids in completion_ids]
            return [1.0 if parse_answer(t) == a else 0.0 for t, a in zip(texts, answer)]

        reward_funcs = [correctness]
        expert_prompts, expert_responses = world.expert_pairs
    expert = (
        ExpertSet(tokenizer, expert_prompts, expert_responses, tc.expert_batch_size, seed)
        if expert_prompts
        else None
    )
    # Global batches (config) → per-process micro-batches; the same update on 1 or N processes.
    rows_per_device = per_device_rows(
        tc.prompts_per_step * tc.num_generations,
        expert.batch_size if expert is not None else 0,
        tc.gradient_accumulation_steps,
    )
    use_cpu = not torch.cuda.is_available()
    args = GRPOConfig(
        output_dir=str(out_dir / "trl"),
        max_steps=tc.steps,
        learning_rate=arm.lr or tc.lr,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=tc.warmup_steps,
        weight_decay=0.0,
        max_grad_norm=tc.grad_clip,
        per_device_train_batch_size=rows_per_device,
        gradient_accumulation_steps=tc.gradient_accumulation_steps,
        num_generations=tc.num_generations,
        max_completion_length=tc.max_completion_length,
        temperature=tc.temperature,
        top_k=0,
        top_p=1.0,
        beta=0.0,
        epsilon=tc.clip_range,
        scale_rewards="group",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        **(real.grpo_kwargs if real is not None else {}),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    if real is not None:
        evaluator = real.evaluator
    else:
        evaluator = make_world_evaluator(
            tokenizer, world.splits, tc.max_completion_length, tc.temperature, cfg.world.digits, seed
        )
    tokens_log = None
    if tc.probes and expert_prompts:
        # Token-divergence probe at every evaluation: probe/* join the eval row, records go to tokens.jsonl.
        from phasescope.train.probes import probe_from_expert, with_probe
        from phasescope.train.schedules import stage_at

        probe = probe_from_expert(
            tokenizer,
            expert_prompts,
            expert_responses,
            tc.probe_size,
            cfg.data.seed if real is not None else cfg.world.seed,
            tc.probe_top_k,
            tc.divergent_threshold,
        )
        tokens_log = MetricsWriter(out_dir / "tokens.jsonl") if is_main else NullWriter()
        evaluator = with_probe(evaluator, probe, tokens_log.write, lambda s: stage_at(max(s - 1, 0), arm))
    from phasescope.runlog.wandb_mirror import WandbMirror, mirror_rows

    # W&B copies each row after metrics.jsonl has it; any W&B failure is one warning, never fatal.
    mirror = WandbMirror(
        cfg.experiment.wandb if is_main else "off",
        group=cfg.experiment.name,
        job_type=arm_name,
        name=f"{arm_name}/seed{seed}",
        config={**cfg.to_dict(), "arm_name": arm_name, "seed": seed},
        dir=out_dir.parent.parent,
    )
    with MetricsWriter(out_dir / "metrics.jsonl") if is_main else NullWriter() as writer:
        trainer = PhaseTrainer(
            model=model,
            reward_funcs=reward_funcs,
            args=args,
            train_dataset=train_ds,
            processing_class=tokenizer,
            arm=arm,
            expert=expert,
            on_row=mirror_rows(writer.write, mirror),
            divergent_threshold=tc.divergent_threshold,
            sft_lr=tc.sft_lr,
            **(real.trainer_kwargs if real is not None else {}),
        )
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.add_callback(EvalCallback(trainer, evaluator, tc.eval_every))
        trainer.train()
    mirror.finish()
    if tokens_log is not None:
        tokens_log.close()
    if is_main:
        (out_dir / "DONE").write_text(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return trainer.model


def worker_main(argv: list[str]) -> int:
    """`python -m phasescope.train.run EXP_DIR ARM SEED THREADS` — one arm in its own process."""
    exp_dir, arm, seed, threads = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    cfg = load_experiment_config(exp_dir)
    train_one(cfg, arm, seed, arm_dir(exp_dir, arm, seed), threads=threads)
    return 0


# --- the experiment (parent process) ------------------------------------------------------------------


@dataclass
class ArmResult:
    arm: str
    seed: int
    ok: bool
    seconds: float
    rows: list[dict[str, Any]]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl rows; a truncated last line (a crash mid-write) is skipped."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def run_experiment(cfg: Config, exp_dir: Path, log=print, overwrite: bool = False) -> list[ArmResult]:
    """Build the base once, then train every (arm, seed) in worker processes; return their results."""
    if exp_dir.exists() and any(exp_dir.iterdir()):
        if not overwrite:
            raise UsageError(
                f"run directory {exp_dir} already exists; choose another --out/--name or pass --overwrite"
            )
        import shutil

        shutil.rmtree(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    write_experiment_json(exp_dir, cfg)
    if not cfg.model.name_or_path:
        from phasescope.world import build_world

        build_world(cfg.world, log=log)
    jobs = [(a, s) for s in range(cfg.experiment.seeds) for a in cfg.experiment.arms]
    workers = max(1, min(cfg.experiment.workers, len(jobs)))
    threads = 1 if workers > 1 else max(1, (os.cpu_count() or 1))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    pending, running, results = list(jobs), {}, []
    last_report = 0.0
    while pending or running:
        while pending and len(running) < workers:
            arm, seed = pending.pop(0)
            out = arm_dir(exp_dir, arm, seed)
            out.mkdir(parents=True, exist_ok=True)
            logf = open(out / "train.log", "w")  # noqa: SIM115 - closed when the worker ends
            proc = subprocess.Popen(
                [sys.executable, "-m", "phasescope.train.run", str(exp_dir), arm, str(seed), str(threads)],
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=env,
            )
            running[(arm, seed)] = (proc, logf, time.perf_counter())
            log(f"started {arm}/seed{seed}")
        time.sleep(0.5)
        for key, (proc, logf, t0) in list(running.items()):
            if proc.poll() is None:
                continue
            logf.close()
            arm, seed = key
            rows = read_rows(arm_dir(exp_dir, arm, seed) / "metrics.jsonl")
            ok = proc.returncode == 0
            results.append(ArmResult(arm, seed, ok, time.perf_counter() - t0, rows))
            del running[key]
            tail = "" if ok else f" (exit {proc.returncode}; see {arm_dir(exp_dir, arm, seed) / 'train.log'})"
            log(f"finished {arm}/seed{seed} in {time.perf_counter() - t0:.0f} s{tail}")
        if running and time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            log("  " + " | ".join(_progress(exp_dir, a, s, cfg.train.steps) for a, s in running))
    return results


def _progress(exp_dir: Path, arm: str, seed: int, steps: int) -> str:
    rows = read_rows(arm_dir(exp_dir, arm, seed) / "metrics.jsonl")
    step = rows[-1]["step"] if rows else 0
    accs = [r["eval/accuracy"] for r in rows if "eval/accuracy" in r]
    acc = f" acc {accs[-1]:.2f}" if accs else ""
    return f"{arm}/seed{seed} {step}/{steps}{acc}"


def summarize(results: list[ArmResult], metric: str = "eval/accuracy") -> list[dict[str, Any]]:
    """Per (arm, seed): base, minimum, peak and final of `metric`, steps and wall time."""
    table = []
    for r in results:
        pts = [(row["step"], row[metric]) for row in r.rows if metric in row]
        entry = {
            "arm": r.arm,
            "seed": r.seed,
            "ok": r.ok,
            "steps": r.rows[-1]["step"] if r.rows else 0,
            "seconds": round(r.seconds, 1),
        }
        if pts:
            vals = [v for _, v in pts]
            lo = min(range(len(vals)), key=vals.__getitem__)
            hi = max(range(len(vals)), key=vals.__getitem__)
            entry.update(
                base=vals[0],
                min=vals[lo],
                min_step=pts[lo][0],
                peak=vals[hi],
                peak_step=pts[hi][0],
                final=vals[-1],
            )
        table.append(entry)
    return table


if __name__ == "__main__":
    try:
        sys.exit(worker_main(sys.argv[1:]))
    except PhasescopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
