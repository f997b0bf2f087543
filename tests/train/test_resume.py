"""Checkpoint and resume: a run that is killed and resumed writes exactly the uninterrupted run's rows.

On CPU with the same seed the resumed curve is *bit-identical* to the uninterrupted one (every metric
except wall-clock time/* and perf/*): the checkpoint restores model, optimizer, scheduler and RNG
states; μ and the expert batches are pure functions of (seed, step); the RL prompt order is a pure
function of (seed, epoch) (`EpochRepeatSampler`); the probe's base distributions are recomputed
under the same autocast as step 0. So the comparisons below use ==, not a tolerance.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from phasescope.config import load_config
from phasescope.runlog.checkpoint import MARKER, latest_checkpoint
from tests.fixtures.resumable import curve, rows


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


class Crash(BaseException):
    """Stands in for a kill: raised after the update of a chosen step, outside any except clause."""


def _crash_at(monkeypatch, step: int) -> None:
    import phasescope.train.trainer as trainer_mod

    orig = trainer_mod.EvalCallback.on_step_end

    def on_step_end(self, args, state, control, **kwargs):
        orig(self, args, state, control, **kwargs)
        if state.global_step == step:
            raise Crash

    monkeypatch.setattr(trainer_mod.EvalCallback, "on_step_end", on_step_end)


# sft_then_rl's two-stage form writes no checkpoint (it starts over on --resume); its one-optimizer
# form (schedule "step", 2 SFT steps within train.max_steps) resumes across its stage switch.
@pytest.mark.parametrize("arm", ["chord_phi", "sft_then_rl", "hpt", "relift"])
def test_resume_after_a_crash_equals_the_uninterrupted_run(arm, tmp_path, tiny_cache, resumable, monkeypatch):
    """In-process (fast): crash after step 8 (last checkpoint: 6), resume, compare with a clean run."""
    from phasescope.train.train_one import train_one

    # relift: 2 unsolved prompts a step into a buffer of 5: the checkpoint at step 6 holds 2 of them
    cfg = load_config(None, [*resumable, 'arms.sft_then_rl.schedule="step"', "arms.relift.buffer_size=5"])
    train_one(cfg, arm, 0, tmp_path / "ref", threads=1)

    with monkeypatch.context() as m:
        _crash_at(m, 8)
        with pytest.raises(Crash):
            train_one(cfg, arm, 0, tmp_path / "run", threads=1)
    run = tmp_path / "run"
    assert latest_checkpoint(run)[0] == 6 and not (run / "DONE").exists()
    assert [r["step"] for r in rows(run / "metrics.jsonl")] == list(range(8))
    with open(run / "metrics.jsonl", "a") as fh:  # a kill in the middle of writing a row
        fh.write('{"step": 8, "train/lo')
    with open(run / "problems.jsonl", "a") as fh:  # and in the middle of a per-problem line
        fh.write('{"step": 8, "split": "ev')

    train_one(cfg, arm, 0, run, threads=1, resume=True)

    ref = curve(tmp_path / "ref" / "metrics.jsonl")
    got = curve(run / "metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in ref] == list(range(11))
    assert got == ref  # every metric, bit for bit (see the module docstring)
    assert rows(run / "tokens.jsonl") == rows(tmp_path / "ref" / "tokens.jsonl")
    _same_problems(run, tmp_path / "ref")
    assert (run / "DONE").exists()
    # only the latest checkpoint is kept, and it is complete
    (ckpt,) = (run / "checkpoint").glob("checkpoint-*")
    assert ckpt.name == "checkpoint-10" and (ckpt / MARKER).is_file()


def _same_problems(run: Path, ref: Path) -> None:
    """problems.jsonl of the resumed run equals the uninterrupted run's line for line: one line per
    (evaluation, split), none duplicated or lost by the crash, the cut or the resume."""
    got, want = rows(run / "problems.jsonl"), rows(ref / "problems.jsonl")
    assert got == want
    eval_steps = [r["step"] for r in rows(ref / "metrics.jsonl") if "eval/accuracy" in r]
    assert len(eval_steps) >= 3
    assert [(r["step"], r["split"]) for r in got] == [(s, k) for s in eval_steps for k in ("eval", "general")]
    assert (run / "problems_index.json").read_text() == (ref / "problems_index.json").read_text()


def test_resume_without_a_checkpoint_starts_over(tmp_path, tiny_cache, resumable, monkeypatch):
    from phasescope.train.train_one import train_one

    cfg = load_config(None, [*resumable, "train.save_steps=0"])
    with monkeypatch.context() as m:
        _crash_at(m, 2)
        with pytest.raises(Crash):
            train_one(cfg, "chord_phi", 0, tmp_path, threads=1)
    assert latest_checkpoint(tmp_path) is None
    train_one(cfg, "chord_phi", 0, tmp_path, threads=1, resume=True)
    assert [r["step"] for r in rows(tmp_path / "metrics.jsonl")] == list(range(11))


def _cli_run(exp_root: Path, name: str, sets: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "phasescope.cli",
        "run",
        "--arms",
        "chord_phi",
        "--workers",
        "1",
        "--out",
        str(exp_root),
        "--name",
        name,
        *[x for s in sets for x in ("--set", s)],
    ]


def _wait_for(cond, proc: subprocess.Popen, timeout: float, what: str) -> None:
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}: {out[-2000:]}")
        if time.monotonic() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _workers(pid: int) -> list[int]:
    """Worker processes (`python -m phasescope.cli worker ...`) started by process `pid`."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        for child in map(int, text.split()):
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"phasescope.cli\x00worker" in cmd:  # not, e.g., the `git rev-parse` for experiment.json
                found.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and process groups")
