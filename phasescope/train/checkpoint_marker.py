"""The completeness marker of a checkpoint, written when transformers has saved it.

A checkpoint directory counts (for ``--resume``) only once ``runlog.checkpoint.mark_complete`` has
written its marker, after every file of it is on disk; the older checkpoints are deleted then. This
runs in the public ``on_save`` event, which transformers calls right after each save, instead of an
override of the private ``Trainer._save_checkpoint``.
"""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback

from phasescope.runlog.checkpoint import mark_complete, prune_checkpoints


class CheckpointMarker(TrainerCallback):
    """After HF saves a checkpoint (``on_save`` follows every save): the completeness marker, then
    every other checkpoint is deleted. Every rank writes its own files (rng_state_<rank>.pth, ZeRO/FSDP
    shards), so the marker waits for all of them."""

    def __init__(self, trainer):  # any transformers Trainer: its accelerator syncs the ranks
        self.trainer = trainer

    def on_save(self, args, state, control, **kwargs):
        self.trainer.accelerator.wait_for_everyone()
        if args.should_save:
            # phasescope runs no hyperparameter search: a checkpoint goes straight under output_dir
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            mark_complete(path, state.global_step)
            prune_checkpoints(path.parent, keep=path)
