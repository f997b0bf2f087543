import math

import pytest
import torch

from phasescope.arms import WEIGHTINGS, expert_weights, is_weight, no_weight, phi_weight
from phasescope.train.losses import chord_loss, grpo_loss, masked_mean, sft_loss


def test_grpo_loss_unclipped_is_minus_token_mean_advantage():
    # ratio 1 everywhere (logp == old): loss = -mean over masked tokens of A
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    adv = torch.tensor([2.0, -1.0])
    loss, clip = grpo_loss(logp, logp, adv, mask, 0.2)
    assert loss.item() == pytest.approx(-(2 + 2 - 1) / 3)
    assert clip.item() == 0.0


def test_grpo_loss_clips_positive_advantage_above_one_plus_eps():
    old = torch.zeros(1, 2)
    logp = torch.tensor([[math.log(1.5), math.log(0.9)]])  # ratios 1.5 (clipped to 1.2) and 0.9
    adv = torch.tensor([1.0])
    loss, clip = grpo_loss(logp, old, adv, torch.ones(1, 2), 0.2)
    assert loss.item() == pytest.approx(-(1.2 + 0.9) / 2)
    assert clip.item() == pytest.approx(0.5)


def test_grpo_loss_negative_advantage_takes_pessimistic_side():
    old = torch.zeros(1, 1)
    logp = torch.tensor([[math.log(0.5)]])  # ratio 0.5 < 0.8: with A < 0 min(r*A, clip(r)*A) = 0.8*A
    loss, _ = grpo_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 1), 0.2)
    assert loss.item() == pytest.approx(0.8)


def test_grpo_gradient_vanishes_when_clipped():
    old = torch.zeros(1, 1)
    logp = torch.tensor([[math.log(1.5)]], requires_grad=True)
    loss, _ = grpo_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 1), 0.2)
    loss.backward()
    assert logp.grad.abs().item() == 0.0


def test_sft_loss_token_mean_nll():
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.9], [0.1, 1.0, 1.0]]))
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    expected = -(math.log(0.5) + math.log(0.25) + math.log(0.1)) / 3
    assert sft_loss(logp, mask).item() == pytest.approx(expected)


def test_sft_loss_phi_weighted_hand_computed():
    p = torch.tensor([[0.5, 0.9]])
    logp = p.log()
    w = phi_weight(logp)
    assert w.tolist()[0] == pytest.approx([0.25, 0.09])
    expected = -(0.25 * math.log(0.5) + 0.09 * math.log(0.9)) / 2
    assert sft_loss(logp, torch.ones(1, 2), w).item() == pytest.approx(expected)


def test_weights_are_detached_and_carry_no_gradient():
    logp = torch.log(torch.tensor([0.3, 0.7])).requires_grad_(True)
    for fn in (phi_weight, is_weight, no_weight):
        assert not fn(logp).requires_grad
    # the weighted loss gradient is w * d(-logp): phi is a constant factor, not differentiated
    w = phi_weight(logp)
    loss = sft_loss(logp.unsqueeze(0), torch.ones(1, 2), w.unsqueeze(0))
    loss.backward()
    assert logp.grad.tolist() == pytest.approx((-w / 2).tolist())


def test_is_weight_is_p_and_phi_peaks_at_half():
    p = torch.tensor([0.0, 0.5, 1.0])
    logp = torch.log(p.clamp(min=1e-30))
    assert is_weight(logp).tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)
    assert phi_weight(logp).tolist() == pytest.approx([0.0, 0.25, 0.0], abs=1e-6)
    assert {"none", "phi", "is"} <= set(WEIGHTINGS)


def test_chord_loss_endpoints_equal_pure_losses():
    g, s = torch.tensor(0.7), torch.tensor(2.0)
    assert chord_loss(g, s, 0.0).item() == pytest.approx(0.7)
    assert chord_loss(g, s, 1.0).item() == pytest.approx(2.0)
    assert chord_loss(g, s, 0.25).item() == pytest.approx(0.75 * 0.7 + 0.25 * 2.0)


