"""What training one arm needs, whatever the model: one `Setup`, built by `world_setup` (here) or
`hf_setup` (`train/real.py`).

`train_one.build_setup` picks the embedded world (no `model.model_name_or_path`) or a real Hugging Face
model with real data; everything after it (`grpo_args`, the trainer, the logs) reads the `Setup`
only, so the two paths cannot drift apart. This module does not import `train/real.py` (which
imports `Setup` from here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset

from phasescope.config import Config
from phasescope.train.evaluate import make_world_evaluator
from phasescope.train.paired import paired_dataset
from phasescope.train.trainer import ExpertSet
from phasescope.world import build_world
from phasescope.world.base import load_base
from phasescope.world.task import parse_answer


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
    paired_dataset: Any = None
    """The RL prompts of a per-prompt arm (LUFFY, SRFT, HPT, ReLIFT): the expert set's problems, row i
    being expert row i (`train/paired.py`); None when there is no expert set."""


def expert_set(tokenizer, prompts: list[str], responses: list[str], cfg: Config, seed: int):
    """The arm's expert set (train.expert_batch_size rows per update), or None without expert rows."""
    return ExpertSet(tokenizer, prompts, responses, cfg.train.expert_batch_size, seed) if prompts else None


def world_setup(cfg: Config, seed: int) -> Setup:
    """The embedded world: its cached base model, RL prompts, exact-answer reward and evaluator."""
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

    expert_problems = world.splits.expert
    prompts, responses = world.expert_pairs
    paired = paired_dataset(
        prompts,
        [p.answer for p in expert_problems],
        [float(parse_answer(r) == p.answer) for r, p in zip(responses, expert_problems)],
    )
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
        paired_dataset=paired,
    )
