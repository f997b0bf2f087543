"""TRL's GRPOConfig for one arm, as a pure function of the config, the arm, the seed and the Setup.

Every TRL setting phasescope relies on is written out here, once: the constant learning rate (the
trainer's own scheduler applies warm-up and the SFT learning rate), no KL term (β = 0), the group-
normalised advantages, one log row and (optionally) one checkpoint per N optimizer steps. The `[trl]`
table adds any other GRPOConfig field and may change `defaults` below (weight decay, top-k/top-p,
reward scaling); the fields phasescope sets from its own config are never overridden
(`phasescope/trl_table.py` refuses them at config load).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from trl import GRPOConfig

from phasescope.config import ArmConfig, Config
from phasescope.errors import UsageError
from phasescope.runlog.checkpoint import checkpoint_root
from phasescope.train.distributed import per_device_rows
from phasescope.train.setup import Setup
from phasescope.trl_table import unknown_fields


def grpo_args(cfg: Config, arm: ArmConfig, seed: int, out_dir: Path, setup: Setup):
    """The GRPOConfig that trains `arm` with `seed` into `out_dir` (checkpoints under out_dir/checkpoint)."""
    tc = cfg.train
    # Global batches (config) → per-process micro-batches; the same update on 1 or N processes.
    rows_per_device = per_device_rows(
        tc.prompts_per_step * tc.num_generations,
        setup.expert.batch_size if setup.expert is not None else 0,
        tc.gradient_accumulation_steps,
    )
    owned = dict(
        output_dir=str(checkpoint_root(out_dir)),
        max_steps=tc.max_steps,
        learning_rate=arm.lr or tc.learning_rate,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=tc.warmup_steps,
        max_grad_norm=tc.max_grad_norm,
        per_device_train_batch_size=rows_per_device,
        gradient_accumulation_steps=tc.gradient_accumulation_steps,
        num_generations=tc.num_generations,
        max_completion_length=tc.max_completion_length,
        temperature=tc.temperature,
        beta=0.0,
        epsilon=tc.epsilon,
        logging_steps=1,
        save_strategy="steps" if tc.save_steps else "no",
        save_steps=tc.save_steps or 500,
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        remove_unused_columns=False,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        **setup.grpo_kwargs,
    )
    # phasescope's choices where TRL's differ; `[trl]` may change these (check_trl_table refused the rest).
    defaults = dict(weight_decay=0.0, top_k=0, top_p=1.0, scale_rewards="group", dataloader_num_workers=0)
    check_trl_fields(cfg.trl)
    return GRPOConfig(**{**defaults, **cfg.trl, **owned})


def check_trl_fields(table: dict) -> None:
    """Every `[trl]` key must be a GRPOConfig field (a typo would otherwise be a TypeError deep in a worker)."""
    unknown = unknown_fields(table, {f.name for f in dataclasses.fields(GRPOConfig)})
    if unknown:
        raise UsageError(f"[trl] has keys that are not GRPOConfig fields: {', '.join(unknown)}")
