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
from phasescope.runlog.checkpoint import checkpoint_root, latest_checkpoint, truncate_jsonl
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
    path = exp_dir / "experiment.json"
    if not path.is_file():
        raise UsageError(f"{exp_dir} has no experiment.json: it is not a phasescope run directory")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        data = meta["config"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path} is unreadable or not a phasescope experiment ({type(exc).__name__}); "
            "start a new run with --overwrite or another --name"
        ) from None
    try:
        return config_from_dict(data)
    except UsageError as exc:
        raise UsageError(f"{path}: stored config is invalid ({exc}); start a new run") from None


RESUME_FREE = ("experiment.workers", "experiment.wandb", "experiment.out", "experiment.name")


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resume_config(cfg: Config, exp_dir: Path, explicit: bool) -> Config:
    """The config a `--resume` continues with: the one stored in experiment.json.

    `cfg` is what the command line resolved; when the user gave a config file or overrides
    (`explicit`), it must equal the stored one except for where and how the run executes
    (workers, W&B mode), since a resumed arm must train exactly as it started.
    """
    if not (exp_dir / "experiment.json").is_file():
        raise UsageError(f"nothing to resume: {exp_dir} has no experiment.json; start it without --resume")
    stored = load_experiment_config(exp_dir)
    if explicit:
        new, old = _flat(cfg.to_dict()), _flat(stored.to_dict())
        diff = sorted(k for k in new.keys() | old.keys() if k not in RESUME_FREE and new.get(k) != old.get(k))
        if diff:
            shown = ", ".join(f"{k} ({old.get(k)!r} stored, {new.get(k)!r} given)" for k in diff[:3])
            more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
            raise UsageError(
                f"--resume: the given config differs from {exp_dir / 'experiment.json'} in {shown}{more}; "
                "resume without a config file or --set (the stored config is used), or start a new run"
            )
    d = stored.to_dict()
    d["experiment"].update({k.split(".")[1]: getattr(cfg.experiment, k.split(".")[1]) for k in RESUME_FREE})
    return config_from_dict(d)


# --- one arm, one seed (runs inside a worker process) -------------------------------------------------


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