def test_kill_9_mid_training_then_resume(tmp_path, tiny_cache, tiny_world, cli, capsys):
    """A real `phasescope run` (parent + worker) is killed with SIGKILL once a checkpoint exists and
    the run has gone past it; `phasescope run --resume` then completes it. The rows equal an
    uninterrupted run's, step for step and value for value."""
    from phasescope.runlog.experiment import load_experiment_config
    from phasescope.train.runner import run_experiment
    from phasescope.train.train_one import train_one

    sets = [*tiny_world, "train.max_steps=20", "train.save_steps=5", "train.eval_steps=5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _cli_run(tmp_path, "exp", sets),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches parent and worker at once
    )
    run = tmp_path / "exp" / "chord_phi" / "seed0"

    def past_checkpoint():
        found = latest_checkpoint(run)
        if found is None or found[0] < 5:
            return False
        done = rows_safe(run / "metrics.jsonl")
        return bool(done) and done[-1]["step"] >= found[0] + 2

    _wait_for(past_checkpoint, proc, 180, "a checkpoint and two more steps")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run / "DONE").exists(), "the run finished before it was killed"
    killed_at = rows_safe(run / "metrics.jsonl")[-1]["step"]
    ckpt_step = latest_checkpoint(run)[0]
    assert ckpt_step < killed_at < 20
    with capsys.disabled():  # shown with -s
        print(f"\nkilled after step {killed_at} of 20; resuming from the checkpoint at step {ckpt_step}")

    res = cli("run", "--resume", "--out", tmp_path, "--name", "exp", "--workers", "1")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "resumed chord_phi/seed0" in res.stdout
    log = (run / "train.log").read_text()
    assert f"continuing from {run / 'checkpoint' / f'checkpoint-{ckpt_step}'} (step {ckpt_step})" in log

    cfg = load_experiment_config(tmp_path / "exp")
    train_one(cfg, "chord_phi", 0, tmp_path / "ref", threads=1)
    ref, got = curve(tmp_path / "ref" / "metrics.jsonl"), curve(run / "metrics.jsonl")
    assert [r["step"] for r in got] == [r["step"] for r in ref] == list(range(21))
    assert got == ref
    assert rows(run / "tokens.jsonl") == rows(tmp_path / "ref" / "tokens.jsonl")
    _same_problems(run, tmp_path / "ref")
    meta = json.loads((tmp_path / "exp" / "experiment.json").read_text())
    assert len(meta["resumed"]) == 1

    # a second resume finds everything finished: nothing is trained, nothing changes
    before = (run / "metrics.jsonl").read_bytes()
    said = []
    (result,) = run_experiment(cfg, tmp_path / "exp", log=said.append, resume=True)
    assert result.ok and "skipped chord_phi/seed0 (finished before)" in said
    assert [r["step"] for r in result.rows] == list(range(21))
    assert (run / "metrics.jsonl").read_bytes() == before


