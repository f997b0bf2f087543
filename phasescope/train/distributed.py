"""Running one arm on several processes (Accelerate: DDP, DeepSpeed ZeRO, FSDP; gloo on CPU).

The batch sizes in the config are *global*: `train.prompts_per_step × train.num_generations` rollouts
and `train.expert_batch_size` expert rows per update, whatever the number of processes. Each process
takes 1 / (processes × gradient_accumulation_steps) of both per micro-batch, so a 2-process run
computes the same update as a 1-process run on the same global batch. Only the main process
(global rank 0) writes to the run directory.
"""

from __future__ import annotations

import os
from typing import Any

from phasescope.errors import UsageError


def world_size() -> int:
    """Processes of this run (WORLD_SIZE, set by accelerate launch / torchrun / deepspeed), 1 alone."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def process_rank() -> int:
    """Global rank of this process (RANK), 0 alone."""
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    return process_rank() == 0


def per_device_rows(rows: int, expert_rows: int, accum: int, procs: int | None = None) -> int:
    """Rollouts per process per micro-batch; a UsageError when the global batches do not split evenly."""
    procs = procs or world_size()
    parts = procs * accum
    if rows % parts:
        raise UsageError(
            f"train.prompts_per_step × train.num_generations = {rows} rollouts do not split over "
            f"{procs} process(es) × {accum} accumulation step(s); make it a multiple of {parts}"
        )
    if expert_rows and expert_rows % parts:
        raise UsageError(
            f"{expert_rows} expert rows per update (train.expert_batch_size, capped by the expert set) do "
            f"not split over {procs} process(es) × {accum} accumulation step(s); make it a multiple of {parts}"
        )
    return rows // parts


class NullWriter:
    """Stands in for a MetricsWriter on processes other than the main one: writes nothing."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
