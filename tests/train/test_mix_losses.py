"""Each published mix's loss and gradient against a hand-written reference on a small batch.

The references are written token by token from the papers' formulas (docs/arms.md), with their
gradients derived by hand: d/dlogp of −Â·p/(p + γ) is −Â·γp/(p + γ)², of −c·log p is −c.
"""

import math
from types import SimpleNamespace

import pytest
import torch

from phasescope.arms import WEIGHTINGS, expert_weights, is_weight
from phasescope.arms.mixing import buffer_size, gated, luffy_weight, srft_rollout_coef, srft_weight
from phasescope.config import default_arms
from phasescope.train.losses import grpo_loss, sft_loss
from phasescope.train.mix_losses import group_advantages, luffy_loss, srft_loss, sum_terms
from phasescope.train.paired import PairedMixin, group_stats

GAMMA = 0.1
# Two rollouts (3 and 2 tokens), one demonstration (2 tokens): N = 7 tokens in the joint mean.
P_R = [[0.5, 0.8, 0.3], [0.9, 0.6, 1.0]]
MASK_R = [[1, 1, 1], [1, 1, 0]]
P_E = [[0.02, 0.7]]
MASK_E = [[1, 1]]


def _leaf(p):
    return torch.tensor(p, dtype=torch.float64).log().requires_grad_(True)


def _shaping_grad(a, p):
    return -a * GAMMA * p / (p + GAMMA) ** 2


def test_luffy_loss_and_gradient_equal_the_hand_reference():
    lr, le = _leaf(P_R), _leaf(P_E)
    adv_r, adv_e = torch.tensor([0.5, -0.25], dtype=torch.float64), torch.tensor([0.75], dtype=torch.float64)
    loss, clip = luffy_loss(
        lr, lr.detach(), adv_r, torch.tensor(MASK_R), le, adv_e, torch.tensor(MASK_E), 0.2
    )
    loss.backward()
    # ratio 1 on every rollout token: −Â each; demo tokens: −Â_e·p/(p + γ)
    ref = (-0.5 * 3 + 0.25 * 2 - sum(0.75 * p / (p + GAMMA) for p in P_E[0])) / 7
    assert loss.item() == pytest.approx(ref, rel=1e-12) and clip.item() == 0.0
    assert lr.grad.flatten().tolist() == pytest.approx([-0.5 / 7] * 3 + [0.25 / 7, 0.25 / 7, 0.0], rel=1e-12)
    assert le.grad.tolist()[0] == pytest.approx([_shaping_grad(0.75, p) / 7 for p in P_E[0]], rel=1e-12)
    # Against the unshaped −Â·p (gradient ∝ p), shaping lifts the unlikely token (p = 0.02) about 45×
    # relative to the likely one (p = 0.7): LUFFY's point.
    assert (le.grad[0, 0] / 0.02) / (le.grad[0, 1] / 0.7) > 40


def test_luffy_rollouts_keep_the_ppo_clip():
    old = torch.zeros(1, 1, dtype=torch.float64)
    lr = torch.tensor([[math.log(1.5)]], dtype=torch.float64, requires_grad=True)  # ratio 1.5, clipped at 1.2
    le = _leaf([[0.5]])
    loss, clip = luffy_loss(
        lr, old, torch.tensor([1.0]), torch.ones(1, 1), le, torch.tensor([0.0]), torch.ones(1, 1), 0.2
    )
    loss.backward()
    assert loss.item() == pytest.approx(-1.2 / 2) and clip.item() == 1.0 and lr.grad.item() == 0.0


def test_group_advantages_put_the_demo_in_the_group_without_std():
    # K = 4 rollouts with rewards 1, 0, 0, 0 (mean 0.25) and a correct demo: mean (1 + 1)/5 = 0.4
    r = torch.tensor([1.0, 0.0, 0.0, 0.0])
    adv, mean = group_advantages(r, torch.full((4,), 0.25), 4, torch.ones(4))
    assert adv.tolist() == pytest.approx([0.6, -0.4, -0.4, -0.4]) and mean.tolist() == pytest.approx(
        [0.4] * 4
    )
    assert (1.0 - mean[0]).item() == pytest.approx(0.6)  # the demo's Â


def test_srft_loss_and_gradient_equal_the_hand_reference():
    lr, le = _leaf(P_R), _leaf(P_E)
    ent_r = torch.tensor([[0.3, 0.6, 0.9], [0.2, 0.4, 9.0]], dtype=torch.float64)  # 9.0 is padding
    ent_e = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    correct = torch.tensor([True, False])
    adv_e = torch.tensor([0.5], dtype=torch.float64)
    rl, sft = srft_loss(lr, ent_r, correct, torch.tensor(MASK_R), le, ent_e, adv_e, torch.tensor(MASK_E))
    (rl + sft).backward()
    c = [0.1 * math.exp(0.6), -1.0]  # correct: 0.1·e^{H}, H = (0.3+0.6+0.9)/3; wrong: −1
    w = 0.5 * math.exp(-0.75)  # demo's H = 0.75
    lp_r = [[math.log(p) for p in row] for row in P_R]
    ref_rl = (-c[0] * sum(lp_r[0]) - c[1] * sum(lp_r[1][:2]) - sum(0.5 * p / (p + GAMMA) for p in P_E[0])) / 7
    ref_sft = -w * sum(math.log(p) for p in P_E[0]) / 2
    assert rl.item() == pytest.approx(ref_rl, rel=1e-12) and sft.item() == pytest.approx(ref_sft, rel=1e-12)
    assert lr.grad.flatten().tolist() == pytest.approx(
        [-c[0] / 7] * 3 + [-c[1] / 7, -c[1] / 7, 0.0], rel=1e-12
    )
    ref_e = [_shaping_grad(0.5, p) / 7 - w / 2 for p in P_E[0]]
    assert le.grad.tolist()[0] == pytest.approx(ref_e, rel=1e-12)