def rows_safe(path: Path) -> list[dict]:
    """Rows of a file that another process is appending to (a partial last line is ignored)."""
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_sigterm_to_run_stops_its_workers(tmp_path, tiny_cache, tiny_world):
    sets = [*tiny_world, "train.max_steps=200", "train.save_steps=0"]
    proc = subprocess.Popen(
        _cli_run(tmp_path, "exp", sets),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
    )
    try:
        _wait_for(lambda: _workers(proc.pid), proc, 180, "a worker process")
        workers = _workers(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "interrupted by SIGTERM" in line and "--resume" in line
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


# --- `run --resume` means the stored config (issue 19, item 6) ---------------------------------------


def _stored(tmp_path: Path, tiny_world: list[str], arms: str = '["sft", "chord_phi"]') -> Path:
    """An experiment directory holding only experiment.json: the tiny world, train.max_steps=3."""
    from phasescope.runlog.experiment import write_experiment_json

    exp = tmp_path / "exp"
    exp.mkdir()
    write_experiment_json(exp, load_config(None, [*tiny_world, f"experiment.arms={arms}"]))
    return exp


@pytest.fixture
def trained(monkeypatch):
    """`phasescope run` without training: the config each run_experiment call was given."""
    import phasescope.cli
    import phasescope.train.runner

    seen = []
    monkeypatch.setattr(
        phasescope.train.runner, "run_experiment", lambda cfg, *a, **k: seen.append(cfg) or []
    )
    monkeypatch.setattr(phasescope.cli, "_report_after_run", lambda *a: None)
    return seen


def test_resume_with_selection_options_keeps_the_stored_config(tmp_path, tiny_world, cli, trained):
    """--arms/--wandb/--workers choose what to resume and how: no config is rebuilt from the defaults
    (whose train.max_steps is not the stored 3), and experiment.json still lists every arm."""
    exp = _stored(tmp_path, tiny_world)
    res = cli("run", "--resume", "--arms", "sft", "--wandb", "offline", "--out", tmp_path, "--name", "exp")
    assert res.returncode == 0, res.stderr
    (cfg,) = trained
    assert cfg.train.max_steps == 3 and cfg.world.n_layer == 1  # the stored values, not the defaults'
    assert cfg.experiment.arms == ["sft"] and cfg.experiment.wandb == "offline"
    assert cfg.experiment.workers == load_config(None, tiny_world).experiment.workers  # stored, not given
    res = cli("run", "--resume", "--workers", "2", "--seeds", "1", "--out", tmp_path, "--name", "exp")
    assert res.returncode == 0, res.stderr
    assert trained[1].experiment.workers == 2 and trained[1].experiment.arms == ["sft", "chord_phi"]
    assert trained[1].experiment.wandb == "off"  # as stored: --wandb was not given this time
    assert json.loads((exp / "experiment.json").read_text())["config"]["train"]["max_steps"] == 3


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--set", "train.max_steps=5"], "differs from"),
        (["--arms", "rl"], "--resume --arms: rl not in the run"),
        (["--seeds", "2"], "--resume --seeds 2: the run"),
    ],
)
def test_resume_refuses_what_the_stored_run_is_not(tmp_path, tiny_world, cli, trained, extra, fragment):
    _stored(tmp_path, tiny_world)
    res = cli("run", "--resume", "--out", tmp_path, "--name", "exp", *extra)
    assert res.returncode == 2 and trained == []
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and fragment in line, line


def test_resume_with_set_names_exactly_the_keys_that_differ(tmp_path, tiny_world, cli, trained):
    _stored(tmp_path, tiny_world)
    sets = ["--set", "train.max_steps=5", "--set", "train.eval_steps=2", "--set", "world.n_eval=20"]
    res = cli("run", "--resume", "--out", tmp_path, "--name", "exp", *sets)
    assert res.returncode == 2
    named = re.findall(r"(\w+\.\w+) \(", res.stderr)  # eval_steps=2 is the stored value: not named
    assert named == ["train.max_steps", "world.n_eval"], res.stderr
    assert (
        "train.max_steps (3 stored, 5 given)" in res.stderr
        and "world.n_eval (16 stored, 20 given)" in res.stderr
    )
    # a --set that repeats the stored value, or a config file that matches it, resumes
    assert (
        cli("run", "--resume", "--out", tmp_path, "--name", "exp", "--set", "train.max_steps=3").returncode
        == 0
    )
    assert trained[-1].train.max_steps == 3


@pytest.mark.slow  # ~22 s on 2 cores: a parent, two workers and W&B offline
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses process groups")
def test_killed_wandb_run_resumes_one_arm_with_every_row_once(wandb_offline, tiny_cache, tiny_world, cli):
    """The issue's report: kill `phasescope run --wandb offline`, then `run --resume --arms sft --wandb
    offline` (no config file, no --set) resumes sft from the stored config, each step's row once."""
    root = wandb_offline
    sets = [*tiny_world, "train.max_steps=12", "train.save_steps=3", "train.eval_steps=4"]
    cmd = [*_cli_run(root, "exp", sets), "--wandb", "offline"]
    cmd[cmd.index("chord_phi")] = "sft,chord_phi"
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    run = root / "exp" / "sft" / "seed0"
    _wait_for(lambda: len(rows_safe(run / "metrics.jsonl")) >= 3, proc, 180, "the first metrics rows")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (run / "DONE").exists(), "the run finished before it was killed"

    res = cli("run", "--resume", "--arms", "sft", "--wandb", "offline", "--out", root, "--name", "exp")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "differs" not in res.stderr and (run / "DONE").exists()
    assert [r["step"] for r in rows(run / "metrics.jsonl")] == list(range(13))  # none lost, none twice
    assert not (root / "exp" / "chord_phi" / "seed0" / "DONE").exists()  # not selected: not trained
    meta = json.loads((root / "exp" / "experiment.json").read_text())
    assert meta["config"]["experiment"]["arms"] == ["sft", "chord_phi"] and len(meta["resumed"]) == 1
    assert meta["config"]["train"]["max_steps"] == 12
