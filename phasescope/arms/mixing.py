"""The μ rules of arms that mix SFT and RL per prompt, and the expert-token weights that read more than p.

An arm is a μ rule plus an expert-token weight (`phasescope.arms`). The μ rule `step` is the arm's
per-step schedule (`SCHEDULES`: CHORD and every arm before issue 24). The others decide per prompt,
from the rewards of that prompt's own rollout group, and pair each RL prompt with its own expert
demonstration (the arm's RL prompts are the expert set's problems, `Mix.paired`):

- `group` (LUFFY, SRFT): the demonstration joins its prompt's GRPO group as one more member and
  shares its group-normalised advantage Â = r − mean(group ∪ demo) (LUFFY's ``grpo_use_std=False``);
- `gate` (HPT's ``select_on_off_ada_balance``, strategy "switch"): a prompt with at most `gate`
  correct rollouts is trained by SFT on its demonstration (its rollouts are dropped), every other
  prompt by GRPO (Â = r − group mean);
- `buffer` (ReLIFT): GRPO on every prompt; a prompt with at most `gate` correct rollouts sends its
  demonstration to a buffer, and once the buffer holds `buffer_size` rows one SFT update on them is
  made at train.sft_lr, after the RL update of that step.

The μ a row logs (`train/mu`) for these rules: `group`, the demonstrations' share of the rows of a
group, 1/(K + 1); `gate`, the share of the update's prompts trained on their demonstration; `buffer`,
the demonstration rows' share of the prompts and rows trained at that step (0 on a step without the
SFT update). Before training (planning a run, `mu_at` without state) every such rule may take any μ,
so it plans with 0.5 (an RL term and an expert term; the RL learning rate).

The weights (`ExpertWeighting` entries of `arms.WEIGHTINGS`) are detached factors on −∇log p of an
expert token, pure functions of the token log-probabilities and, for these arms, the policy's entropy
and the group's advantage; `losses`/`mix_losses` hold the objectives whose gradient they are.
Never imports torch (tensor methods only), like the rest of the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LUFFY_GAMMA = 0.1
"""LUFFY's policy shaping f(p) = p/(p + γ): ``off_policy_reshape="p_div_p_0.1"``."""
SRFT_SFT_SCALE, SRFT_POS_SCALE = 0.5, 0.1
"""SRFT's 0.5·sg(e^{−H}) on the demonstrations' SFT term and 0.1·sg(e^{H}) on correct rollouts."""


@dataclass(frozen=True)
class Mix:
    """A μ rule: how an update divides its prompts between the expert and the rollouts."""

    describe: Callable[[object], str]
    paired: bool = False
    """Whether each RL prompt needs its own demonstration (the RL prompts are the expert set's)."""
    plan_mu: float | None = None
    """The μ every step may take, before training (None: the arm's per-step schedule)."""


MIXES: dict[str, Mix] = {
    "step": Mix(lambda arm: ""),
    "group": Mix(
        lambda arm: "each prompt's demonstration joins its GRPO group (Â = r − group mean)", True, 0.5
    ),
    "gate": Mix(
        lambda arm: (
            f"per prompt: SFT on its demonstration when ≤ {arm.gate} of its rollouts are correct, else GRPO"
        ),
        True,
        0.5,
    ),
    "buffer": Mix(
        lambda arm: (
            f"GRPO; demonstrations of prompts with ≤ {arm.gate} correct rollouts are buffered, one SFT update "
            f"at train.sft_lr once {arm.buffer_size or 'train.prompts_per_step'} are held"
        ),
        True,
        0.5,
    ),
}
"""μ rule name → `Mix`; `step` is every arm whose μ is a per-step schedule."""


def mix_of(arm) -> Mix:
    """The arm's μ rule (an arm-like object without `mix` is a per-step arm)."""
    return MIXES[getattr(arm, "mix", "step")]


def is_paired(arm) -> bool:
    """Whether the arm pairs each RL prompt with its own demonstration (module docstring)."""
    return mix_of(arm).paired


def gated(n_correct: float, gate: int) -> bool:
    """HPT's switch and ReLIFT's buffer test: a prompt with at most `gate` correct rollouts goes to the expert."""
    return n_correct <= gate


def buffer_size(arm, prompts_per_step: int) -> int:
    """ReLIFT's SFT batch: `arm.buffer_size`, or one RL batch of prompts when 0 (the paper: 128 = its
    train_batch_size)."""
    return arm.buffer_size or prompts_per_step


# --- expert-token weights that read p, the entropy and the advantage -------------------------------------


def luffy_weight(logp, entropy=None, advantage=None, gamma: float = LUFFY_GAMMA):
    """LUFFY: the expert-token loss −Â·f(p), f(p) = p/(p + γ), has gradient −Â·γp/(p + γ)²·∇log p:
    weight Â·γp/(p + γ)², largest for unlikely tokens (f' ≈ 1/γ at p → 0), ~0 for known ones."""
    p = logp.detach().exp()
    w = gamma * p / (p + gamma) ** 2
    return w if advantage is None else w * advantage.detach()


def row_entropy(entropy, mask):
    """Each row's mean entropy over its masked tokens, (B, T) → (B, 1), detached (SRFT's H)."""
    m = mask.to(entropy.dtype)
    return ((entropy.detach() * m).sum(-1) / m.sum(-1).clamp(min=1.0)).unsqueeze(-1)


def srft_weight(logp, entropy=None, advantage=None):
    """SRFT's SFT weight on a demonstration token: 0.5·sg(e^{−H}), H the demonstration's mean token entropy
    (`entropy` here is already H per row, (B, 1), or per token); 0.5 where no entropy is given."""
    if entropy is None:
        return logp.detach().new_full(logp.shape, SRFT_SFT_SCALE)
    return (SRFT_SFT_SCALE * (-entropy.detach()).exp()).expand_as(logp)


def srft_rollout_coef(entropy, correct):
    """SRFT's per-rollout coefficient on −log p: 0.1·sg(e^{H}) for a correct rollout, −1 for a wrong one.

    entropy: (B, 1) mean entropy per rollout; correct: (B,) booleans (reward 1)."""
    pos = SRFT_POS_SCALE * entropy.detach().exp()
    return pos.where(correct.reshape(-1, 1).bool(), pos.new_full(pos.shape, -1.0))
