"""PhaseCallback in a real transformers.Trainer on a tiny model on the CPU.

The run is built to overfit: 32 training sequences from a Zipf distribution over 32 tokens,
evaluated on 32 others from the same distribution, with a constant learning rate of 3e-3. The
evaluation loss falls while the model learns the token frequencies (to its minimum at about step
24) and then rises steadily as it memorises the training sequences.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("transformers")

from phasescope.errors import UsageError  # noqa: E402

VOCAB = 32


def _data(n: int, rng: np.random.Generator):
    from datasets import Dataset

    p = 1.0 / np.arange(1, VOCAB + 1)
    rows = [rng.choice(VOCAB, size=24, p=p / p.sum()).tolist() for _ in range(n)]
    return Dataset.from_dict({"input_ids": rows, "labels": rows})


def _trainer(tmp_path, callbacks, max_steps: int = 400, save_steps: int = 0, **extra):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Trainer, TrainingArguments

    rng = np.random.default_rng(0)
    train, evals = _data(32, rng), _data(32, rng)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, learning_rate=3e-3,
        lr_scheduler_type="constant", warmup_steps=0, max_steps=max_steps, eval_strategy="steps",
        eval_steps=4, logging_steps=4, save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 10_000, report_to=[], use_cpu=True, disable_tqdm=True, seed=0, **extra,
    )  # fmt: skip
    return Trainer(
        model=Qwen2ForCausalLM(config),
        args=args,
        train_dataset=train,
        eval_dataset=evals,
        callbacks=callbacks,
    )


def _train(tmp_path, callbacks, max_steps: int = 400, save: bool = False):
    trainer = _trainer(tmp_path, callbacks, max_steps, 10_000 if save else 0)
    trainer.train()
    return trainer


def _eval_curve(trainer) -> tuple[list[int], list[float]]:
    rows = [h for h in trainer.state.log_history if "eval_loss" in h]
    return [h["step"] for h in rows], [h["eval_loss"] for h in rows]


class _Recorder:
    """A callback standing in for a W&B or TensorBoard reporter: the rows its on_log receives."""

    def __init__(self):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                outer.rows.append(dict(logs or {}))

        self.rows: list[dict] = []
        self.callback = _CB()


def test_stops_a_real_trainer_at_the_confirmed_overfit_and_logs_phase_values(tmp_path):
    from phasescope import PhaseCallback

    before, after = _Recorder(), _Recorder()
    cb = PhaseCallback(on_overfit="stop")
    trainer = _train(tmp_path, [before.callback, cb, after.callback])
    steps, losses = _eval_curve(trainer)
    best_step = steps[int(np.argmin(losses))]
    assert 16 <= best_step <= 32  # the run really turns where this test says it does
    overfit = [e for e in cb.events if e.label == "overfit"]
    assert len(overfit) == 1
    assert abs(overfit[0].start_step - best_step) <= 8  # within two evaluations of the minimum
    # Stopped at the evaluation that confirmed it, far before max_steps.
    assert trainer.state.global_step == overfit[0].confirmed_step < 120
    # A callback listed after it receives the phase values in the evaluation's own row.
    evals = [r for r in after.rows if "eval_loss" in r]
    assert len(evals) == len(steps) and all("phase/code" in r for r in evals)
    last = evals[-1]
    assert last["phase/code"] == 4 and last["phase/overfit_start_step"] == overfit[0].start_step
    assert last["phase/overfit_confirmed_step"] == overfit[0].confirmed_step
    assert last["phase/best_step"] == best_step and last["phase/overfit_lag"] == overfit[0].lag
    assert cb.rows[-1] == {
        "step": trainer.state.global_step,
        **{k: v for k, v in last.items() if "phase/" in k},
    }
    # Nothing written behind the trainer's back: its stored rows and earlier reporters' are its own.
    assert not any(k.startswith("phase/") for h in trainer.state.log_history for k in h)
    assert not any(k.startswith("phase/") for r in before.rows for k in r)


def test_attach_puts_it_ahead_of_the_reporters_so_they_log_the_phase_values(tmp_path):
    from phasescope import PhaseCallback

    reporter = _Recorder()
    trainer = _trainer(
        tmp_path, [reporter.callback], max_steps=40
    )  # a reporter listed first, as report_to does
    cb = PhaseCallback().attach(trainer)
    assert trainer.callback_handler.callbacks[0] is cb
    assert PhaseCallback.attach(cb, trainer).attach(trainer) is cb  # twice: still one copy
    assert sum(c is cb for c in trainer.callback_handler.callbacks) == 1
    trainer.train()
    evals = [r for r in reporter.rows if "eval_loss" in r]
    assert evals and all("phase/code" in r and "phase/best_value" in r for r in evals)
    assert evals[-1]["phase/best_value"] == min(r["eval_loss"] for r in evals)


def test_save_best_keeps_the_best_checkpoint_and_stops(tmp_path):
    from phasescope import PhaseCallback

    cb = PhaseCallback(on_overfit="save_best")
    trainer = _train(tmp_path, [cb], save=True)
    steps, losses = _eval_curve(trainer)
    best_step = steps[int(np.argmin(losses))]
    assert cb.best_checkpoint == str(tmp_path / "out" / f"checkpoint-{best_step}")
    assert (tmp_path / "out" / f"checkpoint-{best_step}").is_dir()
    assert trainer.state.global_step < 120


def test_a_resumed_run_restores_the_detector_and_continues_the_detection(tmp_path):
    """Checkpointed as an ExportableState (trainer_state.json), rebuilt by transformers on resume."""
    from transformers import TrainerCallback

    from phasescope import PhaseCallback

    whole = PhaseCallback(on_overfit="warn", min_points=6)
    _trainer(tmp_path / "whole", [whole], max_steps=80).train()
    assert whole.events[-1].label == "overfit" and whole.events[-1].confirmed_step > 32  # after the resume

    first = PhaseCallback(on_overfit="warn", min_points=6)
    _trainer(tmp_path, [first], max_steps=32, save_steps=32).train()
    checkpoint = tmp_path / "out" / "checkpoint-32"
    stored = json.loads((checkpoint / "trainer_state.json").read_text())["stateful_callbacks"][
        "PhaseCallback"
    ]
    assert stored == {"args": {"metric": "eval_loss", "direction": None, "on_overfit": "warn", "eval_n": None,
                               "min_points": 6},
                      "attributes": {"phase_state": first.phase_state, "best_checkpoint": None}}  # fmt: skip
    assert len(first.detector.steps) == 8 and first.phase_state["detector"]["fit_range"] > 0  # it had fitted

    class Probe(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            (self.restored,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, PhaseCallback)]
            self.at_begin = self.restored.phase_state

    probe, passed = Probe(), PhaseCallback(on_overfit="warn", min_points=6)
    trainer = _trainer(tmp_path, [passed, probe], max_steps=80, restore_callback_states_from_checkpoint=True)
    trainer.train(resume_from_checkpoint=str(checkpoint))
    assert probe.restored is not passed and not passed.detector.steps  # transformers rebuilt it
    assert probe.at_begin == first.phase_state  # the detector's state after resume is the one before
    assert probe.restored.events == whole.events  # and it detects as if never interrupted
    assert probe.restored.phase_state == whole.phase_state


def test_warn_trains_on_and_says_so(tmp_path, caplog):
    from phasescope import PhaseCallback

    cb = PhaseCallback(on_overfit="warn")
    with caplog.at_level(logging.WARNING, logger="phasescope"):
        trainer = _train(tmp_path, [cb], max_steps=100)
    assert trainer.state.global_step == 100
    assert any(e.label == "overfit" for e in cb.events)
    assert any("overfit confirmed at step" in r.getMessage() for r in caplog.records)


def test_unknown_action_is_a_one_line_usage_error():
    from phasescope import PhaseCallback

    with pytest.raises(
        UsageError, match=r"unknown on_overfit action 'halt'; choose one of warn, stop, save_best"
    ):
        PhaseCallback(on_overfit="halt")


def test_direction_comes_from_the_metric_name():
    from phasescope import PhaseCallback

    assert PhaseCallback().detector.direction == "lower"
    assert PhaseCallback(metric="eval_accuracy").detector.direction == "higher"
    assert PhaseCallback(metric="reward", direction="lower").detector.direction == "lower"


def test_import_phasescope_does_not_import_torch():
    code = (
        "import sys, phasescope; assert 'torch' not in sys.modules, 'torch imported';"
        "from phasescope import PhaseCallback; assert PhaseCallback.__name__ == 'PhaseCallback'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_works_unchanged_in_trl_sft_trainer(tmp_path):
    """The same callback in TRL's SFTTrainer: it reads eval_loss and writes phase/* into its rows."""
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from phasescope import PhaseCallback
    from tests.fixtures.tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "model")
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, 9)

    def texts(n):
        return Dataset.from_dict(
            {"text": ["".join(rng.choice(list("abcdefgh"), 20, p=p / p.sum())) for _ in range(n)]}
        )

    args = SFTConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, learning_rate=3e-3, max_steps=24,
        eval_strategy="steps", eval_steps=2, logging_steps=2, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True, max_length=32, seed=0,
    )  # fmt: skip
    cb = PhaseCallback(on_overfit="stop")
    trainer = SFTTrainer(
        model=str(model_dir), args=args, train_dataset=texts(16), eval_dataset=texts(8), callbacks=[cb]
    )
    trainer.train()
    rows = [h for h in trainer.state.log_history if "eval_loss" in h]
    assert len(rows) == 12 and len(cb.detector.steps) == 12 and len(cb.rows) == 12
    assert [r["step"] for r in cb.rows] == [h["step"] for h in rows]
    assert all("phase/code" in r and "phase/best_value" in r for r in cb.rows)
    assert cb.rows[-1]["phase/best_value"] == pytest.approx(min(h["eval_loss"] for h in rows))
