"""PhaseTrainer's loss against TRL's own: at μ = 0 it *is* TRL 1.16's `_compute_loss` (loss and every
gradient, with and without the vLLM importance-sampling ratio); at μ = 0.5 it is (1 − μ)·TRL + μ·the
NLL of the update's expert rows, computed here by hand, one row at a time, from the model's logits.

A tiny GPT-2 (dropout off) and a hand-built batch with the keys TRL's `_generate_and_score_completions`
returns; both losses run on the same trainer, so they see the same model and settings. Float32:
losses agree to rtol 1e-6 and gradients to rtol 1e-5 / atol 1e-7. The expert rows have prompts of
different lengths: the hand NLL scores each row unpadded from position 0, so the test also checks
that the trainer's SFT term sees the positions of generation and evaluation (`lm.encode_from_start`).
"""

from __future__ import annotations

import pytest
import torch
from trl import GRPOConfig, GRPOTrainer

from phasescope.config import ArmConfig
from phasescope.errors import UsageError
from phasescope.train.expert_order import stream_position
from phasescope.train.trainer import ExpertSet, PhaseTrainer
from phasescope.world.model import build_model
from phasescope.world.tokenizer import CharTokenizer

LOSS_RTOL, GRAD_RTOL, GRAD_ATOL = 1e-6, 1e-5, 1e-7
PROMPTS = ["12+34=", "5+67=", "80+9=", "3+4="]
RESPONSES = ["46;", "72;", "89;", "7;", "|2+4+0=06|1+3+0=04|=46;", "|5+7+0=12|0+6+1=07|=72;"]


def _trainer(tmp_path, arm: ArmConfig, **grpo) -> PhaseTrainer:
    from datasets import Dataset

    torch.set_num_threads(1)
    tok = CharTokenizer()
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        use_cpu=True,
        bf16=False,
        report_to="none",
        beta=0.0,
        seed=0,
        **grpo,
    )
    expert = ExpertSet(tok, PROMPTS[:2] * 3, RESPONSES, batch_size=4, seed=0)
    trainer = PhaseTrainer(
        model=build_model(tok, 1, 16, 2, n_positions=48, seed=0),
        reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
        processing_class=tok,
        arm=arm,
        expert=expert,
        on_row=lambda row: None,
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    return trainer


def _rollout_batch(trainer, is_ratio: torch.Tensor | None = None) -> dict:
    """What TRL's generation step hands the loss: 4 rows, left-padded prompts, ragged completions."""
    g = torch.Generator().manual_seed(1)
    tok = trainer.processing_class
    enc = [tok.encode(p, add_special_tokens=False) for p in PROMPTS]
    width = max(map(len, enc))
    prompt_ids = torch.full((4, width), tok.pad_token_id)
    prompt_mask = torch.zeros(4, width, dtype=torch.long)
    for i, ids in enumerate(enc):
        prompt_ids[i, width - len(ids) :] = torch.tensor(ids)
        prompt_mask[i, width - len(ids) :] = 1
    completion_ids = torch.randint(0, tok.vocab_size - 1, (4, 5), generator=g)
    completion_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 0, 0, 0, 0]])
    # Old log-probabilities off the current ones, so that the clip bites on some tokens.
    with torch.no_grad():
        now, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model,
            torch.cat([prompt_ids, completion_ids], 1),
            torch.cat([prompt_mask, completion_mask], 1),
            5,
        )
    batch = {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor([1.0, -1.0, 0.5, -0.7]),
        "old_per_token_logps": now + 0.3 * torch.randn(now.shape, generator=g),
        "num_items_in_batch": completion_mask.sum(),
    }
    if is_ratio is not None:
        batch["importance_sampling_ratio"] = is_ratio
    return batch


def _grads(loss, trainer):
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _loss_and_grads(trainer, fn, inputs):
    loss = fn(trainer.model, inputs)
    return loss.detach(), _grads(loss, trainer)


def _assert_same(a, b, scale_b: float = 1.0, extra=None, tol=(LOSS_RTOL, GRAD_RTOL, GRAD_ATOL)):
    (la, ga), (lb, gb) = a, b
    want = scale_b * lb + (0.0 if extra is None else extra[0])
    assert la.item() == pytest.approx(want.item(), rel=tol[0])
    for i, (x, y) in enumerate(zip(ga, gb)):
        y = scale_b * y + (0.0 if extra is None else extra[1][i])
        torch.testing.assert_close(x, y, rtol=tol[1], atol=tol[2])


def _trl(trainer, inputs):
    return _loss_and_grads(trainer, lambda m, x: GRPOTrainer._compute_loss(trainer, m, x), inputs)


def _ours(trainer, inputs, mu: float, step: int = 1):
    x = dict(inputs, mu=mu)
    if mu > 0:
        x["expert"] = trainer.expert.batch(stream_position(step, trainer.arm, trainer.expert.batch_size))
    return _loss_and_grads(trainer, trainer._compute_loss, x)


