"""The `[arms.<name>]` tables: `ArmConfig` (one arm's knobs) and the built-in arms (`default_arms`).

Part of the config layer (re-exported by `phasescope.config_sections` and `phasescope.config`); what
the knobs *mean* lives in `phasescope.arms` (schedules, weightings) and `phasescope.arms.mixing`
(per-prompt μ rules).
"""

from __future__ import annotations

from dataclasses import dataclass

from phasescope.arms import PHI_MEAN_OF_BASE, SCHEDULES, SFT_STEPS_WORDS, WEIGHTINGS
from phasescope.arms.mixing import MIXES
from phasescope.errors import UsageError


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise UsageError(msg)


@dataclass
class ArmConfig:
    """One arm = a μ rule (a per-step schedule, or per prompt) plus an expert-token weighting (docs/arms.md).
    Trinity-RFT's knob names for the schedules."""

    mix: str = "step"
    """The μ rule: step (μ is `schedule` at each step), group (each prompt's demonstration joins its GRPO
    group: LUFFY, SRFT), gate (per prompt, SFT on its demonstration when at most `gate` rollouts are
    correct, else GRPO: HPT) or buffer (GRPO; those prompts' demonstrations are buffered and trained by
    one SFT update at train.sft_lr once `buffer_size` are held: ReLIFT). All but step take each RL
    prompt's own demonstration, so their RL prompts are the expert set's problems."""

    schedule: str = "constant"
    """constant (μ = mu), sft_then_rl (an SFT training, then a fresh RL training as long as the rl
    arm's), step (μ = 1 for sft_steps, then 0, one optimizer throughout), warmup_cosine (CHORD-μ),
    adaptive (μ = max(0, tau − mean reward)) or phase (μ from the online phases of phase_metric)."""
    mu: float = 0.0
    """μ of the constant schedule."""
    sft_steps: int | str = 0
    """SFT steps of the step and sft_then_rl schedules: a number, or (sft_then_rl only) "best" (a full
    SFT stage of train.max_steps, then RL from its best dev-accuracy checkpoint), "auto" (SFT until the
    online detector confirms overfit on the dev split, then RL from the best checkpoint) or "epoch"
    (one pass over the expert set)."""
    dev_every: int = 5
    """sft_steps best/auto: evaluate the dev split every this many SFT steps (the candidates)."""
    mu_warmup_steps: int = 0
    """CHORD-μ: linear warm-up 0 → mu_peak over this many steps."""
    mu_decay_steps: int = 0
    """CHORD-μ: half-cosine decay mu_peak → mu_valley over this many steps after the warm-up."""
    mu_peak: float = 0.9
    """CHORD-μ: μ at the end of the warm-up."""
    mu_valley: float = 0.05
    """CHORD-μ: μ after the decay (and throughout when warm-up and decay are both 0)."""
    weighting: str = "none"
    """Per-token weight of the expert term: none, phi (p(1-p), detached), is (sg(p): DFT), luffy (the
    loss −Â·p/(p + 0.1), mix group) or srft (SFT weight 0.5·sg(e^−H) plus LUFFY's term, mix group)."""
    lr: float | None = None
    """Learning-rate override for this arm (default: train.learning_rate)."""
    sft_lr: float | None = None
    """Learning-rate override for this arm's pure-SFT updates (μ = 1: an SFT stage, ReLIFT's SFT pass;
    default: train.sft_lr), so that arms tuned apart keep their own rate when they run together."""
    tau: float = 0.5
    """adaptive schedule (chord_adaptive): μ = max(0, tau − mean rollout reward)."""
    sft_weight: float = 1.0
    """A constant factor on every expert token's weight: L_SFT,w = mean(−sft_weight · w(p) · log p). 1 but
    for sft_scaled: 0.032, the default world's base's mean φ over the expert tokens (arms.PHI_MEAN_OF_BASE)."""
    gate: int = 0
    """mix gate / buffer: a prompt with at most this many correct rollouts goes to its demonstration
    (HPT's switch_gate, ReLIFT's "solve none": 0)."""
    buffer_size: int = 0
    """mix buffer (ReLIFT): demonstrations per SFT update; 0 = train.prompts_per_step (ReLIFT's 128 is one
    RL batch of prompts)."""
    phase_metric: str = "dev/accuracy"
    """phase schedule (chord_phase): the metric whose confirmed phases drive μ. A dev metric
    (dev/accuracy, dev/expert_nll) has the dev split evaluated at every evaluation step (a real model
    needs data.dev); a held-out one (eval/*) is refused, as the held-out set is only ever reported."""

    def __post_init__(self):
        _check(
            self.schedule in SCHEDULES,
            f"schedule {self.schedule!r} is unknown; choose one of {tuple(SCHEDULES)}",
        )
        _check(
            self.weighting in WEIGHTINGS,
            f"weighting {self.weighting!r} is unknown; choose one of {tuple(WEIGHTINGS)}",
        )
        for name in ("mu", "mu_peak", "mu_valley"):
            v = getattr(self, name)
            _check(0.0 <= v <= 1.0, f"{name} must be in [0, 1], got {v}")
        for name in ("mu_warmup_steps", "mu_decay_steps"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        _check_sft_steps(self.sft_steps, self.schedule)
        _check(self.dev_every > 0, f"dev_every must be > 0, got {self.dev_every}")
        _check(self.lr is None or self.lr > 0, f"lr must be > 0, got {self.lr}")
        _check(self.sft_lr is None or self.sft_lr > 0, f"sft_lr must be > 0, got {self.sft_lr}")
        _check(0.0 <= self.tau <= 1.0, f"tau must be in [0, 1], got {self.tau}")
        _check(self.sft_weight > 0, f"sft_weight must be > 0, got {self.sft_weight}")
        _check(self.mix in MIXES, f"mix {self.mix!r} is unknown; choose one of {tuple(MIXES)}")
        _check(self.gate >= 0, f"gate must be >= 0, got {self.gate}")
        _check(self.buffer_size >= 0, f"buffer_size must be >= 0, got {self.buffer_size}")
        _check(
            self.mix != "group" or self.weighting in ("luffy", "srft"),
            f'mix "group" trains LUFFY\'s or SRFT\'s objective: weighting must be "luffy" or "srft", got '
            f"{self.weighting!r}",
        )
        for name, mix in (("luffy", "group"), ("srft", "group")):
            _check(
                self.weighting != name or self.mix == mix,
                f'weighting "{name}" reads the group\'s advantage: it needs mix = "{mix}", got {self.mix!r}',
            )


def _check_sft_steps(value: int | str, schedule: str) -> None:
    if SCHEDULES[schedule].two_stage:
        _check(
            (isinstance(value, int) and value > 0) or value in SFT_STEPS_WORDS,
            f'sft_steps must be a positive integer, "best", "auto" or "epoch", got {value!r}',
        )
    else:
        _check(isinstance(value, int) and value >= 0, f"sft_steps must be an integer >= 0, got {value!r}")


def default_arms() -> dict[str, ArmConfig]:
    return {
        "sft": ArmConfig(schedule="constant", mu=1.0),
        "rl": ArmConfig(schedule="constant", mu=0.0),
        # The paper's baselines: SFT-best + RL and SFT-light + RL, each a separate SFT training, then an
        # RL training as long as pure RL's.
        "sft_then_rl": ArmConfig(schedule="sft_then_rl", sft_steps="best"),
        "sft_light_then_rl": ArmConfig(schedule="sft_then_rl", sft_steps="epoch"),
        "chord_mu": ArmConfig(
            schedule="warmup_cosine", mu_warmup_steps=0, mu_decay_steps=200, mu_peak=0.9, mu_valley=0.05
        ),
        "chord_phi": ArmConfig(schedule="constant", mu=0.1, weighting="phi"),
        "chord_adaptive": ArmConfig(schedule="adaptive", tau=0.5),
        "chord_phase": ArmConfig(schedule="phase", mu_peak=0.9, mu_valley=0.05, mu_decay_steps=150),
        # CHORD-φ's controls (docs/arms.md): φ's overall size without its token shape, and φ at larger μ.
        "sft_scaled": ArmConfig(schedule="constant", mu=0.1, sft_weight=PHI_MEAN_OF_BASE),
        "chord_phi_mu03": ArmConfig(schedule="constant", mu=0.3, weighting="phi"),
        "chord_phi_mu1": ArmConfig(schedule="constant", mu=1.0, weighting="phi"),
        # The other published mixes (issue 24; docs/arms.md gives each one's formula, defaults and source).
        "luffy": ArmConfig(mix="group", weighting="luffy"),
        "srft": ArmConfig(mix="group", weighting="srft"),
        "hpt": ArmConfig(mix="gate", gate=0),
        "relift": ArmConfig(mix="buffer", gate=0),
        "dft": ArmConfig(schedule="constant", mu=1.0, weighting="is"),
        "dft_then_rl": ArmConfig(schedule="sft_then_rl", sft_steps="best", weighting="is"),
    }
