"""PhaseCallback(on_overfit="stop") in a plain transformers Trainer whose eval loss is best at its
first evaluation: a tiny GPT-2 (built from a config) memorises 16 random token sequences and is
evaluated every 5 steps on 16 other random sequences. Random tokens have nothing to learn that
carries over, so the held-out loss is lowest at the first evaluation (step 5: the model has already
learned the uniform token frequencies by then) and rises for good as it memorises.

The trainer does not evaluate at step 0, so "worse than the first evaluation, never recovering" is
not a shift (that needs the untrained model's level) but an overfit from an early best, and the
callback must stop on it. (Before issue 22 it read a shift and trained to max_steps.)
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("transformers")

VOCAB, LENGTH, MAX_STEPS = 64, 16, 300


def _trainer(tmp_path, callback):
    import torch
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    rng = np.random.default_rng(0)

    def data(n):
        rows = rng.integers(0, VOCAB, size=(n, LENGTH)).tolist()
        return Dataset.from_dict({"input_ids": rows, "labels": rows})

    train, evals = data(16), data(16)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=32, n_layer=1, n_head=2)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, learning_rate=3e-3,
        lr_scheduler_type="constant", warmup_steps=0, max_steps=MAX_STEPS, eval_strategy="steps",
        eval_steps=5, logging_steps=5, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    return Trainer(
        model=GPT2LMHeadModel(config),
        args=args,
        train_dataset=train,
        eval_dataset=evals,
        callbacks=[callback],
    )


def test_stop_ends_a_memorising_run_whose_best_is_its_first_evaluation(tmp_path, caplog):
    from phasescope import PhaseCallback
    from phasescope.analysis.phases import EARLY_BEST

    cb = PhaseCallback(on_overfit="stop")
    trainer = _trainer(tmp_path, cb)
    with caplog.at_level(logging.WARNING, logger="phasescope"):
        trainer.train()
    rows = [h for h in trainer.state.log_history if "eval_loss" in h]
    steps, losses = [h["step"] for h in rows], [h["eval_loss"] for h in rows]
    # The run is what this test says: best at the first evaluation, and rising from there.
    assert steps[0] == 5 and int(np.argmin(losses)) <= 1
    assert losses[-1] > losses[0] + 0.5
    overfit = [e for e in cb.events if e.label == "overfit"]
    assert len(overfit) == 1 and overfit[0].note == EARLY_BEST
    assert overfit[0].start_step <= 10  # from the first evaluation (or the one after it)
    assert not any(e.label == "shift" for e in cb.events)
    # Stopped at the confirming evaluation, well before max_steps.
    assert trainer.state.global_step == overfit[0].confirmed_step <= MAX_STEPS // 2
    assert "early best" in caplog.text