def test_mu0_equals_trls_compute_loss(tmp_path):
    trainer = _trainer(tmp_path, ArmConfig(schedule="constant", mu=0.0))
    batch = _rollout_batch(trainer)
    _assert_same(_ours(trainer, batch, 0.0), _trl(trainer, batch))
    assert trainer._step_stats["rollout/clip_frac"] > 0  # the clip was exercised


@pytest.mark.parametrize("shape", [(4, 5), (4, 1)], ids=["token", "sequence"])
def test_mu0_applies_the_vllm_importance_sampling_ratio_as_trl_does(tmp_path, shape):
    trainer = _trainer(tmp_path, ArmConfig(schedule="constant", mu=0.0))
    # What TRL sets up for use_vllm: the flags its _compute_loss reads (no vLLM needed on CPU).
    trainer.use_vllm, trainer.vllm_importance_sampling_correction = True, True
    ratio = torch.rand(shape, generator=torch.Generator().manual_seed(2)) * 2.0
    batch = _rollout_batch(trainer, ratio)
    ours, trl = _ours(trainer, batch, 0.0), _trl(trainer, batch)
    _assert_same(ours, trl)
    trainer.use_vllm = False  # without the correction the loss differs: the ratio really is applied
    assert _ours(trainer, batch, 0.0)[0].item() != pytest.approx(ours[0].item(), rel=1e-3)


def _hand_nll(trainer, rows: list[int], weight=None):
    """Token-mean NLL of the expert responses, row by row, unpadded, from the model's own logits;
    with `weight`, each token's term times weight(p) (p detached), as the weighted SFT term."""
    tok, ex = trainer.processing_class, trainer.expert
    total, count = 0.0, 0
    for i in rows:
        p = tok.encode(ex.prompts[i], add_special_tokens=False)
        r = tok.encode(ex.responses[i], add_special_tokens=False)
        logits = trainer.model(input_ids=torch.tensor([p + r])).logits[0]
        logp = torch.log_softmax(logits[len(p) - 1 : -1].float(), dim=-1)[
            torch.arange(len(r)), torch.tensor(r)
        ]
        w = 1.0 if weight is None else weight(logp.detach().exp())
        total = total - (w * logp).sum()
        count += len(r)
    return total / count


def test_mu_half_equals_the_mix_of_trl_and_a_hand_computed_nll(tmp_path):
    trainer = _trainer(tmp_path, ArmConfig(schedule="constant", mu=0.5))
    batch = _rollout_batch(trainer)
    step = 2  # update 2's rows: positions 4..7 of the epoch-wise stream over 6 rows (crosses an epoch)
    rows = trainer.expert.indices(stream_position(step, trainer.arm, 4))
    assert rows == trainer.expert.indices(4) and len(rows) == 4
    nll = _hand_nll(trainer, rows)
    hand = (nll.detach(), _grads(nll, trainer))
    mixed = (0.5 * hand[0], [0.5 * g for g in hand[1]])
    _assert_same(_ours(trainer, batch, 0.5, step), _trl(trainer, batch), 0.5, mixed)


@pytest.mark.parametrize(
    "option", [{"epsilon_high": 0.28}, {"loss_type": "grpo"}, {"top_entropy_quantile": 0.2}, {"delta": 2.0}]
)
def test_building_the_trainer_refuses_an_unsupported_option(tmp_path, option):
    with pytest.raises(UsageError, match=next(iter(option))):
        _trainer(tmp_path, ArmConfig(schedule="constant", mu=0.0), **option)


@pytest.mark.parametrize(
    "arm, weight",
    [
        ("sft_scaled", lambda p: 0.032),  # plain SFT at the constant scale 0.032 (mean φ of the base)
        ("chord_phi_mu03", lambda p: p * (1 - p)),  # φ = p(1 − p) at μ = 0.3
    ],
)
def test_chord_phi_controls_equal_the_mix_of_trl_and_a_hand_weighted_nll(tmp_path, arm, weight):
    from phasescope.config import default_arms

    config = default_arms()[arm]
    mu = config.mu
    trainer = _trainer(tmp_path, config)
    batch = _rollout_batch(trainer)
    nll = _hand_nll(trainer, trainer.expert.indices(stream_position(1, config, 4)), weight)
    hand = (nll.detach(), _grads(nll, trainer))
    mixed = (mu * hand[0], [mu * g for g in hand[1]])
    _assert_same(_ours(trainer, batch, mu), _trl(trainer, batch), 1.0 - mu, mixed)


def test_chord_phi_at_mu_1_is_the_hand_phi_weighted_nll_alone(tmp_path):
    from phasescope.config import default_arms

    trainer = _trainer(tmp_path, default_arms()["chord_phi_mu1"])
    x = {"mu": 1.0, "expert": trainer.expert.batch(0)}  # no rollouts at μ = 1
    nll = _hand_nll(trainer, trainer.expert.indices(0), lambda p: p * (1 - p))
    _assert_same(_loss_and_grads(trainer, trainer._compute_loss, x), (nll.detach(), _grads(nll, trainer)))
