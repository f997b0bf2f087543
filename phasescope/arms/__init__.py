"""The arm registry: every arm is a μ rule plus an expert-token weighting of the one trainer.

    L = (1 − μ(step)) · L_GRPO + μ(step) · L_SFT,w        (μ rule "step": a per-step schedule)

The per-prompt μ rules (LUFFY, SRFT, HPT, ReLIFT: μ decided per prompt from its group's rewards, or by
a buffer) and the weights that read the entropy and the advantage are in `arms/mixing.py`; the
`[arms.<name>]` tables and the built-in arms in `arms/config.py`.

An arm's knobs live in `config.ArmConfig` (so an experiment file can override any field or define a
new arm from the same knobs); what the knobs *mean* lives here, once:
- `SCHEDULES`: schedule name → `Schedule` (μ as a pure function of the step, a one-line description,
  and a check against the run length);
- `WEIGHTINGS`: weighting name → `Weighting` (the per-token weight of the SFT loss, a pure function of
  the token log-probabilities, and its description);
- `ARM_NAMES`: the built-in arms, in the order every table and figure shows them.

A new schedule is one entry in `SCHEDULES`; nothing else dispatches on schedule names. `state` is
the trainer's latest training signals (e.g. `{"rollout/reward_mean": 0.4}`), for schedules whose μ
depends on how training goes; it is None when nothing is known yet (planning a run, step 0), and
such a schedule must then return the μ it may take (any value in (0, 1) when it could be either).

Step origin: `step` is the update's number counted from 1 — update 1 is the first optimizer update,
and the metrics row at step N (which describes update N) carries μ(N). This is Trinity-RFT's origin:
its trainer's `global_steps` start at 1, and `mu_schedule_function(global_steps, ...)` gives the μ of
that update, so CHORD-μ's first update already has μ = mu_peak / mu_warmup_steps (not 0) and the
schedules here equal Trinity-RFT's step for step. μ(0) is the step-0 row (the base model, no update).
Never imports torch: the weightings use tensor methods only, so the registry can be read where no
training stack exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from phasescope.arms.mixing import luffy_weight, mix_of, srft_weight

ARM_NAMES = (
    "sft",
    "rl",
    "sft_then_rl",
    "sft_light_then_rl",
    "chord_mu",
    "chord_phi",
    "chord_adaptive",
    "chord_phase",
    "sft_scaled",
    "chord_phi_mu03",
    "chord_phi_mu1",
    "luffy",
    "srft",
    "hpt",
    "relift",
    "dft",
    "dft_then_rl",
)
"""The built-in arms (config.default_arms), in display order: sft_scaled and the two chord_phi_mu* are
CHORD-φ's controls; luffy .. dft_then_rl the other published mixes (issue 24, `arms/mixing.py`)."""
DEFAULT_RUN = ARM_NAMES[:6]
"""The arms an experiment runs when it names none (the paper's five and SFT-light → RL, its other
baseline); the two whose μ follows training
(chord_adaptive, chord_phase) are asked for by name, e.g. ``--arms chord_adaptive,chord_phase``."""
ARM_LABELS = {
    "sft": "SFT",
    "rl": "RL (GRPO)",
    "sft_then_rl": "SFT-best → RL",
    "sft_light_then_rl": "SFT-light → RL",
    "chord_mu": "CHORD-μ",
    "chord_phi": "CHORD-φ",
    "chord_adaptive": "CHORD-adaptive μ",
    "chord_phase": "CHORD-phase μ",
    "sft_scaled": "SFT at μ·φ̄ (control)",
    "chord_phi_mu03": "CHORD-φ μ = 0.3",
    "chord_phi_mu1": "CHORD-φ μ = 1",
    "luffy": "LUFFY",
    "srft": "SRFT",
    "hpt": "HPT",
    "relift": "ReLIFT",
    "dft": "DFT",
    "dft_then_rl": "DFT-best → RL",
}
"""How figures name the built-in arms; other arms are shown by their name."""