def test_srft_coefficients_and_weight():
    h = torch.tensor([[0.0], [1.0]])
    assert srft_rollout_coef(h, torch.tensor([True, False])).flatten().tolist() == pytest.approx([0.1, -1.0])
    logp = torch.zeros(1, 2)
    assert srft_weight(logp, torch.tensor([[1.0]])).tolist()[0] == pytest.approx([0.5 / math.e] * 2)


def test_hpt_loss_is_grpo_on_kept_groups_plus_sft_on_gated_demos():
    # Group A (rows 0-1) has a correct rollout: GRPO with Â = r − mean. Group B (rows 2-3) has none:
    # its rollouts are dropped and its demo is trained by SFT.
    lr = _leaf([[0.5, 0.8], [0.9, 0.6], [0.3, 0.3], [0.4, 0.4]])
    le = _leaf([[0.2, 0.7, 0.9]])
    r = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    stats = group_stats(r, 2)
    keep = ~gated(stats["group_correct"], 0)
    assert keep.tolist() == [True, True, False, False]
    adv = r - stats["group_mean"]
    kept = torch.ones(4, 2) * keep.unsqueeze(1)
    pg, _ = grpo_loss(lr, lr.detach(), adv, kept, 0.2)
    sft = sft_loss(le, torch.ones(1, 3), expert_weights(default_arms()["hpt"], le))
    total = sum_terms(pg, sft)
    total.backward()
    ref = (-0.5 * 2 + 0.5 * 2) / 4 - sum(math.log(p) for p in (0.2, 0.7, 0.9)) / 3
    assert total.item() == pytest.approx(ref, rel=1e-12)
    assert lr.grad.flatten().tolist() == pytest.approx([-0.125, -0.125, 0.125, 0.125, 0, 0, 0, 0], rel=1e-12)
    assert le.grad.tolist()[0] == pytest.approx([-1 / 3] * 3, rel=1e-12)


def test_dft_loss_and_gradient_equal_trl_sft_loss_type_dft():
    # TRL 1.16 SFTTrainer, loss_type="dft": per_token = −log p · sg(p), summed over tokens / #tokens.
    logp = _leaf([[0.5, 0.1, 0.9], [0.3, 0.6, 0.7]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    loss = sft_loss(logp, mask, expert_weights(default_arms()["dft"], logp))
    loss.backward()
    ps = [0.5, 0.1, 0.9, 0.3, 0.6]
    assert loss.item() == pytest.approx(-sum(p * math.log(p) for p in ps) / 5, rel=1e-12)
    assert logp.grad[mask.bool()].tolist() == pytest.approx([-p / 5 for p in ps], rel=1e-12)
    assert torch.equal(expert_weights(default_arms()["dft"], logp), is_weight(logp))


def test_relift_sft_update_is_plain_nll():
    logp = _leaf([[0.5, 0.25]])
    loss = sft_loss(logp, torch.ones(1, 2), expert_weights(default_arms()["relift"], logp))
    loss.backward()
    assert loss.item() == pytest.approx(-(math.log(0.5) + math.log(0.25)) / 2)
    assert logp.grad.tolist()[0] == pytest.approx([-0.5, -0.5])


def test_luffy_weight_is_the_gradient_factor_of_its_loss():
    logp = _leaf([[0.05, 0.5, 0.95]])
    adv = torch.tensor([[2.0]], dtype=torch.float64)
    (-(adv * logp.exp() / (logp.exp() + GAMMA)).sum()).backward()
    assert (-logp.grad).flatten().tolist() == pytest.approx(
        luffy_weight(logp, advantage=adv).flatten().tolist(), rel=1e-12
    )
    assert {"luffy", "srft"} <= set(WEIGHTINGS) and WEIGHTINGS["luffy"].reads == ("advantage",)


def test_group_stats_on_planted_rewards():
    r = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    s = group_stats(r, 3)
    assert s["group_mean"].tolist() == pytest.approx([2 / 3] * 3 + [0.0] * 3)
    assert s["group_correct"].tolist() == [2, 2, 2, 0, 0, 0]
    assert s["demo_owner"].tolist() == [1, 0, 0, 1, 0, 0]


class _Acc:
    device, num_processes, process_index = torch.device("cpu"), 1, 0


def test_relift_buffers_the_unsolved_prompts_newest_first():
    fake = SimpleNamespace(
        accelerator=_Acc(),
        reward_weights=torch.ones(1),
        num_generations=2,
        arm=default_arms()["relift"],
        relift_buffer=[99],
    )
    for rewards, idx in (([0.0, 0.0, 1.0, 0.0], [7, 7, 3, 3]), ([0.0, 0.0, 0.0, 0.0], [5, 5, 6, 6])):
        fake._all_rewards = torch.tensor(rewards).unsqueeze(1)
        rows = [{"expert_index": i, "demo_reward": 1.0} for i in idx]
        cols = PairedMixin.group_columns(fake, rows)
    assert fake.relift_buffer == [5, 6, 7, 99]  # prompt 3 had a correct rollout: not buffered
    assert cols["mix_group_correct"].tolist() == [0, 0, 0, 0]
    assert buffer_size(fake.arm, 4) == 4 and buffer_size(SimpleNamespace(buffer_size=16), 4) == 16
