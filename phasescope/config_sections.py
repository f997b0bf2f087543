"""The sections of an experiment config: one dataclass per TOML table, validated on construction.

Every field has a default and a docstring (the docstrings are the reference of the config keys).
`phasescope.config` builds these from TOML and `--set` overrides; this module only holds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from phasescope.arms import DEFAULT_RUN
from phasescope.arms.config import ArmConfig, default_arms  # noqa: F401  (the [arms] tables: re-exported)
from phasescope.errors import UsageError


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UsageError(msg)


@dataclass
class ExperimentConfig:
    name: str = "default"
    """Experiment name; the run directory is `<out>/<name>`."""
    out: str = "runs"
    """Parent folder of run directories."""
    arms: list[str] = field(default_factory=lambda: list(DEFAULT_RUN))
    """Arms to run, each a table under [arms.<name>]."""
    seeds: int = 1
    """Number of seeds per arm (seeds 0..seeds-1)."""
    world_seeds: int = 1
    """World draws (embedded world): each arm and seed on draws 0..world_seeds-1 (draw w: world.seed + w)."""
    workers: int = 2
    """(arm, seed) runs trained at once, each in its own process with one torch thread on CPU."""
    wandb: str = "off"
    """Mirror metrics to W&B: off, offline (wandb/offline-run-* for `wandb sync`) or online.
    WANDB_MODE=offline/disabled downgrades it; WANDB_PROJECT and WANDB_ENTITY are honoured."""

    def __post_init__(self):
        for key in ("seeds", "world_seeds", "workers"):
            _check(getattr(self, key) >= 1, f"experiment.{key} must be >= 1, got {getattr(self, key)}")
        _check(
            self.wandb in ("off", "offline", "online"),
            f"experiment.wandb must be off, offline or online, got {self.wandb!r}",
        )
        _check(len(self.arms) > 0, "experiment.arms is empty: name at least one arm")
        _check(
            bool(self.name) and "/" not in self.name,
            f"experiment.name {self.name!r} must be a plain folder name",
        )


@dataclass
class WorldConfig:
    """The embedded world (used when `model.model_name_or_path` is empty). See phasescope/world/task.py."""

    seed: int = 0
    """Seed of the problem sets and of the base model; identical across arms and seeds of an experiment."""
    digits: int = 3
    """Operand digits (3: 100..999 + 100..999). The expert writes one chain-of-thought step per digit."""
    n_expert: int = 200
    """Expert chain-of-thought demonstrations (few enough that long SFT memorises them)."""
    expert_slip_rate: float = 0.1
    """Share of expert chains of thought with one mis-added column (and so a wrong final answer), as
    real expert traces are not all right; long SFT memorises the slips (the overfit), and held-out
    metrics are always scored against the correct answers."""
    n_rl_prompts: int = 4000
    """RL prompts (addition), disjoint from the expert problems."""
    n_eval: int = 200
    """Held-out problems per skill (addition: eval/accuracy; the general skill: eval/general_accuracy)."""
    n_pretrain: int = 20000
    """Base pre-training problems per skill, in the base model's own (direct) style."""
    general_skill: str = "max"
    """The skill the base has and nobody trains (the paper's MMLU-Pro): max ("47>23=47;") or subtraction."""
    pretrain_general_share: float = 1.0
    """Share of the pre-training general-skill problems used (the general skill's dose)."""
    pretrain_cot_share: float = 0.04
    """Share of pre-training addition problems shown in the expert's chain-of-thought style."""
    base_target_accuracy: float = 0.4
    """Base pre-training stops once held-out-dev addition accuracy reaches this (a middling base)."""
    base_max_steps: int = 4000
    """Upper bound on base pre-training steps."""
    base_lr: float = 3e-3
    """Base pre-training learning rate."""
    base_batch_size: int = 64
    """Base pre-training batch size."""
    n_layer: int = 2
    """Decoder layers of the tiny GPT-2."""
    n_embd: int = 64
    """Width of the tiny GPT-2."""
    n_head: int = 4
    """Attention heads of the tiny GPT-2."""
    tuned_rates: bool = True
    """Each built-in arm learns at its rate tuned on this world's dev split (phasescope/arms/world_rates.py)
    unless its own `lr`/`sft_lr` is set; false: every arm at train.learning_rate / train.sft_lr."""

    def __post_init__(self):
        for name in (
            "n_expert",
            "n_rl_prompts",
            "n_eval",
            "n_pretrain",
            "base_max_steps",
            "n_layer",
            "n_embd",
        ):
            _check(getattr(self, name) > 0, f"world.{name} must be > 0, got {getattr(self, name)}")
        _check(0.0 <= self.pretrain_cot_share <= 1.0, "world.pretrain_cot_share must be in [0, 1]")
        _check(0.0 <= self.expert_slip_rate < 0.5, "world.expert_slip_rate must be in [0, 0.5)")
        _check(0.0 <= self.pretrain_general_share <= 1.0, "world.pretrain_general_share must be in [0, 1]")
        _check(2 <= self.digits <= 4, f"world.digits must be 2, 3 or 4, got {self.digits}")
        _check(self.general_skill in ("max", "subtraction"), "world.general_skill must be max or subtraction")
        _check(0.0 < self.base_target_accuracy <= 1.0, "world.base_target_accuracy must be in (0, 1]")
        _check(self.n_embd % self.n_head == 0, "world.n_embd must be a multiple of world.n_head")


