"""Two CPU processes (Accelerate, gloo) compute the same updates as one process on the same global
batch, and only the main process writes the run directory."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from phasescope.config import load_config
from tests.fixtures.real_run import REPO

WORKER = REPO / "tests" / "train" / "dist_worker.py"
# Global batch: 4 prompts × 2 rollouts + 4 expert rows; each of 2 processes takes 4 rollouts + 2 rows.
SETS = [
    "train.prompts_per_step=4",
    "train.expert_batch_size=4",
    "train.max_steps=2",
    "train.eval_steps=2",
    "arms.sft_then_rl.sft_steps=1",
]


def _run(cmd, env):
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="needs the accelerate launcher")
def test_two_processes_match_one(tmp_path, tiny_cache, tiny_world):
    from phasescope.world import build_world

    sets = tiny_world + SETS
    build_world(load_config(None, sets).world, log=lambda *_: None)  # the cached base, built once
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)}
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    args = [x for s in sets for x in ("--set", s)]
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(WORKER), str(one), str(tmp_path / "w1.pt"), "chord_mu", *args], env)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += [
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "0",
    ]
    _run([*launch, str(WORKER), str(two), str(tmp_path / "w2.pt"), "chord_mu", *args], env)

    # Only the main process wrote: the same files, and one row per step (not one per process).
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    r1, r2 = _rows(one / "metrics.jsonl"), _rows(two / "metrics.jsonl")
    assert [r["step"] for r in r2] == [r["step"] for r in r1] == [0, 1, 2]
    assert len(_rows(two / "tokens.jsonl")) == len(_rows(one / "tokens.jsonl"))
    # The evaluation of the base and the first update (same weights in both layouts) agree to float
    # precision. Later rows drift slightly: the gradient all-reduce sums in another order, and Adam turns
    # last-bit differences of near-zero gradients into lr-sized steps.
    skip = ("time/", "perf/")
    for a, b in zip(r1, r2):
        assert set(a) == set(b)
        rel = 1e-4 if a["step"] <= 1 else 1e-2
        for key, va in a.items():
            if key.startswith(skip) or not isinstance(va, float):
                continue
            assert b[key] == pytest.approx(va, rel=rel, abs=1e-6), (a["step"], key)
    mus = [r["train/mu"] for r in r1[1:]]
    # μ of updates 1 and 2 (Trinity-RFT's origin), half-cosine 0.9 → 0.05 over 2 steps: both terms live
    assert mus == pytest.approx([0.475, 0.05])
    assert any(r["rollout/reward_std"] > 0 for r in r1[1:])  # the rollouts carry a GRPO signal
    w1, w2 = torch.load(tmp_path / "w1.pt"), torch.load(tmp_path / "w2.pt")
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=0, atol=1e-3)  # a few Adam steps of 1e-4


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="needs the accelerate launcher")
def test_checkpoint_marker_waits_for_every_rank(tmp_path, tiny_cache, tiny_world):
    """Rank 1 writes its RNG state 3 s late; the completion marker must still come after it (a marker
    written by rank 0 alone would be older than rank 1's file, or the pruning would delete it)."""
    from phasescope.runlog.checkpoint import MARKER, latest_checkpoint
    from phasescope.world import build_world

    sets = [*tiny_world, *SETS, "train.save_steps=1", 'experiment.arms=["sft"]']
    build_world(load_config(None, sets).world, log=lambda *_: None)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)}
    env.update(PHASESCOPE_TEST_SLOW_SAVE="3")
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", "0"]
    args = [x for s in sets for x in ("--set", s)]
    _run([*launch, str(WORKER), str(tmp_path / "run"), str(tmp_path / "w.pt"), "sft", *args], env)
    step, ckpt = latest_checkpoint(tmp_path / "run")
    assert step == 2
    files = {p.name: p.stat().st_mtime_ns for p in ckpt.iterdir()}
    assert {"rng_state_0.pth", "rng_state_1.pth", MARKER} <= set(files)
    assert files[MARKER] >= max(files.values())  # the marker is the checkpoint's last file


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None, reason="needs the accelerate launcher")
@pytest.mark.parametrize("arm", ["luffy", "hpt", "relift"])
def test_two_processes_match_one_for_a_per_prompt_arm(arm, tmp_path, tiny_cache, tiny_world):
    """Groups split over processes: each group's statistics come from every process's rewards, its
    demonstration is trained once (by the process holding its first row), and ReLIFT's buffer and
    SFT update are the same on both."""
    from phasescope.world import build_world

    sets = tiny_world + SETS + ["arms.relift.buffer_size=3"]  # odd: the processes hold 2 and 1 rows
    build_world(load_config(None, sets).world, log=lambda *_: None)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)}
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    args = [x for s in sets for x in ("--set", s)]
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, str(WORKER), str(one), str(tmp_path / "w1.pt"), arm, *args], env)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", "0"]
    _run([*launch, str(WORKER), str(two), str(tmp_path / "w2.pt"), arm, *args], env)
    r1, r2 = _rows(one / "metrics.jsonl"), _rows(two / "metrics.jsonl")
    assert [r["step"] for r in r2] == [r["step"] for r in r1] == [0, 1, 2]
    for a, b in zip(r1[1:], r2[1:]):
        for key in ("train/mu", "budget/updates", "budget/samples", "budget/tokens"):
            assert b[key] == a[key], (arm, a["step"], key)
        for key in ("train/loss", "train/grpo_loss", "train/sft_loss", "expert/nll"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-2, abs=1e-5), (arm, a["step"], key)
    if arm == "relift":  # the buffer filled and its SFT update ran (3 demonstrations: one more update)
        assert r1[-1]["budget/updates"] > 2
    w1, w2 = torch.load(tmp_path / "w1.pt"), torch.load(tmp_path / "w2.pt")
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=0, atol=2e-3)
