"""The worker pool of `phasescope run`: one process per (arm, seed, world draw), signals, progress
(`train/progress.py`).

Arms are independent, so up to `experiment.workers` of them train at once, each in its own process
(`phasescope worker EXP_DIR ARM SEED THREADS [--world W]`) with one torch thread: on a 2-core CPU two
single-thread processes beat one two-thread process, and two multi-thread processes slow each other
many-fold. SIGINT/SIGTERM stop every worker and raise `Interrupted`; on Linux a worker also dies
with its parent, even when the parent is killed with SIGKILL (no orphans).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasescope.errors import PhasescopeError
from phasescope.runlog.checkpoint import latest_checkpoint
from phasescope.runlog.experiment import arm_dir, now
from phasescope.runlog.reader import read_metrics
from phasescope.train.progress import progress_display


@dataclass
class ArmResult:
    arm: str
    seed: int
    ok: bool
    seconds: float
    rows: list[dict[str, Any]]
    world: int = 0
    """The world draw (`experiment.world_seeds`); 0 is the configured world."""


class Interrupted(PhasescopeError):
    """`phasescope run` got SIGINT/SIGTERM; its workers were stopped. Exit code 128 + signal."""


def threads_per_worker(workers: int, world: bool = False) -> int:
    """One thread per worker; one process alone gets all cores, unless OMP_NUM_THREADS caps them.

    The embedded world always trains on one thread: its tiny model gains little from more, and the
    thread count changes the float summation order (two threads change 0.6% of one SFT gradient's
    values, by up to 1e-8), so an arm trained alone would otherwise give other numbers than the same
    arm trained beside others, and other numbers on a machine with another core count."""
    if workers > 1 or world:
        return 1
    try:
        env = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        env = None
    return max(1, env or (os.cpu_count() or 1))


def worker_env(threads: int) -> dict[str, str]:
    # WANDB_SERVICE would make the worker share this process's wandb-core (wandb exports it once it
    # starts one): a killed worker's W&B run would then stay open there and block its --resume.
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    return {
        **env,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }


def worker_command(
    exp_dir: Path, arm: str, seed: int, threads: int, resume: bool, world: int = 0
) -> list[str]:
    cmd = [sys.executable, "-m", "phasescope.cli", "worker", str(exp_dir), arm, str(seed), str(threads)]
    return cmd + (["--resume"] if resume else []) + (["--world", str(world)] if world else [])


def run_pool(
    jobs: list[tuple[str, int]] | list[tuple[str, int, int]],
    exp_dir: Path,
    workers: int,
    steps: int | dict[str, int],
    resume: bool,
    log=print,
    world: bool = False,
) -> list[ArmResult]:
    """Train every (arm, seed) or (arm, seed, world draw) of `jobs` in worker processes, `workers` at a
    time; their results. `steps`: the length of every arm's step axis, or one per arm (for the progress
    display). `world`: the jobs train the embedded world (one thread each, see `threads_per_worker`)."""
    workers = max(1, min(workers, len(jobs)))
    threads = threads_per_worker(workers, world)
    pending, running, results = [(*j, 0)[:3] for j in jobs], {}, []
    with _stop_workers_on_signal(running, exp_dir), progress_display(exp_dir, steps) as shown:
        log = shown.say(log)
        while pending or running:
            while pending and len(running) < workers:
                key = pending.pop(0)
                running[key] = _start(exp_dir, key, threads, resume, log)
                shown.add(*key)
            time.sleep(0.5)
            for key in [k for k, (proc, _, _) in running.items() if proc.poll() is not None]:
                shown.remove(*key)
                results.append(_finish(exp_dir, key, running.pop(key), log))
            shown.refresh(running, log)
    return results


def _start(exp_dir: Path, key: tuple[str, int, int], threads: int, resume: bool, log):
    arm, seed, world = key
    out = arm_dir(exp_dir, arm, seed, world)
    out.mkdir(parents=True, exist_ok=True)
    again = resume and latest_checkpoint(out) is not None
    logf = open(out / "train.log", "a" if resume else "w")  # noqa: SIM115 - closed when the worker ends
    if resume:
        logf.write(f"\n--- resumed {now()} ---\n")
        logf.flush()
    proc = subprocess.Popen(
        worker_command(exp_dir, arm, seed, threads, resume, world),
        stdout=logf,
        stderr=subprocess.STDOUT,
        env=worker_env(threads),
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    log(f"{'resumed' if again else 'started'} {arm}/{out.name}")
    return proc, logf, time.perf_counter()


def _finish(exp_dir: Path, key: tuple[str, int, int], entry, log) -> ArmResult:
    proc, logf, t0 = entry
    logf.close()
    arm, seed, world = key
    out = arm_dir(exp_dir, arm, seed, world)
    notes: list[str] = []
    rows = read_metrics(out / "metrics.jsonl", notes)
    ok = proc.returncode == 0
    seconds = time.perf_counter() - t0
    tail = "" if ok else f" (exit {proc.returncode}; see {out / 'train.log'})"
    log(f"finished {arm}/{out.name} in {seconds:.0f} s{tail}")
    for note in notes:
        log(f"note: {note}")
    return ArmResult(arm, seed, ok, seconds, rows, world)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGTERM when `phasescope run` dies, even by SIGKILL (no orphans)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _stop_workers_on_signal:  # noqa: N801 - used as a context manager
    """While running: SIGINT/SIGTERM raise `Interrupted`; on any exit, still-running workers are stopped."""

    def __init__(self, running: dict, exp_dir: Path):
        self.running, self.exp_dir = running, exp_dir
        self.old: dict[int, Any] = {}

    def _handler(self, signum, frame):
        name = signal.Signals(signum).name
        exc = Interrupted(
            f"interrupted by {name}; stopped {len(self.running)} running arm(s), their checkpoints are kept; "
            f"continue with: phasescope run --resume --out {self.exp_dir.parent} --name {self.exp_dir.name}"
        )
        exc.exit_code = 128 + signum
        raise exc

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, exc_type, exc, tb):
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