@dataclass
class ModelConfig:
    model_name_or_path: str = ""
    """Hugging Face hub id or local path of a causal LM; empty = the embedded world's base model."""
    dtype: str = "auto"
    """As transformers' `dtype`: auto (the checkpoint's own dtype), float32, bfloat16 or float16; or
    bf16_if_supported (bf16 on a GPU that supports it, else fp32: phasescope's former "auto")."""
    gradient_checkpointing: bool = False
    """Trade compute for memory on large models."""
    attn_implementation: str = ""
    """Attention kernel passed to from_pretrained (sdpa, flash_attention_2, eager); empty = transformers' choice."""
    lora_r: int = 0
    """LoRA rank (needs `pip install phasescope[peft]`); 0 = full fine-tuning."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by lora_alpha / lora_r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA branch."""
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    """Modules that get LoRA adapters: ["all-linear"] or names such as ["q_proj", "v_proj"]."""
    use_vllm: bool = False
    """Generate rollouts with vLLM (TRL's use_vllm; needs vllm installed and a GPU)."""
    vllm_mode: str = "colocate"
    """colocate (vLLM shares the training GPUs) or server (a separate `trl vllm-serve` process)."""
    vllm_gpu_memory_utilization: float = 0.3
    """Share of each GPU's memory vLLM may take in colocate mode."""

    def __post_init__(self):
        _check(
            self.dtype in ("auto", "bf16_if_supported", "float32", "bfloat16", "float16"),
            f"model.dtype {self.dtype!r} is unknown",
        )
        _check(self.lora_r >= 0, f"model.lora_r must be >= 0, got {self.lora_r}")
        _check(self.lora_alpha > 0, f"model.lora_alpha must be > 0, got {self.lora_alpha}")
        _check(
            0.0 <= self.lora_dropout < 1.0, f"model.lora_dropout must be in [0, 1), got {self.lora_dropout}"
        )
        _check(len(self.lora_target_modules) > 0, "model.lora_target_modules is empty")
        _check(
            self.vllm_mode in ("colocate", "server"),
            f"model.vllm_mode must be colocate or server, got {self.vllm_mode!r}",
        )
        _check(
            0.0 < self.vllm_gpu_memory_utilization <= 1.0,
            "model.vllm_gpu_memory_utilization must be in (0, 1]",
        )
        _check(
            self.attn_implementation in ("", "sdpa", "flash_attention_2", "flash_attention_3", "eager"),
            f"model.attn_implementation {self.attn_implementation!r} is unknown",
        )