State = Mapping[str, float] | None


# --- μ schedules (pure functions of the step) ------------------------------------------------------------


def constant_mu(step: int, mu: float) -> float:
    """μ ≡ mu (sft: 1, rl: 0, CHORD-φ: 0.1 in the paper)."""
    return mu


def step_mu(step: int, sft_steps: int) -> float:
    """SFT-then-RL: μ = 1 for the first `sft_steps` updates (steps 1..sft_steps), then 0."""
    return 1.0 if step <= sft_steps else 0.0


def warmup_cosine_mu(
    step: int, mu_warmup_steps: int, mu_decay_steps: int, mu_peak: float, mu_valley: float
) -> float:
    """CHORD-μ: linear warm-up 0 → mu_peak over W steps, half-cosine mu_peak → mu_valley over D steps, then mu_valley.

    Same semantics as Trinity-RFT: at step W the value is mu_peak, at step W + D and after it is
    mu_valley; with W = D = 0 the schedule is mu_valley throughout.
    """
    if step < mu_warmup_steps:
        return step / mu_warmup_steps * mu_peak
    if step >= mu_warmup_steps + mu_decay_steps:
        return mu_valley
    progress = (step - mu_warmup_steps) / mu_decay_steps
    return mu_valley + (mu_peak - mu_valley) * 0.5 * (1.0 + math.cos(math.pi * progress))


SFT_STEPS_WORDS = ("best", "auto", "epoch")
"""`sft_steps` other than a number of steps, for the two-stage schedule `sft_then_rl`:
best (a full SFT stage, then the step of best dev accuracy), auto (SFT until the online detector
confirms overfit on the dev split, then its best step), epoch (one pass over the expert set)."""
SELECTING_WORDS = ("best", "auto")
"""The `sft_steps` words that choose the switch on a dev split."""


def two_stage_mu(step: int, switch: int | None) -> float:
    """SFT, then RL: μ = 1 before the switch step, 0 from it on; 0.5 (either) while the switch is unknown."""
    if switch is None:
        return 0.5
    return 1.0 if step < switch else 0.0


def _switch(arm: Any, state: State) -> int | None:
    if state and "train/switch_step" in state:
        return int(state["train/switch_step"])
    return arm.sft_steps if isinstance(arm.sft_steps, int) else None


def adaptive_mu(mean_reward: float | None, tau: float) -> float:
    """CHORD's reward-driven μ (paper, appendix B.1): μ = max(0, τ − mean reward), so the expert
    term fades as the policy's own rollouts start to earn reward. The mean reward is the last
    update's (unknown before the first rollout, when μ = τ, as for a reward of 0)."""
    r = 0.0 if mean_reward is None else mean_reward
    return min(1.0, max(0.0, tau - r))


def phase_mu(
    step: int,
    readapt_step: float | None,
    overfit_step: float | None,
    mu_peak: float,
    mu_valley: float,
    mu_decay_steps: int,
) -> float:
    """μ led by the SFT signal's confirmed phases: mu_peak until readapt (or, with no shift, an
    improvement) is confirmed, then a half-cosine mu_peak → mu_valley over mu_decay_steps from the
    confirmation, and 0 from the moment an overfit is confirmed (the expert data now hurts)."""
    if overfit_step is not None:
        return 0.0
    if readapt_step is None:
        return mu_peak
    progress = 1.0 if mu_decay_steps <= 0 else min(1.0, max(0.0, (step - readapt_step) / mu_decay_steps))
    return mu_valley + (mu_peak - mu_valley) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _get(state: State, key: str) -> float | None:
    return None if state is None else state.get(key)


def _no_check(name: str, arm: Any, steps: int) -> str | None:
    return None


HELD_OUT_PREFIX, DEV_PREFIX = "eval/", "dev/"
"""Held-out metrics are only ever reported; what steers training reads the dev split (docs/arms.md)."""
DEV_SIGNALS = ("dev/accuracy", "dev/expert_nll")
"""The dev metrics every dev split measures (the world's and `data.dev`): what a schedule may watch."""


