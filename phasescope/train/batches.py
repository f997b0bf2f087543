"""What an update trains on, in a reproducible order: the expert rows and the RL prompts' sampler.

`ExpertSet` encodes the expert rows of the epoch-wise stream (`expert_order.py`); `EpochRepeatSampler`
makes TRL's prompt order a pure function of (seed, epoch). Both keep a resumed run on the rows of the
uninterrupted one. Used by `PhaseTrainer` (`trainer.py`).
"""

from __future__ import annotations

import torch
from trl.trainer.utils import RepeatSampler

from phasescope.lm import encode_from_start
from phasescope.train.expert_order import rows_at


class ExpertSet:
    """Expert (prompt, response) pairs; `batch(position)` encodes the rows of the epoch-wise stream
    (`expert_order.py`) from `position` on."""

    def __init__(self, tokenizer, prompts: list[str], responses: list[str], batch_size: int, seed: int):
        if not prompts:
            raise ValueError("the expert set is empty")
        self.tokenizer = tokenizer
        self.prompts, self.responses = list(prompts), list(responses)
        self.batch_size = min(batch_size, len(self.prompts))
        self.seed = seed

    def indices(self, position: int) -> list[int]:
        return rows_at(position, self.batch_size, len(self.prompts), self.seed)

    def batch(self, position: int, part: int = 0, parts: int = 1) -> dict[str, torch.Tensor]:
        """An update's rows, or share `part` of `parts` of them (one process's share of one micro-batch)."""
        idx = self.indices(position)[part::parts]
        # Rows from position 0: the SFT term sees the positions that generation and evaluation use.
        return encode_from_start(
            self.tokenizer, [self.prompts[i] for i in idx], [self.responses[i] for i in idx]
        )


class EpochRepeatSampler(RepeatSampler):
    """TRL's RepeatSampler whose order in epoch e is a pure function of (seed, e).

    TRL's sampler draws each epoch's permutation from one generator that lives as long as the trainer,
    so a run resumed in epoch e > 0 would replay epoch 0's order. Here `set_epoch(e)` (called by the
    Trainer / Accelerate each epoch) reseeds and skips e permutations: an uninterrupted run sees
    exactly TRL's order, and a resumed one sees the same.
    """

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle and self.seed is not None:
            self.generator.manual_seed(self.seed)
            for _ in range(epoch):
                torch.randperm(self.num_samples, generator=self.generator)
