import os
import subprocess
import sys

import pytest

# Tests never reach a network, and parallel torch threads on a 2-core CI machine slow everything down.
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Set before any test module imports datasets or huggingface_hub, which read it once at import: a test
# that reaches for a hub id then fails at once instead of waiting on a network the CI machine lacks
# (the fuzzer's `check` of the Qwen config waited past its 30 s limit when datasets was imported first).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# A world small enough that its base builds in seconds: for wiring tests, not for science.
TINY_WORLD = [
    "world.n_pretrain=300",
    "world.base_max_steps=20",
    "world.n_layer=1",
    "world.n_embd=32",
    "world.n_head=2",
    "world.n_eval=16",
    "world.n_expert=16",
    "world.n_rl_prompts=64",
    "train.max_steps=3",
    "train.eval_steps=2",
    "train.prompts_per_step=2",
    "train.num_generations=2",
    "train.expert_batch_size=4",
    "world.digits=2",
    "train.max_completion_length=24",  # the longest 2-digit chain of thought (the preflight refuses less)
    "arms.sft_then_rl.sft_steps=2",
    "arms.chord_mu.mu_decay_steps=2",
    # 3 updates cannot hold a 2-step SFT stage and an RL stage "within" one budget: the tests of
    # two-stage arms read "2 SFT steps, then 3 RL steps"; test_stages tests "within" on its own.
    'train.stage_budget="added"',
    # The tuned rates are the default world's (phasescope/arms/world_rates.py); the tests pin train.*'s.
    "world.tuned_rates=false",
]


@pytest.fixture
def tiny_world():
    """`--set` overrides for a tiny world and a 3-step run."""
    return list(TINY_WORLD)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    """One base-model cache for the whole session (the tiny base is built once)."""
    path = tmp_path_factory.mktemp("phasescope-cache")
    old = os.environ.get("PHASESCOPE_CACHE")
    os.environ["PHASESCOPE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PHASESCOPE_CACHE", None)
    else:
        os.environ["PHASESCOPE_CACHE"] = old


@pytest.fixture
def resumable(tiny_world):
    """`--set` overrides: the tiny world, 10 steps, a checkpoint every 3 steps, 4 updates per epoch."""
    from tests.fixtures.resumable import RESUMABLE

    return [*tiny_world, *RESUMABLE]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny Qwen2 model + byte-level Qwen2 tokenizer with a chat template, saved like a hub snapshot."""
    from tests.fixtures.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2") / "model")


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the console entry point `phasescope.cli:main` in-process (a subprocess per test costs
    seconds of imports); returns (returncode, stdout, stderr) like a finished process."""
    from phasescope.cli import main

    def invoke(*args: str) -> subprocess.CompletedProcess:
        monkeypatch.setattr(sys, "argv", ["phasescope", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return invoke


@pytest.fixture
def wandb_offline(monkeypatch, tmp_path):
    """W&B in offline mode in `tmp_path`: no credentials, no network, nothing from the environment."""
    for var in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    return tmp_path
