"""The objectives of the per-prompt mixes (`arms/mixing.py`) as pure functions on tensors.

    LUFFY:  L = token-mean over rollout and demo tokens of { PPO-clip(Â_i) on rollouts ; −Â_e·f(p) on demos }
            f(p) = p/(p + γ), γ = 0.1, Â = r − mean of the group with its demo (no std)
    SRFT:   L = token-mean over rollout and demo tokens of { −c_i·log p on rollouts ; −Â_e·f(p) on demos }
              + token-mean over demo tokens of −0.5·sg(e^{−H_e})·log p,
            c_i = 0.1·sg(e^{H_i}) for a correct rollout, −1 for a wrong one (H: a row's mean token entropy)
    HPT:    L = token-mean over kept rollout tokens of PPO-clip(r − group mean)
              + sft_weight · token-mean over the gated prompts' demo tokens of −log p
    ReLIFT: L = the rl arm's GRPO loss; its SFT update on the buffer is `losses.sft_loss` (plain NLL).

Sources: LUFFY `ElliottYan/LUFFY` (luffy/verl/verl/mix_src/mix_core_alg.py,
`compute_token_on_off_policy_loss` with ``off_policy_reshape="p_div_p_0.1"``; exp_scripts/train.sh);
SRFT as re-implemented in `TsinghuaC3I/Unify-Post-Training` (hpt/verl/verl/mix_src/mix_actor.py,
``offline_loss_type="srft"``, ``srft_type="paper"``, and mix_core_alg.py's
`compute_token_on_off_policy_srft_loss`); HPT, same repository (mix_actor.py ``offline_loss_type="sft"``:
``pg_loss = sft_loss * sft_loss_coef + pg_loss``; mix_trainer.py `select_on_off_ada_balance`, strategy
"switch", ``switch_gate=0``); ReLIFT `TheRoadQaQ/ReLIFT` (verl/relift/trainer.py: "solve none" prompts
buffered, one SFT update of ``sft_data_size`` rows).

Departures from the references, on purpose:
- Token means, not the scripts' ``loss_remove_token_mean=True`` (a sum over tokens divided by the
  longest response length): phasescope's every arm is a token mean (`losses.py`), so arms differ in
  their mix only.
- On-policy tokens keep PPO's clip (the issue's and LUFFY paper's statement; the scripts set
  ``loss_remove_clip=True``, which with one update per generation changes nothing: the ratio is 1).
- LUFFY's group is the K rollouts plus the demonstration (LUFFY replaces one of its 8 rollouts by it).
- No entropy bonus (the references' ``entropy_coeff=0.001``): no arm of phasescope has one.
- The demonstration's reward is measured once, on its text, by the run's reward (the world's exact
  answer; for real data 1.0: a demonstration counts as correct).
- SRFT's H is each row's own mean entropy, as in the re-implementation (``masked_mean(..., axis=-1)``),
  and its rollouts' coefficient reads the reward (correct = reward 1), not the advantage.
"""

from __future__ import annotations

import torch

from phasescope.arms.mixing import LUFFY_GAMMA, row_entropy, srft_rollout_coef, srft_weight
from phasescope.train.losses import ppo_per_token


def shaped_off_policy(
    logp: torch.Tensor, advantages: torch.Tensor, gamma: float = LUFFY_GAMMA
) -> torch.Tensor:
    """LUFFY's expert-token loss −Â·f(p), f(p) = p/(p + γ), per token (B, T); advantages (B,) per row."""
    p = logp.exp()
    return -advantages.reshape(-1, 1) * (p / (p + gamma))


def joint_token_mean(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Mean of per-token values over the union of several masked sets (rollout and demo tokens):
    Σ values·mask / Σ mask, exactly 0 when every mask is empty."""
    total = sum((v * m.to(v.dtype)).sum() for v, m in parts)
    count = sum(m.sum() for _, m in parts)
    return total / torch.as_tensor(count, dtype=total.dtype).clamp(min=1.0)


def group_advantages(
    rewards: torch.Tensor, group_mean: torch.Tensor, group_size: int, demo_reward: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """LUFFY's Â = r − mean(group ∪ demo), no std (``grpo_use_std=False``), for a rollout of each row.

    rewards, group_mean (the K rollouts' mean), demo_reward: (B,) per rollout row. Returns (the rollouts'
    Â, the mean with the demo) — a demo's Â is its reward minus that mean."""
    mean = (group_mean * group_size + demo_reward) / (group_size + 1)
    return rewards - mean, mean


def luffy_loss(
    logp_r: torch.Tensor,
    old_r: torch.Tensor,
    adv_r: torch.Tensor,
    mask_r: torch.Tensor,
    logp_e: torch.Tensor,
    adv_e: torch.Tensor,
    mask_e: torch.Tensor,
    clip_range: float,
    gamma: float = LUFFY_GAMMA,
    is_ratio: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LUFFY (module docstring). _r: the rollouts (B, T) with Â (B,); _e: the demonstrations (D, T') with
    Â (D,). Returns (loss, the rollout tokens' clip fraction)."""
    on, clipped = ppo_per_token(logp_r, old_r, adv_r, clip_range, is_ratio)
    off = shaped_off_policy(logp_e, adv_e, gamma)
    loss = joint_token_mean([(on, mask_r), (off, mask_e)])
    clip_frac = joint_token_mean([(clipped.float(), mask_r)]).detach()
    return loss, clip_frac


def srft_loss(
    logp_r: torch.Tensor,
    ent_r: torch.Tensor,
    correct_r: torch.Tensor,
    mask_r: torch.Tensor,
    logp_e: torch.Tensor,
    ent_e: torch.Tensor,
    adv_e: torch.Tensor,
    mask_e: torch.Tensor,
    gamma: float = LUFFY_GAMMA,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SRFT (module docstring): returns (its RL term, its SFT term); the loss is their sum. Entropies are
    per token (B, T), as the trainer has them; correct_r: (B,) booleans."""
    coef = srft_rollout_coef(row_entropy(ent_r, mask_r), correct_r)
    on = -coef * logp_r
    off = shaped_off_policy(logp_e, adv_e, gamma)
    rl = joint_token_mean([(on, mask_r), (off, mask_e)])
    w = srft_weight(logp_e, row_entropy(ent_e, mask_e))
    sft = joint_token_mean([(-w * logp_e, mask_e)])
    return rl, sft


def sum_terms(*terms: torch.Tensor | None) -> torch.Tensor:
    """The sum of the terms present (HPT's ``sft_loss * coef + pg_loss``; a missing term counts as 0)."""
    present = [t for t in terms if t is not None]
    if not present:
        raise ValueError("no loss term: the update has neither rollouts nor demonstrations")
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total
