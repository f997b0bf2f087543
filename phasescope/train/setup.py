"""What training one arm needs, whatever the model: one `Setup`, built by `world_setup` or `hf_setup`.

`build_setup(cfg, seed)` picks the embedded world (no `model.model_name_or_path`) or a real Hugging Face
model with real data (`train/real.py`); everything after it (`grpo_args`, the trainer, the logs)
reads the `Setup` only, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasescope.config import Config


@dataclass
class Setup:
    model: Any
    tokenizer: Any
    train_dataset: Any
    """RL prompts ("prompt") with what the reward reads ("answer")."""
    reward_funcs: list[Callable]
    expert: Any
    """The expert set (`trainer.ExpertSet`), or None when there are no expert rows."""
    evaluator: Callable[[Any, int], dict[str, float]]
    """(model, step) → eval/* metrics on the held-out sets."""
    probe_seed: int
    """Chooses the probe's expert examples: the same for every arm and seed of an experiment."""
    grpo_kwargs: dict[str, Any] = field(default_factory=dict)
    """Precision and generation settings for GRPOConfig (bf16/fp16, vLLM)."""
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra PhaseTrainer arguments (a peft_config for LoRA)."""
    data_report: dict[str, Any] | None = None
    """Sizes, skips and overlaps of real data (written to data.json), None for the world."""


def expert_set(tokenizer, prompts: list[str], responses: list[str], cfg: Config, seed: int):
    """The arm's expert set (train.expert_batch_size rows per update), or None without expert rows."""
    from phasescope.train.trainer import ExpertSet

    return ExpertSet(tokenizer, prompts, responses, cfg.train.expert_batch_size, seed) if prompts else None


def world_setup(cfg: Config, seed: int) -> Setup:
    """The embedded world: its cached base model, RL prompts, exact-answer reward and evaluator."""
    from datasets import Dataset

    from phasescope.train.evaluate import make_world_evaluator
    from phasescope.world import build_world
    from phasescope.world.base import load_base
    from phasescope.world.task import parse_answer

    tc = cfg.train
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

    evaluator = make_world_evaluator(
        tokenizer, world.splits, tc.max_completion_length, tc.temperature, cfg.world.digits, seed
    )
    return Setup(
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_ds,
        reward_funcs=[correctness],
        expert=expert_set(tokenizer, *world.expert_pairs, cfg, seed),
        evaluator=evaluator,
        probe_seed=cfg.world.seed,
        # The embedded world trains in fp32: TRL's GRPOConfig defaults to bf16 autocast, which on a CPU
        # without bf16 matrix units is several times slower and less precise.
        grpo_kwargs={"bf16": False, "fp16": False},
    )


def build_setup(cfg: Config, arm_name: str, seed: int, out_dir: Path | None = None) -> Setup:
    """The Setup for `arm_name`; a real model's data report goes to `out_dir`/data.json when given."""
    if not cfg.model.model_name_or_path:
        return world_setup(cfg, seed)
    from phasescope.train.real import hf_setup, write_data_report

    setup = hf_setup(cfg, arm_name, seed)
    if out_dir is not None:
        write_data_report(out_dir, setup.data_report or {})
    return setup