def _oom_message(cfg: Config, step: int | None) -> str:
    tc = cfg.train
    at = f" at step {step}" if step is not None else ""
    return (
        f"out of accelerator memory{at}: lower train.prompts_per_step ({tc.prompts_per_step}), "
        f"train.num_generations ({tc.num_generations}), train.expert_batch_size ({tc.expert_batch_size}) "
        f"or train.max_completion_length ({tc.max_completion_length}), or set "
        "model.gradient_checkpointing=true; then continue with --resume"
    )


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
        output_dir=str(checkpoint_root(out_dir)),
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
        save_strategy="steps" if tc.checkpoint_every else "no",
        save_steps=tc.checkpoint_every or 500,
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        # The embedded world trains in fp32: TRL's GRPOConfig defaults to bf16 autocast, which on a CPU
        # without bf16 matrix units is several times slower and less precise.
        **(real.grpo_kwargs if real is not None else {"bf16": False, "fp16": False}),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    resume_from = None
    if resume:  # the main process cuts the logs back; every process loads the same checkpoint
        resume_from = prepare_resume(out_dir) if is_main else latest_checkpoint(out_dir)
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
            on_nonfinite=tc.on_nonfinite,
        )
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        trainer.add_callback(
            EvalCallback(trainer, evaluator, tc.eval_every, tc.eval_early_every, tc.eval_early_until)
        )
        if resume_from is not None and tokens_log is not None:
            # The probe's step-0 (base) distributions, for probe/kl_to_base: the model is still the
            # base here (the checkpoint's weights load inside train()), and Accelerate's autocast is
            # the one its prepared forward uses at step 0, so the cache is bit-identical. The probe's
            # text header is already in the kept part of tokens.jsonl.
            was_training = model.training
            model.eval()
            with trainer.accelerator.autocast():
                probe.cache_base(model)
            model.train(was_training)
            probe._header_written = any('"probe": {' in line for line in _lines(out_dir / "tokens.jsonl"))
        try:
            trainer.train(resume_from_checkpoint=str(resume_from[1]) if resume_from else None)
        except torch.OutOfMemoryError:
            raise PhasescopeError(_oom_message(cfg, trainer.state.global_step + 1)) from None
    mirror.finish()
    if tokens_log is not None:
        tokens_log.close()
    if is_main:
        (out_dir / "DONE").write_text(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return trainer.model


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []


def worker_main(argv: list[str]) -> int:
    """`python -m phasescope.train.run EXP_DIR ARM SEED THREADS [--resume]` — one arm in its own process."""
    resume = "--resume" in argv
    argv = [a for a in argv if a != "--resume"]
    exp_dir, arm, seed, threads = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    cfg = load_experiment_config(exp_dir)
    train_one(cfg, arm, seed, arm_dir(exp_dir, arm, seed), threads=threads, resume=resume)
    return 0


# --- the experiment (parent process) ------------------------------------------------------------------


@dataclass
class ArmResult:
    arm: str
    seed: int
    ok: bool
    seconds: float
    rows: list[dict[str, Any]]


def read_rows(path: Path, notes: list[str] | None = None) -> list[dict[str, Any]]:
    """metrics.jsonl rows; a truncated last line (a crash mid-write) is skipped and, when `notes` is
    given, reported there."""
    from phasescope.runlog.reader import read_jsonl

    if not path.exists():
        return []
    try:
        rows, found = read_jsonl(path)
    except (UsageError, OSError) as exc:  # nothing readable yet (or at all)
        found, rows = [str(exc)], []
    if notes is not None:
        notes.extend(found)
    return rows


class Interrupted(PhasescopeError):
    """`phasescope run` got SIGINT/SIGTERM; its workers were stopped. Exit code 128 + signal."""


def _arm_state(exp_dir: Path, arm: str, seed: int) -> str:
    out = arm_dir(exp_dir, arm, seed)
    if (out / "DONE").exists():
        return "done"
    return "checkpoint" if latest_checkpoint(out) is not None else "start"


def _start_resume(cfg: Config, exp_dir: Path) -> None:
    """Check that `exp_dir` can be resumed and note the resumption in experiment.json."""
    if not (exp_dir / "experiment.json").is_file():
        raise UsageError(f"nothing to resume: {exp_dir} has no experiment.json; start it without --resume")
    meta = json.loads((exp_dir / "experiment.json").read_text(encoding="utf-8"))
    meta.setdefault("resumed", []).append(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    meta["config"]["experiment"] = cfg.to_dict()["experiment"]
    write_json_atomic(exp_dir / "experiment.json", meta)


def run_experiment(
    cfg: Config, exp_dir: Path, log=print, overwrite: bool = False, resume: bool = False
) -> list[ArmResult]:
    """Build the base once, then train every (arm, seed) in worker processes; return their results.

    With `resume`, (arm, seed) runs that finished (a DONE file) are skipped, the others continue from
    their last checkpoint (`train_one(resume=True)`). SIGINT/SIGTERM stop every worker, then raise
    `Interrupted`.
    """
    if resume:
        if overwrite:
            raise UsageError("--resume continues a run and --overwrite deletes it: pass one of them")
        _start_resume(cfg, exp_dir)
    elif exp_dir.exists() and any(exp_dir.iterdir()):
        if not overwrite:
            raise UsageError(
                f"run directory {exp_dir} already exists; continue it with --resume, "
                "replace it with --overwrite, or choose another --out/--name"
            )
        import shutil

        shutil.rmtree(exp_dir)
    if not resume:
        try:
            exp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create the run directory {exp_dir}: {exc.strerror}; choose another --out"
            ) from None
        write_experiment_json(exp_dir, cfg)
    if not cfg.model.name_or_path:
        from phasescope.world import build_world

        build_world(cfg.world, log=log)
    jobs = [(a, s) for s in range(cfg.experiment.seeds) for a in cfg.experiment.arms]
    results = []
    if resume:
        for arm, seed in list(jobs):
            if _arm_state(exp_dir, arm, seed) == "done":
                jobs.remove((arm, seed))
                results.append(
                    ArmResult(arm, seed, True, 0.0, read_rows(arm_dir(exp_dir, arm, seed) / "metrics.jsonl"))
                )
                log(f"skipped {arm}/seed{seed} (finished before)")
    workers = max(1, min(cfg.experiment.workers, len(jobs)))
    # One process: all cores, unless the user capped threads with OMP_NUM_THREADS.
    threads = 1 if workers > 1 else max(1, _env_threads() or (os.cpu_count() or 1))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    pending, running = list(jobs), {}
    last_report = 0.0
    with _stop_workers_on_signal(running, exp_dir, log):
        while pending or running:
            while pending and len(running) < workers:
                arm, seed = pending.pop(0)
                out = arm_dir(exp_dir, arm, seed)
                out.mkdir(parents=True, exist_ok=True)
                again = resume and _arm_state(exp_dir, arm, seed) == "checkpoint"
                logf = open(out / "train.log", "a" if resume else "w")  # noqa: SIM115 - closed when the worker ends
                if resume:
                    logf.write(
                        f"\n--- resumed {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} ---\n"
                    )
                    logf.flush()
                cmd = [
                    sys.executable,
                    "-m",
                    "phasescope.train.run",
                    str(exp_dir),
                    arm,
                    str(seed),
                    str(threads),
                ]
                proc = subprocess.Popen(
                    cmd + (["--resume"] if resume else []),
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                )
                running[(arm, seed)] = (proc, logf, time.perf_counter())
                log(f"{'resumed' if again else 'started'} {arm}/seed{seed}")
            time.sleep(0.5)
            for key, (proc, logf, t0) in list(running.items()):
                if proc.poll() is None:
                    continue
                logf.close()
                arm, seed = key
                notes: list[str] = []
                rows = read_rows(arm_dir(exp_dir, arm, seed) / "metrics.jsonl", notes)
                ok = proc.returncode == 0
                results.append(ArmResult(arm, seed, ok, time.perf_counter() - t0, rows))
                del running[key]
                tail = (
                    ""
                    if ok
                    else f" (exit {proc.returncode}; see {arm_dir(exp_dir, arm, seed) / 'train.log'})"
                )
                log(f"finished {arm}/seed{seed} in {time.perf_counter() - t0:.0f} s{tail}")
                for note in notes:
                    log(f"note: {note}")
            if running and time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                log("  " + " | ".join(_progress(exp_dir, a, s, cfg.train.steps) for a, s in running))
    return results


def _env_threads() -> int | None:
    try:
        return int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM when `phasescope run` dies, even by SIGKILL (no orphans)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _stop_workers_on_signal:  # noqa: N801 - used as a context manager
    """While running: SIGINT/SIGTERM raise `Interrupted`; on any exit, still-running workers are stopped."""

    def __init__(self, running: dict, exp_dir: Path, log):
        self.running, self.exp_dir, self.log = running, exp_dir, log
        self.old: dict[int, Any] = {}

    def _handler(self, signum, frame):
        import signal

        name = signal.Signals(signum).name
        exc = Interrupted(
            f"interrupted by {name}; stopped {len(self.running)} running arm(s), their checkpoints are kept; "
            f"continue with: phasescope run --resume --out {self.exp_dir.parent} --name {self.exp_dir.name}"
        )
        exc.exit_code = 128 + signum
        raise exc

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, exc_type, exc, tb):
        import signal

        for sig, old in self.old.items():
            signal.signal(sig, old)
        for proc, _logf, _ in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc, logf, _ in self.running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logf.close()
        return False


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