@dataclass
class DataConfig:
    """Real datasets (used with `model.model_name_or_path`); see phasescope/data/.

    A source is a JSONL file, a local dataset folder (save_to_disk or data files) or a Hugging Face
    dataset id; `source:split` picks a split (default: train for rl/expert, test for eval), and
    `?name=<config>&streaming=true` a dataset config and streaming (see phasescope/data/sources.py).
    """

    rl_prompts: str = ""
    """RL prompts with reference answers (rollouts are scored against `answer_field`)."""
    expert: str = ""
    """Expert demonstrations (prompt + expert response) for the SFT term; may be the same source as rl_prompts."""
    eval: list[str] = field(default_factory=list)
    """Held-out sets, each `source` or `name=source`; the first gives eval/accuracy, eval/format_rate,
    eval/response_length (and eval/expert_nll when it has expert responses), later ones eval/<name>_accuracy."""
    dev: str = ""
    """Dev split for choosing the SFT→RL switch (sft_steps = "best" / "auto"): a source as `eval`
    (default split: validation), at most `n_eval` rows; it must share no problem with `eval`."""
    prompt_field: str = "problem"
    """Field holding the problem text."""
    answer_field: str = "answer"
    """Field holding the reference answer (checked with math-verify)."""
    response_field: str = "solution"
    """Field holding the expert response; `name.N` takes item N of a list field (e.g. generations.0)."""
    prompt_template: str = "{prompt}\nPlease reason step by step, and put your final answer within \\boxed{}."
    """User message built from the problem; `{prompt}` is replaced by the problem text."""
    system_prompt: str = ""
    """System message of the chat template (empty: none)."""
    chat_template: bool = True
    """Wrap prompts (and expert responses) in the tokenizer's chat template when it has one."""
    n_rl_prompts: int = 0
    """Use at most this many RL prompts (0: all), drawn with `data.seed`."""
    n_expert: int = 0
    """Use at most this many expert rows (0: all), drawn with `data.seed`."""
    n_eval: int = 0
    """Use at most this many problems per held-out set (0: all), drawn with `data.seed`."""
    seed: int = 0
    """Seed of the subsets (and of the probe set); the same for every arm and seed."""
    eval_batch_size: int = 32
    """Problems per batched `generate` call in evaluation (per process)."""
    allow_overlap: bool = False
    """Keep problems shared between the RL prompts, the expert set and the held-out sets (counted in
    data.json and noted); by default an overlap is an error before the run starts."""
    max_expert_tokens: int = 0
    """Longest expert response used for SFT, in tokens (0: whole); longer ones are cut or dropped
    (`expert_truncation`), counted in data.json. Set it near train.max_completion_length so that SFT
    does not teach answers longer than rollouts and held-out answers can be."""
    expert_truncation: str = "truncate"
    """What `max_expert_tokens` does to a longer response: truncate (keep its first tokens) or drop it."""

    def __post_init__(self):
        for name in ("n_rl_prompts", "n_expert", "n_eval"):
            _check(getattr(self, name) >= 0, f"data.{name} must be >= 0, got {getattr(self, name)}")
        _check(self.eval_batch_size > 0, f"data.eval_batch_size must be > 0, got {self.eval_batch_size}")
        _check("{prompt}" in self.prompt_template, "data.prompt_template must contain {prompt}")
        for name in ("prompt_field", "answer_field", "response_field"):
            _check(bool(getattr(self, name)), f"data.{name} is empty")
        for item in self.eval:
            _check(bool(item.strip()), "data.eval has an empty entry")
        _check(
            self.max_expert_tokens >= 0, f"data.max_expert_tokens must be >= 0, got {self.max_expert_tokens}"
        )
        _check(
            self.expert_truncation in ("truncate", "drop"),
            f"data.expert_truncation must be truncate or drop, got {self.expert_truncation!r}",
        )


STAGE_BUDGETS = ("within", "added")


