"""Shared helpers for the reliability suite: tiny resumable runs and curve comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Ten steps over an RL prompt set of 8 (4 updates per epoch): a resume at step 6 lands mid-epoch 1,
# so it exercises TRL's batch skipping and the per-epoch data order as well as the checkpoint.
RESUMABLE = ["train.max_steps=10", "train.save_steps=3", "world.n_rl_prompts=8"]

# Wall-clock metrics differ between any two runs; everything else must match exactly.
VOLATILE = ("time/", "perf/")


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def curve(path: Path) -> list[dict]:
    """metrics.jsonl rows without wall-clock metrics."""
    return [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in rows(path)]


@pytest.fixture
def resumable(tiny_world):
    """`--set` overrides: the tiny world, 10 steps, a checkpoint every 3 steps, 4 updates per epoch."""
    return [*tiny_world, *RESUMABLE]
