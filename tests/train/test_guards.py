"""Training guards: a NaN/inf loss or gradient stops the run naming the step and the last good
checkpoint (or, under train.on_nonfinite = "skip", drops that update); running out of accelerator
memory names the settings to lower. Both reach the user as one line."""

from __future__ import annotations

import pytest
import torch

from phasescope.config import load_config
from phasescope.errors import PhasescopeError
from phasescope.train.trainer import NonFiniteError
from tests.fixtures.resumable import rows


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _nan_loss_at(monkeypatch, step: int) -> None:
    """train/loss becomes NaN at update `step` (rows count updates from 1)."""
    import phasescope.train.trainer as trainer_mod

    orig = trainer_mod.chord_loss

    def chord_loss(grpo, sft, mu):
        loss = orig(grpo, sft, mu)
        return loss * float("nan") if trainer_mod_state["trainer"].state.global_step + 1 == step else loss

    trainer_mod_state = {}
    init = trainer_mod.PhaseTrainer.__init__

    def remember(self, *args, **kwargs):
        init(self, *args, **kwargs)
        trainer_mod_state["trainer"] = self

    monkeypatch.setattr(trainer_mod, "chord_loss", chord_loss)
    monkeypatch.setattr(trainer_mod.PhaseTrainer, "__init__", remember)


def test_nan_loss_stops_naming_step_and_checkpoint(tmp_path, tiny_cache, resumable, monkeypatch):
    from phasescope.train.train_one import train_one

    _nan_loss_at(monkeypatch, 5)
    cfg = load_config(None, resumable)
    with pytest.raises(NonFiniteError) as info:
        train_one(cfg, "chord_phi", 0, tmp_path, threads=1)
    msg = str(info.value)
    assert "train/loss is not finite at step 5" in msg
    assert f"{tmp_path / 'checkpoint' / 'checkpoint-3'} (step 3)" in msg
    assert 'train.on_nonfinite="skip"' in msg and "\n" not in msg
    assert [r["step"] for r in rows(tmp_path / "metrics.jsonl")] == [0, 1, 2, 3, 4]
    assert not (tmp_path / "DONE").exists()


def test_nan_before_any_checkpoint_says_so(tmp_path, tiny_cache, resumable, monkeypatch):
    from phasescope.train.train_one import train_one

    _nan_loss_at(monkeypatch, 1)
    with pytest.raises(NonFiniteError, match="at step 1; no checkpoint was saved yet"):
        train_one(load_config(None, resumable), "sft", 0, tmp_path, threads=1)


def test_nan_loss_skipped_leaves_the_model_unchanged(tmp_path, tiny_cache, resumable, monkeypatch):
    from phasescope.train.train_one import train_one

    _nan_loss_at(monkeypatch, 2)
    cfg = load_config(None, [*resumable, "train.max_steps=3", 'train.on_nonfinite="skip"'])
    snapshots = {}
    import phasescope.train.trainer as trainer_mod

    orig = trainer_mod.EvalCallback.on_step_end

    def on_step_end(self, args, state, control, **kwargs):
        snapshots[state.global_step] = [p.detach().clone() for p in self.trainer.model.parameters()]
        return orig(self, args, state, control, **kwargs)

    monkeypatch.setattr(trainer_mod.EvalCallback, "on_step_end", on_step_end)
    train_one(cfg, "chord_phi", 0, tmp_path, threads=1)
    got = rows(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in got] == [0, 1, 2, 3] and (tmp_path / "DONE").exists()
    assert got[2]["train/skipped"] == 1.0 and "train/loss" not in got[2]  # absent, never NaN
    assert "train/skipped" not in got[1] and "train/skipped" not in got[3]
    assert all(torch.equal(a, b) for a, b in zip(snapshots[1], snapshots[2]))  # step 2 moved nothing
    assert not all(torch.equal(a, b) for a, b in zip(snapshots[2], snapshots[3]))


def test_nonfinite_gradient_is_caught(tmp_path, tiny_cache, resumable, monkeypatch):
    """A finite loss with an inf gradient (e.g. an overflow in backward) is caught before the update."""
    import phasescope.train.trainer as trainer_mod
    from phasescope.train.train_one import train_one

    orig = trainer_mod.NonFiniteGuard.on_pre_optimizer_step

    def poisoned(self, args, state, control, **kwargs):
        if state.global_step + 1 == 2:
            next(p for p in self.trainer.model.parameters() if p.grad is not None).grad[0] = float("inf")
        return orig(self, args, state, control, **kwargs)

    monkeypatch.setattr(trainer_mod.NonFiniteGuard, "on_pre_optimizer_step", poisoned)
    with pytest.raises(NonFiniteError, match="the gradient is not finite at step 2"):
        train_one(load_config(None, resumable), "chord_phi", 0, tmp_path, threads=1)


def test_out_of_memory_names_the_settings_to_lower(tmp_path, tiny_cache, resumable, monkeypatch):
    from phasescope.train.train_one import train_one
    from phasescope.train.trainer import PhaseTrainer

    def oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(PhaseTrainer, "train", oom)
    with pytest.raises(PhasescopeError) as info:
        train_one(load_config(None, resumable), "chord_phi", 0, tmp_path, threads=1)
    msg = str(info.value)
    for setting in (
        "train.prompts_per_step (2)",
        "train.num_generations (2)",
        "train.expert_batch_size (4)",
        "train.max_completion_length (24)",
        "model.gradient_checkpointing=true",
    ):
        assert setting in msg
    assert msg.startswith("out of accelerator memory at step 1") and "\n" not in msg
