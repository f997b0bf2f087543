"""The order in which updates draw expert rows: epoch by epoch, as an SFT trainer's shuffled loader.

The expert rows form one stream: the permutation of epoch 0, then that of epoch 1, and so on, each
a pure function of (seed, epoch). An update that scores expert rows takes the next `batch_size` rows
of the stream, so every row is seen once before any row is seen again. A batch that straddles the
end of an epoch takes the rest of that epoch and the start of the next (a row can then appear twice
in that one batch, only when it ends one epoch and opens the next).

The stream position of update `step` (numbered from 1, `arms.py`) is `batch_size` times the number
of earlier updates whose μ is > 0. It is a pure function of the step and the arm, so a resumed run,
whose checkpoint holds the step, draws exactly the rows of the uninterrupted run. A schedule whose μ
depends on training signals is counted by the μ it may take without them (`arms.mu_at(step, arm)`).
"""

from __future__ import annotations

import torch

from phasescope.arms import mu_at


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The order of the n expert rows in `epoch`: a permutation seeded by (seed, epoch)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def rows_at(position: int, count: int, n: int, seed: int) -> list[int]:
    """The `count` rows of the stream from `position` on (indices into the expert set of n rows)."""
    rows: list[int] = []
    while len(rows) < count:
        epoch, offset = divmod(position, n)
        take = epoch_permutation(n, seed, epoch)[offset : offset + count - len(rows)]
        rows += take
        position += len(take)
    return rows


def stream_position(step: int, arm, batch_size: int) -> int:
    """Rows drawn before update `step`: batch_size per earlier update (1 .. step − 1) with μ > 0."""
    return batch_size * sum(1 for s in range(1, step) if mu_at(s, arm) > 0.0)
