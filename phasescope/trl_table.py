"""The `[trl]` table of an experiment: GRPOConfig fields passed through as they are, and which are refused.

phasescope builds TRL's `GRPOConfig` itself (`train/args.py`). A TRL user may want any other field
(`weight_decay`, `top_k`, `scale_rewards`, `num_iterations`, `generation_kwargs`, ...): `[trl]` passes
it through. Two kinds of field are refused with a one-line error, because setting them would
silently do nothing or contradict the experiment:

- fields phasescope sets from its own config (`OWNED`, with the key to use instead);
- fields only TRL's own loss, reference model or scheduler reads (`IGNORED`): PhaseTrainer replaces
  the loss by L = (1 − μ)·L_GRPO + μ·L_SFT (clipped surrogate, token mean, no KL) and the scheduler
  by its own (constant after warm-up, `train.sft_lr` for pure-SFT updates). `beta = 0.0` (TRL's
  default, no KL) is accepted so that a config can state it.

No torch here: the config is validated before anything heavy is imported. Whether a key is a
GRPOConfig field at all is checked where GRPOConfig is imported (`unknown_fields`).
"""

from __future__ import annotations

from typing import Any

from phasescope.errors import UsageError

OWNED: dict[str, str] = {
    "output_dir": "the run directory (--out/--name)",
    "max_steps": "train.max_steps",
    "learning_rate": "train.learning_rate (and train.sft_lr, arms.<arm>.lr, arms.<arm>.sft_lr)",
    "warmup_steps": "train.warmup_steps",
    "max_grad_norm": "train.max_grad_norm",
    "epsilon": "train.epsilon",
    "per_device_train_batch_size": "train.prompts_per_step × train.num_generations",
    "gradient_accumulation_steps": "train.gradient_accumulation_steps",
    "num_generations": "train.num_generations",
    "max_completion_length": "train.max_completion_length",
    "temperature": "train.temperature",
    "save_strategy": "train.save_steps",
    "save_steps": "train.save_steps",
    "logging_steps": "nothing: phasescope logs every step",
    "eval_strategy": "train.eval_steps (phasescope evaluates with its own callback)",
    "eval_steps": "train.eval_steps",
    "report_to": "experiment.wandb",
    "seed": "experiment.seeds",
    "data_seed": "experiment.seeds",
    "use_cpu": "nothing: the accelerator is used when there is one",
    "disable_tqdm": "nothing: `phasescope run` shows its own progress",
    "remove_unused_columns": "nothing: the expert rows need their columns",
    "gradient_checkpointing": "model.gradient_checkpointing",
    "bf16": "model.dtype",
    "fp16": "model.dtype",
    "use_vllm": "model.use_vllm",
    "vllm_mode": "model.vllm_mode",
    "vllm_gpu_memory_utilization": "model.vllm_gpu_memory_utilization",
}

_LOSS = "PhaseTrainer's loss (clipped GRPO surrogate, token mean, mixed with SFT by μ) does not read it"
_SCHED = "PhaseTrainer has its own schedule (constant after train.warmup_steps; train.sft_lr when μ = 1)"
IGNORED: dict[str, str] = {
    **dict.fromkeys(
        [
            "loss_type",
            "epsilon_high",
            "delta",
            "importance_sampling_level",
            "sapo_temperature_neg",
            "sapo_temperature_pos",
            "vespo_k_pos",
            "vespo_lambda_pos",
            "vespo_k_neg",
            "vespo_lambda_neg",
            "top_entropy_quantile",
            "entropy_coef",
            "use_adaptive_entropy",
            "entropy_coef_min",
            "entropy_coef_max",
            "entropy_coef_delta",
            "entropy_target",
            "off_policy_mask_threshold",
            "use_liger_kernel",
        ],
        _LOSS,
    ),
    **dict.fromkeys(
        ["beta", "sync_ref_model", "ref_model_mixup_alpha", "ref_model_sync_steps", "use_bias_correction_kl"],
        "the loss has no KL term (β = 0), so there is no reference model",
    ),
    **dict.fromkeys(["lr_scheduler_type", "lr_scheduler_kwargs", "warmup_ratio"], _SCHED),
}

ACCEPTED: dict[str, Any] = {"beta": 0.0, "loss_type": "dapo"}
"""Values of IGNORED fields that state what PhaseTrainer does anyway (`train/fidelity.py` re-checks the
built GRPOConfig). The `vllm_importance_sampling_*` fields pass through: the loss applies TRL's
correction as TRL does."""


def check_trl_table(table: dict[str, Any]) -> None:
    """Refuse `[trl]` keys phasescope sets itself or that the arm's own loss would ignore."""
    for key, value in table.items():
        if key in OWNED:
            raise UsageError(f"trl.{key} is set by phasescope; use {OWNED[key]}")
        if key in IGNORED and not (key in ACCEPTED and value == ACCEPTED[key]):
            raise UsageError(f"trl.{key} cannot be set: {IGNORED[key]}")


def unknown_fields(table: dict[str, Any], fields: set[str]) -> list[str]:
    """Keys of `table` that are not GRPOConfig fields (`fields`), sorted."""
    return sorted(set(table) - fields)
