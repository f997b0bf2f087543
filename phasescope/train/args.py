"""TRL's GRPOConfig for one arm, as a pure function of the config, the arm, the seed and the Setup.

Every TRL setting phasescope relies on is written out here, once: the constant learning rate (the
trainer's own scheduler applies warm-up and the SFT learning rate), no KL term (β = 0), the group-
normalised advantages, one log row and (optionally) one checkpoint per N optimizer steps.
"""

from __future__ import annotations

from pathlib import Path

from phasescope.config import ArmConfig, Config
from phasescope.runlog.checkpoint import checkpoint_root
from phasescope.train.distributed import per_device_rows
from phasescope.train.setup import Setup


def grpo_args(cfg: Config, arm: ArmConfig, seed: int, out_dir: Path, setup: Setup):
    """The GRPOConfig that trains `arm` with `seed` into `out_dir` (checkpoints under out_dir/checkpoint)."""
    import torch
    from trl import GRPOConfig

    tc = cfg.train
    # Global batches (config) → per-process micro-batches; the same update on 1 or N processes.
    rows_per_device = per_device_rows(
        tc.prompts_per_step * tc.num_generations,
        setup.expert.batch_size if setup.expert is not None else 0,
        tc.gradient_accumulation_steps,
    )
    return GRPOConfig(
        output_dir=str(checkpoint_root(out_dir)),
        max_steps=tc.steps,
        learning_rate=arm.lr or tc.lr,
        lr_scheduler_type="constant_with_warmup",
        warmup_steps=tc.warmup_steps,
        weight_decay=0.0,
        max_grad_norm=tc.grad_clip,
        per_device_train_batch_size=rows_per_device,
        gradient_accumulation_steps=tc.gradient_accumulation_steps,
        num_generations=tc.num_generations,
        max_completion_length=tc.max_completion_length,
        temperature=tc.temperature,
        top_k=0,
        top_p=1.0,
        beta=0.0,
        epsilon=tc.clip_range,
        scale_rewards="group",
        logging_steps=1,
        save_strategy="steps" if tc.checkpoint_every else "no",
        save_steps=tc.checkpoint_every or 500,
        report_to="none",
        seed=seed,
        data_seed=seed,
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        **setup.grpo_kwargs,
    )
