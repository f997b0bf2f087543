"""The embedded world: task, tokenizer, tiny model, cached base model and expert data in one object.

`build_world(cfg.world)` is all the trainer needs when no real model is configured: it returns
the problem splits, the base model's path, the expert demonstrations, the RL prompts and an
evaluator for the held-out curves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from phasescope.world.task import Problem, Splits, expert_responses, make_splits


@dataclass
class World:
    splits: Splits
    base_path: Path
    expert_slip_rate: float = 0.0
    seed: int = 0

    @property
    def expert_pairs(self) -> tuple[list[str], list[str]]:
        expert = self.splits.expert
        return [p.prompt for p in expert], expert_responses(expert, self.expert_slip_rate, self.seed)

    @property
    def rl_problems(self) -> list[Problem]:
        return self.splits.rl


def draw_world(world_cfg, draw: int):
    """World draw `draw` of `world_cfg` (`phasescope run --world-seeds`): the same world with
    `world.seed` + draw, so its base, expert set and slips, RL prompts and eval sets are all redrawn.
    Draw 0 is `world_cfg` itself (the shipped base for the default world)."""
    return world_cfg if draw == 0 else replace(world_cfg, seed=world_cfg.seed + draw)


def draw_config(cfg, draw: int):
    """The whole config with `cfg.world` replaced by its draw `draw` (`draw_world`)."""
    return cfg if draw == 0 else replace(cfg, world=draw_world(cfg.world, draw))


def world_splits(world_cfg) -> Splits:
    return make_splits(
        world_cfg.seed,
        n_pretrain_add=world_cfg.n_pretrain,
        n_pretrain_general=world_cfg.n_pretrain,
        n_expert=world_cfg.n_expert,
        n_rl=world_cfg.n_rl_prompts,
        n_eval=world_cfg.n_eval,
        digits=world_cfg.digits,
        general_op={"max": ">", "subtraction": "-"}[world_cfg.general_skill],
    )


def build_world(world_cfg, log=print) -> World:
    # Not at the top: importing `phasescope.world.task` (the preflight does, torch-free) runs this
    # package's __init__ first, and world.base imports torch.
    from phasescope.world.base import base_model_path

    splits = world_splits(world_cfg)
    base = base_model_path(world_cfg, splits, log=log)
    return World(splits, base, expert_slip_rate=world_cfg.expert_slip_rate, seed=world_cfg.seed)
