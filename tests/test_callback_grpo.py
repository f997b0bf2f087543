"""PhaseCallback unchanged in TRL's GRPOTrainer, on the tiny world's base model on the CPU.

GRPO logs ``reward`` (the mean reward of the step's rollouts) on every step. The reward function
here ignores the completions and returns a planted curve of the call count — it climbs for 24
steps and then falls — so the test knows when the reward overfits without depending on what a
tiny model learns. The callback watches ``reward`` (higher is better, from the name) and stops.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trl")

TURN = 24  # the planted reward's best step


def _planted_reward():
    calls = {"n": 0}
    noise = np.random.default_rng(0).normal(0.0, 0.01, 1000)

    def reward(prompts, completions, **kwargs):
        step = calls["n"] + 1  # one call per optimizer step (one generation batch per step)
        calls["n"] += 1
        level = 0.2 + 0.02 * min(step, TURN) - 0.02 * max(0, step - TURN) + noise[step]
        return [float(level)] * len(completions)

    return reward


def test_grpo_trainer_logs_phase_values_and_stops_at_the_confirmed_reward_overfit(
    tmp_path, tiny_cache, tiny_world
):
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from phasescope import PhaseCallback
    from phasescope.config import load_config
    from phasescope.world import build_world
    from phasescope.world.base import load_base

    torch.set_num_threads(1)
    cfg = load_config(None, tiny_world)
    model, tok = load_base(build_world(cfg.world, log=lambda *_: None).base_path)
    prompts = Dataset.from_dict({"prompt": [f"{a}+{a}=" for a in range(10, 42)]})
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), max_steps=80, learning_rate=1e-5, per_device_train_batch_size=4,
        num_generations=2, max_completion_length=4, logging_steps=1, beta=0.0, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0, bf16=False, fp16=False,
    )  # fmt: skip
    cb = PhaseCallback(metric="reward", on_overfit="stop")
    trainer = GRPOTrainer(
        model=model, reward_funcs=_planted_reward(), args=args, train_dataset=prompts,
        processing_class=tok, callbacks=[cb],
    )  # fmt: skip
    trainer.train()
    assert cb.detector.direction == "higher"
    overfit = [e for e in cb.events if e.label == "overfit"]
    assert len(overfit) == 1 and abs(overfit[0].start_step - TURN) <= 3
    assert trainer.state.global_step == overfit[0].confirmed_step < 80
    rows = [h for h in trainer.state.log_history if "reward" in h]
    assert [r["step"] for r in cb.rows] == [h["step"] for h in rows] and cb.rows[-1]["phase/code"] == 4