@dataclass
class TrainConfig:
    """Settings shared by every arm, so that arms differ only by their schedule and weighting."""

    max_steps: int = 600
    """Optimizer updates per arm: its whole budget, a two-stage arm's SFT stage included (stage_budget)."""
    stage_budget: str = "within"
    """A two-stage arm's SFT stage: "within" max_steps (every arm trains max_steps updates in all: a
    best/auto SFT stage runs at most max_steps // 2 updates, its updates past the switch included, and
    the RL stage gets the rest) or "added" on top (the RL stage is max_steps updates, as long as the rl
    arm: the paper's SFT-then-RL, which then spends more than the other arms)."""
    learning_rate: float = 1e-4
    """Learning rate of updates with an RL term (μ < 1), constant after `warmup_steps`; an arm may override it."""
    sft_lr: float = 1e-3
    """Learning rate of pure-SFT updates (μ = 1): the sft arm and the first stage of sft_then_rl.

    SFT and RL are tuned to different step sizes in practice (the paper's SFT stage uses a larger
    one), so the two stages of sft_then_rl each get theirs, as two separate trainings would."""
    warmup_steps: int = 0
    """Linear learning-rate warm-up."""
    prompts_per_step: int = 4
    """RL prompts per update."""
    num_generations: int = 8
    """Rollouts per prompt (K, the GRPO group size)."""
    expert_batch_size: int = 32
    """Expert rows per update (at most the expert set), beside the rollouts; set it or
    `expert_data_ratio`, not both. 32 in the default world: 32 rows per 4 × 8 rollouts (ratio 1.0)."""
    expert_data_ratio: float | None = None
    """Expert rows per update as a share of the rollouts, Trinity-RFT's `expert_data_ratio` (B' =
    batch_size × expert_data_ratio × repeat_times): when set, expert_batch_size = round(ratio ×
    prompts_per_step × num_generations), and setting expert_batch_size too is an error. The CHORD paper's
    setting is 0.25 (64 rows per 32 prompts × 8 rollouts); the default world keeps expert_batch_size = 32
    (ratio 1.0) until tuning on the dev split says otherwise. Here the rows come beside the rollouts,
    not in place of some of them as in Trinity-RFT's mix sample strategy (which rounds up)."""
    epsilon: float = 0.2
    """PPO clip epsilon of the GRPO surrogate."""
    temperature: float = 1.0
    """Rollout sampling temperature (also used for eval/sampled_accuracy). Must be 1 when an arm with
    expert rows runs: TRL's LM head tempers every log-probability, and φ and the expert NLL need p itself."""
    max_completion_length: int = 40
    """Longest generated response, in tokens."""
    eval_steps: int = 25
    """Held-out evaluation every this many steps (and at step 0 and the last step)."""
    eval_early_every: int | None = None
    """Extra evaluations every this many steps during the first `eval_early_until` steps (0: none).
    Unset: 5 for the embedded world, 0 for a real model (each evaluation generates every held-out answer)."""
    eval_early_until: int = 30
    """End of the dense early evaluation grid (the shift happens early and fast)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip."""
    divergent_threshold: float = 0.1
    """An expert token with p below this counts as highly divergent (expert/divergent_frac)."""
    probes: bool = True
    """Token-divergence probes at every evaluation: `probe/*` metrics and `<arm>/seed<k>/tokens.jsonl`."""
    eval_heldout: bool = True
    """False (`phasescope tune`'s trials): no held-out evaluation; the dev split's dev/* is evaluated instead."""
    probe_size: int = 64
    """Expert examples in the fixed probe set (chosen by world.seed: the same for every arm and seed)."""
    probe_top_k: int = 10
    """Most divergent probe tokens written to tokens.jsonl per evaluation (0: none)."""
    gradient_accumulation_steps: int = 1
    """Micro-batches per update: each process sees (prompts_per_step × num_generations) / (processes ×
    this) rollouts and expert_batch_size / (processes × this) expert rows per micro-batch."""
    save_steps: int = 100
    """Save a checkpoint (model, optimizer, scheduler, RNG, step) every this many steps and at the last
    step, into `<arm>/seed<k>/checkpoint/` (only the latest is kept) for `phasescope run --resume`.
    0: never (a resumed run then starts that arm over)."""
    on_nonfinite: str = "stop"
    """A NaN/inf loss or gradient: stop (the run fails, naming the step and the last good checkpoint)
    or skip (that update is dropped: no parameter moves; the row gets train/skipped = 1)."""

    def __post_init__(self):
        _check(self.max_steps > 0, f"train.max_steps must be > 0, got {self.max_steps}")
        _check(
            self.stage_budget in STAGE_BUDGETS,
            f"train.stage_budget must be one of {', '.join(STAGE_BUDGETS)}, got {self.stage_budget!r}",
        )
        _check(self.learning_rate > 0, f"train.learning_rate must be > 0, got {self.learning_rate}")
        _check(self.sft_lr > 0, f"train.sft_lr must be > 0, got {self.sft_lr}")
        for name in (
            "prompts_per_step",
            "num_generations",
            "expert_batch_size",
            "eval_steps",
            "max_completion_length",
        ):
            _check(getattr(self, name) > 0, f"train.{name} must be > 0, got {getattr(self, name)}")
        _check(
            self.num_generations >= 2, "train.num_generations must be >= 2 (GRPO normalises within a group)"
        )
        _check(self.warmup_steps >= 0, "train.warmup_steps must be >= 0")
        _check(
            (self.eval_early_every or 0) >= 0 and self.eval_early_until >= 0,
            "train.eval_early_every and train.eval_early_until must be >= 0",
        )
        _check(0.0 < self.epsilon < 1.0, f"train.epsilon must be in (0, 1), got {self.epsilon}")
        _check(self.temperature > 0, "train.temperature must be > 0")
        _check(0.0 < self.divergent_threshold < 1.0, "train.divergent_threshold must be in (0, 1)")
        _check(self.probe_size > 0, f"train.probe_size must be > 0, got {self.probe_size}")
        _check(self.probe_top_k >= 0, f"train.probe_top_k must be >= 0, got {self.probe_top_k}")
        _check(self.gradient_accumulation_steps >= 1, "train.gradient_accumulation_steps must be >= 1")
        _check(self.save_steps >= 0, f"train.save_steps must be >= 0, got {self.save_steps}")
        _check(
            self.on_nonfinite in ("stop", "skip"),
            f"train.on_nonfinite must be stop or skip, got {self.on_nonfinite!r}",
        )
        if self.expert_data_ratio is not None:
            self.expert_batch_size = expert_rows_for_ratio(
                self.expert_data_ratio,
                self.prompts_per_step,
                self.num_generations,
                self.gradient_accumulation_steps,
            )