def dev_metric_for(metric: str) -> str:
    """The dev metric to watch instead of held-out `metric`: its dev twin when the dev split measures
    one (`eval/expert_nll` → `dev/expert_nll`), else `dev/accuracy`."""
    twin = DEV_PREFIX + metric.removeprefix(HELD_OUT_PREFIX)
    return twin if twin in DEV_SIGNALS else DEV_SIGNALS[0]


def _phase_check(name: str, arm: Any, steps: int) -> str | None:
    # Steering μ by the held-out set would report a test score that was tuned on itself.
    if not arm.phase_metric.startswith(HELD_OUT_PREFIX):
        return None
    return (
        f"arms.{name}.phase_metric = {arm.phase_metric} reads the held-out set, which is only ever "
        f"reported; use {dev_metric_for(arm.phase_metric)}"
    )


def _step_check(name: str, arm: Any, steps: int) -> str | None:
    if arm.sft_steps < steps:
        return None
    return (
        f"arms.{name}.sft_steps={arm.sft_steps} leaves no RL stage in train.max_steps={steps}; "
        f"lower arms.{name}.sft_steps or raise train.max_steps"
    )


@dataclass(frozen=True)
class Schedule:
    """μ(step, arm, state), what it does in words, and what it requires of the run (an error or None)."""

    mu: Callable[[int, Any, State], float]
    describe: Callable[[Any], str]
    check: Callable[[str, Any, int], str | None] = _no_check
    two_stage: bool = False
    """Trained as two trainings (`train/stages.py`): an SFT stage, then a fresh RL stage of train.max_steps."""
    watches: Callable[[Any], str] | None = None
    """For a schedule whose μ reads a metric's online phases: arm -> that metric. The trainer feeds it
    to a phase tracker (``train/trainer.py``) whose ``phase/*`` values join every row that holds the
    metric and the state μ is given (``phase/<label>_confirmed_step``: ``READAPT_KEYS``, ``OVERFIT_KEY``).
    A dev metric has the dev split evaluated at every evaluation step (``watches_dev``); the schedule's
    ``check`` refuses a held-out (``eval/*``) one."""


READAPT_KEYS = ("phase/readapt_confirmed_step", "phase/improve_confirmed_step")
"""A readapt, or with no shift before it an improvement: the first of them starts chord_phase's decay."""
OVERFIT_KEY = "phase/overfit_confirmed_step"


def _first_of(state: State, keys) -> float | None:
    found = [state[k] for k in keys if state is not None and k in state]
    return min(found) if found else None


def watched_metric(arm) -> str | None:
    """The metric whose online phases the arm's μ reads (None: its μ reads none)."""
    watches = SCHEDULES[arm.schedule].watches
    return watches(arm) if watches is not None else None