def test_chord_loss_missing_terms_are_zero_not_nan():
    assert chord_loss(None, torch.tensor(2.0), 1.0).item() == 2.0  # no rollouts while mu = 1
    assert chord_loss(torch.tensor(0.5), None, 0.0).item() == 0.5  # no expert rows while mu = 0
    with pytest.raises(ValueError):
        chord_loss(None, None, 0.5)
    with pytest.raises(ValueError):
        chord_loss(torch.tensor(1.0), torch.tensor(1.0), 1.5)


def test_masked_mean_of_empty_mask_is_zero_and_differentiable():
    x = torch.ones(2, 2, requires_grad=True)
    m = masked_mean(x, torch.zeros(2, 2))
    assert m.item() == 0.0
    m.backward()
    assert torch.isfinite(x.grad).all()


def test_grpo_no_nonzero_advantages_gives_zero_loss_not_nan():
    logp = torch.randn(4, 3)
    loss, _ = grpo_loss(logp, logp.detach(), torch.zeros(4), torch.ones(4, 3), 0.2)
    assert loss.item() == 0.0


def test_grpo_loss_multiplies_each_token_by_the_sampler_ratio():
    # ratio 1 (logp == old), A = 1: per-token surrogate -1, times the IS ratio, token mean
    logp = torch.zeros(2, 2)
    mask = torch.tensor([[1, 1], [1, 0]])
    per_token = torch.tensor([[0.5, 2.0], [0.0, 9.0]])
    loss, _ = grpo_loss(logp, logp, torch.tensor([1.0, 1.0]), mask, 0.2, per_token)
    assert loss.item() == pytest.approx(-(0.5 + 2.0 + 0.0) / 3)
    per_seq = torch.tensor([[3.0], [0.0]])  # sequence-level (masked) ratio, broadcast over tokens
    loss, _ = grpo_loss(logp, logp, torch.tensor([1.0, 1.0]), mask, 0.2, per_seq)
    assert loss.item() == pytest.approx(-(3.0 + 3.0 + 0.0) / 3)


@pytest.mark.parametrize(
    "arm, expected",
    [
        # p = (0.5, 0.9), GRPO term 0.7; ln 0.5 = −0.693147, ln 0.9 = −0.105361
        # sft_scaled: 0.9·0.7 + 0.1·0.032·(0.693147 + 0.105361)/2
        ("sft_scaled", 0.9 * 0.7 + 0.1 * 0.032 * 0.3992538),
        # chord_phi_mu03: 0.7·0.7 + 0.3·(0.25·0.693147 + 0.09·0.105361)/2
        ("chord_phi_mu03", 0.7 * 0.7 + 0.3 * 0.0913846),
        # chord_phi_mu1: the φ-weighted NLL alone, no GRPO term
        ("chord_phi_mu1", 0.0913846),
        ("chord_phi", 0.9 * 0.7 + 0.1 * 0.0913846),
    ],
)
def test_chord_phi_controls_hand_computed(arm, expected):
    from phasescope.config import default_arms

    config = default_arms()[arm]
    logp = torch.tensor([[0.5, 0.9]]).log()
    sft = sft_loss(logp, torch.ones(1, 2), expert_weights(config, logp))
    assert chord_loss(torch.tensor(0.7), sft, config.mu).item() == pytest.approx(expected, rel=1e-5)


def test_sft_weight_scales_every_token_and_is_exactly_1_elsewhere():
    from phasescope.config import default_arms

    arms = default_arms()
    logp = torch.tensor([[0.5, 0.9, 0.99]]).log()
    assert expert_weights(arms["sft_scaled"], logp).tolist()[0] == pytest.approx([0.032] * 3)
    assert torch.equal(expert_weights(arms["chord_phi"], logp), phi_weight(logp))  # the same tensor values
    assert torch.equal(expert_weights(arms["sft"], logp), torch.ones(1, 3))