def expert_rows_for_ratio(ratio: float, prompts_per_step: int, num_generations: int, accum: int = 1) -> int:
    """Expert rows per update for `train.expert_data_ratio`: round(ratio × prompts × generations).

    A UsageError when the ratio is not > 0, rounds to no row, or gives rows that do not split over this
    run's processes (WORLD_SIZE, as `train/distributed.py`) × the `accum` micro-batches.
    """
    # WORLD_SIZE as train/distributed.world_size reads it (the config layer imports nothing from train/)
    rollouts, procs = prompts_per_step * num_generations, int(os.environ.get("WORLD_SIZE", "1") or 1)
    _check(ratio > 0, f"train.expert_data_ratio must be > 0, got {ratio}")
    rows = round(ratio * rollouts)
    _check(
        rows > 0,
        f"train.expert_data_ratio = {ratio} gives round({ratio} × {rollouts} rollouts) = 0 expert rows "
        "per update; raise it",
    )
    _check(
        rows % (procs * accum) == 0,
        f"train.expert_data_ratio = {ratio} gives {rows} expert rows per update (round({ratio} × "
        f"{rollouts} rollouts)), which do not split over {procs} process(es) × "
        f"train.gradient_accumulation_steps = {accum}; choose a ratio whose rows are a multiple of {procs * accum}",
    )
    return rows