SCHEDULES: dict[str, Schedule] = {
    "constant": Schedule(
        lambda step, arm, state: constant_mu(step, arm.mu),
        lambda arm: f"μ ≡ {arm.mu:g}",
    ),
    "step": Schedule(
        lambda step, arm, state: step_mu(step, arm.sft_steps),
        lambda arm: f"μ = 1 for {arm.sft_steps} steps, then 0",
        _step_check,
    ),
    "sft_then_rl": Schedule(
        lambda step, arm, state: two_stage_mu(step, _switch(arm, state)),
        lambda arm: (
            (
                f"SFT for {arm.sft_steps} steps"
                if isinstance(arm.sft_steps, int)
                else {
                    "best": "SFT, best dev-accuracy checkpoint",
                    "auto": "SFT until overfit is confirmed on the dev split, best checkpoint",
                    "epoch": "SFT for one pass over the expert set",
                }[arm.sft_steps]
            )
            + ", then RL as long as the rl arm (fresh optimizer and schedule)"
        ),
        two_stage=True,
    ),
    "warmup_cosine": Schedule(
        lambda step, arm, state: warmup_cosine_mu(
            step, arm.mu_warmup_steps, arm.mu_decay_steps, arm.mu_peak, arm.mu_valley
        ),
        lambda arm: (
            f"μ 0→{arm.mu_peak:g} over {arm.mu_warmup_steps} steps, then {arm.mu_peak:g}→{arm.mu_valley:g} "
            f"over {arm.mu_decay_steps} steps (cosine)"
        ),
    ),
    "adaptive": Schedule(
        lambda step, arm, state: adaptive_mu(_get(state, "rollout/reward_mean"), arm.tau),
        lambda arm: f"μ = max(0, {arm.tau:g} − mean reward) (CHORD appendix B.1)",
    ),
    "phase": Schedule(
        lambda step, arm, state: phase_mu(
            step,
            _first_of(state, READAPT_KEYS),
            _get(state, OVERFIT_KEY),
            arm.mu_peak,
            arm.mu_valley,
            arm.mu_decay_steps,
        ),
        lambda arm: (
            f"μ = {arm.mu_peak:g} until {arm.phase_metric} readapts (confirmed online), then {arm.mu_peak:g}→"
            f"{arm.mu_valley:g} over {arm.mu_decay_steps} steps (cosine), 0 once it overfits"
        ),
        _phase_check,
        watches=lambda arm: arm.phase_metric,
    ),
}


# --- token weightings of the SFT loss (pure functions of the log-probabilities) --------------------------
# All weights are detached (stop-gradient): they scale each token's NLL gradient, they are not optimised
# themselves. As in the paper, φ is not renormalised, so the SFT term shrinks by mean φ ≤ 1/4.


def no_weight(logp):
    """Plain SFT: every expert token weighs 1."""
    return logp.detach().new_ones(logp.shape)


def phi_weight(logp):
    """CHORD-φ: φ = p(1 − p), p = exp(logp); peaks at p = 0.5, vanishes for known and for highly divergent tokens."""
    p = logp.detach().exp()
    return p * (1.0 - p)


def is_weight(logp):
    """IS / DFT: sg(p). The paper's rejected alternative (entropy collapses)."""
    return logp.detach().exp()


@dataclass(frozen=True)
class Weighting:
    """A per-token weight function and the words a report uses for it.

    `reads` names what the weight reads besides p: "entropy" (the policy's entropy, per token or per
    row) and/or "advantage" (the group's advantage of the token's row); such a weight is called with
    them, the others with the log-probabilities alone."""

    fn: Callable
    describe: str
    reads: tuple[str, ...] = ()

    def __call__(self, logp, entropy=None, advantage=None):
        if not self.reads:
            return self.fn(logp)
        return self.fn(logp, entropy=entropy, advantage=advantage)


WEIGHTINGS: dict[str, Weighting] = {
    "none": Weighting(no_weight, ""),
    "phi": Weighting(phi_weight, ", expert tokens weighted by φ = p(1−p)"),
    "is": Weighting(is_weight, ", expert tokens weighted by sg(p)"),
    "luffy": Weighting(
        luffy_weight, ", expert tokens' loss −Â·p/(p + 0.1) (LUFFY's policy shaping)", ("advantage",)
    ),
    "srft": Weighting(
        srft_weight,
        ", expert tokens' SFT weight 0.5·sg(e^−H) plus LUFFY's −Â·p/(p + 0.1); correct rollouts ×0.1·sg(e^H)",
        ("entropy",),
    ),
}

PHI_MEAN_OF_BASE = 0.032
"""Mean φ = p(1 − p) over all expert tokens of the default world's base model (issue 20; its median
token p is 0.994): the `sft_weight` of `sft_scaled`, whose plain SFT term then has chord_phi's overall
size without φ's token shape. A constant, not measured per run (tests/train/test_phi_scale.py checks it
on the shipped base: 0.0322 over the 6,716 tokens of the 200 traces); another world needs its own."""


