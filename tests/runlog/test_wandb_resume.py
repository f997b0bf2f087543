"""W&B across a kill: `phasescope run --wandb offline` killed with SIGKILL and resumed gives one W&B run
per (arm, seed), the same run id in every offline file, and every step in it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from phasescope.runlog.checkpoint import latest_checkpoint
from phasescope.runlog.wandb_mirror import WandbMirror, run_id
from phasescope.runlog.wandb_offline import logged_steps
from tests.train.test_resume import _cli_run, _wait_for, rows_safe

pytest.importorskip("wandb")


@pytest.fixture
def offline(wandb_offline):
    return wandb_offline


def _files(root: Path, rid: str) -> list[Path]:
    """The offline run files of run `rid`, oldest first (the folder names start with the time)."""
    return sorted(root.glob(f"wandb/offline-run-*-{rid}/run-{rid}.wandb"))


def _run_and_summary(path: Path, timeout: float = 30.0):
    """The run record and the final summary of a finished offline run file (wandb-core may still be
    writing it just after finish(): wait for the exit record)."""
    import json

    from phasescope.runlog.wandb_offline import read_records

    deadline = time.monotonic() + timeout
    while True:
        recs = read_records(path)
        kinds = [r.WhichOneof("record_type") for r in recs]
        if "exit" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    run = next(r.run for r in recs if r.WhichOneof("record_type") == "run")
    summary = {}
    for r in recs:
        if r.WhichOneof("record_type") == "summary":
            summary.update(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.summary.update}
            )
    return run, summary


def test_a_second_mirror_with_the_same_id_continues_without_repeating_steps(offline):
    rid = run_id("toy", "2026-01-01T00:00:00+00:00", "sft", 0)
    tags = ["sft", "embedded-world", "phasescope-0.1.0"]
    first = WandbMirror(
        "offline", group="toy", job_type="sft", name="sft/seed0", dir=offline, run_id=rid, tags=tags
    )
    for s, acc, loss in zip(range(6), [0.5, 0.7, 0.6, 0.4, 0.3, 0.2], [2.0, 1.0, 1.5, 1.6, 1.7, 1.8]):
        first.log({"step": s, "eval/accuracy": acc, "train/loss": loss})
    first.finish()
    run, summary = _run_and_summary(_files(offline, rid)[0])
    assert run.run_id == rid and list(run.tags) == tags
    assert summary["eval/accuracy"] == {"max": 0.7, "last": 0.2}  # accuracy-like: its best is the max
    assert summary["train/loss"] == {"min": 1.0, "last": 1.8}  # loss-like: the min
    time.sleep(1.1)  # offline folders are named by the second and the id: a resume within it would share one
    again = WandbMirror("offline", group="toy", job_type="sft", name="sft/seed0", dir=offline, run_id=rid)
    assert again.sent_through == 5
    for s in range(3, 9):  # steps 3..5 were trained again after a resume from a checkpoint at 2
        again.log({"step": s, "eval/accuracy": 0.1})
    again.finish()
    files = _files(offline, rid)
    assert len(files) == 2
    _run_and_summary(files[1])  # wait for wandb-core to finish writing it (it failed under load before)
    assert [s for f in files for s in logged_steps(f)] == list(range(9))


def test_run_ids_are_stable_per_experiment_and_distinct_per_arm_seed_and_start():
    a = run_id("exp", "t0", "chord_phi", 0)
    assert a == run_id("exp", "t0", "chord_phi", 0) and len(a) <= 64
    assert (
        len(
            {
                a,
                run_id("exp", "t0", "chord_phi", 1),
                run_id("exp", "t0", "sft", 0),
                run_id("exp", "t1", "chord_phi", 0),
            }
        )
        == 4
    )
    assert set(a) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses process groups")
def test_kill_9_then_resume_is_one_wandb_run_with_every_step_once(offline, tiny_cache, tiny_world, cli):
    import json

    sets = [*tiny_world, "train.max_steps=12", "train.save_steps=3", "train.eval_steps=4"]
    cmd = _cli_run(offline, "exp", sets) + ["--wandb", "offline"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    run = offline / "exp" / "chord_phi" / "seed0"

    def past_checkpoint():
        found = latest_checkpoint(run)
        done = rows_safe(run / "metrics.jsonl")
        return found is not None and found[0] >= 3 and bool(done) and done[-1]["step"] >= found[0] + 2

    _wait_for(past_checkpoint, proc, 180, "a checkpoint and two more steps")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run / "DONE").exists(), "the run finished before it was killed"

    res = cli("run", "--resume", "--out", offline, "--name", "exp", "--workers", "1")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    started = json.loads((offline / "exp" / "experiment.json").read_text())["started"]
    rid = run_id("exp", started, "chord_phi", 0)
    files = _files(offline / "exp", rid)
    log = (run / "train.log").read_text()
    why = "\n".join(x for x in log.splitlines() if "W&B" in x)
    # the killed run's file and the resumed one's, which `wandb sync` merges into one run (one file
    # only if the killed run's W&B had failed: a warning, never fatal; the resumed run catches up)
    assert len(files) == 2 or (len(files) == 1 and "W&B mirror disabled" in log), why
    others = [d.name for d in (offline / "exp").glob("wandb/offline-run-*") if not d.name.endswith(rid)]
    assert len(others) == 1  # the analysis run, and no second training run
    steps = [logged_steps(f) for f in files]
    # every step once, in order: what the killed run's wandb had written, then the rest (from
    # metrics.jsonl up to the checkpoint, then the resumed training)
    assert [s for part in steps for s in part] == list(range(13)), (steps, why)


def test_workers_get_their_own_wandb_service(monkeypatch):
    """wandb exports WANDB_SERVICE once a process starts wandb-core; a worker that inherited it would
    keep its run open in the parent's service after a kill, and the resumed run's id would be 'in use'."""
    from phasescope.train.pool import worker_env

    monkeypatch.setenv("WANDB_SERVICE", "2-123-tcp-localhost-4567")
    env = worker_env(1)
    assert "WANDB_SERVICE" not in env and env["OMP_NUM_THREADS"] == "1"