def expert_weights(arm, logp, entropy=None, advantage=None):
    """The detached per-token weights of an arm's SFT term: its weighting, times `arm.sft_weight`."""
    w = WEIGHTINGS[arm.weighting](logp, entropy, advantage)
    return w if arm.sft_weight == 1.0 else w * arm.sft_weight


# --- what an arm does --------------------------------------------------------------------------------------


def mu_at(step: int, arm, state: State = None) -> float:
    """μ for an `ArmConfig` at `step`: its per-step schedule, or for a per-prompt μ rule (`arms/mixing.py`)
    the μ of the last update (`train/mu` in `state`), or before any, the μ such an arm may take (0.5)."""
    planned = mix_of(arm).plan_mu
    if planned is not None:
        return float(state["train/mu"]) if state and "train/mu" in state else planned
    try:
        schedule = SCHEDULES[arm.schedule]
    except KeyError:
        raise ValueError(f"unknown schedule {arm.schedule!r}") from None
    return schedule.mu(step, arm, state)


def stage_of(mu: float) -> str:
    """`sft` while μ = 1, `rl` while μ = 0, `mixed` otherwise (the `stage` field of metrics rows)."""
    return "sft" if mu == 1.0 else "rl" if mu == 0.0 else "mixed"


def stage_at(step: int, arm, state: State = None) -> str:
    """The stage of update `step` (see `stage_of`)."""
    return stage_of(mu_at(step, arm, state))


def is_two_stage(arm) -> bool:
    """Whether the arm is trained as an SFT training followed by a fresh RL training."""
    return SCHEDULES[arm.schedule].two_stage


def run_length(arm, steps: int, stage_budget: str = "added") -> int:
    """Updates on the arm's step axis for `train.max_steps` = `steps`: with `train.stage_budget`
    "within", `steps` for every arm; "added": a two-stage arm adds its SFT stage (at most `steps` SFT
    updates when the stage's length is chosen while it runs)."""
    if not is_two_stage(arm) or stage_budget == "within":
        return steps
    return steps + (arm.sft_steps if isinstance(arm.sft_steps, int) else steps)


def needs_rollouts(arm, steps: int) -> bool:
    """Whether the arm has an RL term (μ < 1) at some step of a `steps`-step run."""
    return any(mu_at(s, arm) < 1.0 for s in range(1, run_length(arm, steps) + 1))


def needs_expert(arm, steps: int) -> bool:
    """Whether the arm has an SFT term (μ > 0) at some step of a `steps`-step run."""
    return any(mu_at(s, arm) > 0.0 for s in range(1, run_length(arm, steps) + 1))


def selects_on_dev(arm) -> bool:
    """Whether the arm chooses its SFT→RL switch on a dev split (a two-stage arm, sft_steps best or auto)."""
    return is_two_stage(arm) and arm.sft_steps in SELECTING_WORDS


def watches_dev(arm) -> bool:
    """Whether the arm's μ reads a dev metric's online phases (chord_phase): the dev split is then
    evaluated at every evaluation step, beside the held-out sets."""
    metric = watched_metric(arm)
    return metric is not None and metric.startswith(DEV_PREFIX)


def needs_dev(arm) -> bool:
    """Whether the arm reads a dev split while it trains (`selects_on_dev` or `watches_dev`)."""
    return selects_on_dev(arm) or watches_dev(arm)


def arm_summary(name: str, arm) -> str:
    """One line a reader of a report understands, e.g. `chord_mu: μ 0.9→0.05 over 200 steps (cosine)`."""
    scale = "" if arm.sft_weight == 1.0 else f", expert term scaled by {arm.sft_weight:g}"
    mu = mix_of(arm).describe(arm) or SCHEDULES[arm.schedule].describe(arm)
    return f"{name}: {mu}{WEIGHTINGS[arm.weighting].describe}{scale}"


def ordered(arms) -> list[str]:
    """Arms in display order: the built-in ones first (as `ARM_NAMES`), then the others by name."""
    known = [a for a in ARM_NAMES if a in arms]
    return known + sorted(a for a in arms if a not in ARM_NAMES)
