"""Every metrics row carries the run's cumulative budget/*: known answers on tiny runs, and the pure parts."""

import json

import pytest
import torch

from phasescope.arms import ARM_NAMES
from phasescope.config import load_config
from phasescope.train.budget import Budget, fresh_generation, update_cost

KEYS = ("budget/updates", "budget/samples", "budget/tokens", "budget/selection")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _rows(path):
    return [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]


def _check_every_row(rows):
    """All four keys on every row (train and eval rows), integers that never fall."""
    for r in rows:
        assert set(KEYS) <= set(r), (r["step"], sorted(r))
        assert all(isinstance(r[k], int) for k in KEYS)
    for k in KEYS:
        values = [r[k] for r in rows]
        assert values == sorted(values), (k, values)


def _world(cfg):
    from phasescope.world import build_world
    from phasescope.world.base import load_base

    world = build_world(cfg.world, log=lambda *_: None)
    _, tokenizer = load_base(world.base_path)
    return world, tokenizer


def _n_tokens(tokenizer, text):
    return len(tokenizer.encode(text, add_special_tokens=False))


# --- pure parts ------------------------------------------------------------------------------------


def test_an_update_adds_its_rows_and_tokens():
    b = Budget()
    b.add_update({"generated_rows": 4.0, "generated_tokens": 40.0, "rollout_tokens": 64.0})
    b.add_update({"expert_rows": 8.0, "expert_tokens": 100.0})
    assert b.row() == {"budget/updates": 2, "budget/samples": 12, "budget/tokens": 204, "budget/selection": 0}
    c = Budget()
    c.load(b.row())
    assert c == b


def test_cost_of_a_micro_batch_counts_non_padding_tokens():
    inputs = {
        "prompt_mask": torch.tensor([[1, 1, 1], [0, 1, 1]]),
        "completion_ids": torch.zeros(2, 4, dtype=torch.long),
        "completion_mask": torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]),
        "expert": {
            "prompt_mask": torch.ones(3, 2, dtype=torch.long),
            "completion_ids": torch.zeros(3, 5, dtype=torch.long),
            "completion_mask": torch.tensor([[0, 1, 1, 0, 0]] * 3),  # scored tokens
            "completion_attention_mask": torch.tensor([[1, 1, 1, 0, 0]] * 3),  # tokens through the model
        },
    }
    cost = {k.removeprefix("cost/"): float(v) for k, v in update_cost(inputs, generated=True).items()}
    assert cost == {
        "generated_rows": 2.0,
        "generated_tokens": 6.0,
        "rollout_tokens": 11.0,
        "expert_rows": 3.0,
        "expert_tokens": 15.0,
    }
    reused = {k.removeprefix("cost/"): float(v) for k, v in update_cost(inputs, generated=False).items()}
    assert reused["generated_rows"] == reused["generated_tokens"] == 0.0 and reused["rollout_tokens"] == 11.0


def test_reused_rollouts_are_generated_once():
    # TRL generates every steps_per_generation × num_iterations micro-batches and reuses the buffer
    assert [fresh_generation(s, 1, 1) for s in range(3)] == [True, True, True]
    assert [fresh_generation(s, 2, 2) for s in range(8)] == [True, True, False, False] * 2


# --- tiny runs -------------------------------------------------------------------------------------


def test_rl_counts_rollouts_and_their_tokens(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one

    cfg = load_config(None, tiny_world)
    train_one(cfg, "rl", 0, tmp_path, threads=1)
    rows = _rows(tmp_path)
    _check_every_row(rows)
    pg = cfg.train.prompts_per_step * cfg.train.num_generations
    assert [r["budget/updates"] for r in rows] == [r["step"] for r in rows] == [0, 1, 2, 3]
    assert [r["budget/samples"] for r in rows] == [k * pg for k in range(4)]
    assert all(r["budget/selection"] == 0 for r in rows)
    # one update's tokens from its logged lengths: every world prompt has the same length, and each
    # rollout's completion is generated once and goes through the forward/backward pass once.
    world, tokenizer = _world(cfg)
    prompt = _n_tokens(tokenizer, world.rl_problems[0].prompt)
    for prev, r in zip(rows, rows[1:]):
        completion = round(pg * r["rollout/response_length"])
        assert r["budget/tokens"] - prev["budget/tokens"] == 2 * completion + pg * prompt


def test_sft_counts_expert_rows_and_their_tokens_and_no_rollouts(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.expert_order import rows_at
    from phasescope.train.train_one import train_one

    cfg = load_config(None, tiny_world)
    train_one(cfg, "sft", 0, tmp_path, threads=1)
    rows = _rows(tmp_path)
    _check_every_row(rows)
    b = cfg.train.expert_batch_size
    assert [r["budget/samples"] for r in rows] == [k * b for k in range(4)]
    assert not any("rollout/response_length" in r for r in rows)
    # the expert rows of update k are the stream's rows (k−1)·B .. k·B − 1 (seed 0: the run's seed)
    world, tokenizer = _world(cfg)
    prompts, responses = world.expert_pairs
    expected = [0]
    for k in range(1, 4):
        idx = rows_at((k - 1) * b, b, len(prompts), 0)
        step = sum(_n_tokens(tokenizer, prompts[i]) + _n_tokens(tokenizer, responses[i]) for i in idx)
        expected.append(expected[-1] + step)
    assert [r["budget/tokens"] for r in rows] == expected


def test_chord_counts_both_terms(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one

    cfg = load_config(None, tiny_world)
    train_one(cfg, "chord_phi", 0, tmp_path, threads=1)
    rows = _rows(tmp_path)
    _check_every_row(rows)
    per_update = cfg.train.prompts_per_step * cfg.train.num_generations + cfg.train.expert_batch_size
    assert [r["budget/samples"] for r in rows] == [k * per_update for k in range(4)]


def test_the_rl_stage_continues_from_the_sft_stage(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one

    cfg = load_config(None, tiny_world)  # sft_steps = 2, then the rl arm's 3 steps
    train_one(cfg, "sft_then_rl", 0, tmp_path, threads=1)
    rows = _rows(tmp_path)
    _check_every_row(rows)
    b, pg = cfg.train.expert_batch_size, cfg.train.prompts_per_step * cfg.train.num_generations
    assert [r["budget/updates"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["budget/samples"] for r in rows] == [0, b, 2 * b, 2 * b + pg, 2 * b + 2 * pg, 2 * b + 3 * pg]
    sft_last, rl_first = rows[2], rows[3]
    assert rl_first["budget/tokens"] > sft_last["budget/tokens"] > 0
    assert all(r["budget/selection"] == 0 for r in rows)


@pytest.mark.parametrize("eval_steps", [2, 3])
def test_a_best_switch_row_carries_the_whole_sft_stage(
    eval_steps, tmp_path, tiny_cache, tiny_world, monkeypatch
):
    """SFT trained 3 steps to choose the switch at 2 (dev planted as in test_stages): the switch row and
    the RL stage are charged all 3 updates and the 4 dev evaluations. With eval_steps 3 the SFT stage did
    not evaluate step 2: the RL stage's start evaluation joins the held switch row, which keeps its totals."""
    from phasescope.train.train_one import train_one

    planted = {0: 0.9, 1: 0.8, 2: 0.6, 3: 0.4}
    monkeypatch.setattr(
        "phasescope.train.dev.world_dev_evaluator",
        lambda cfg, tok: lambda model, step: {"dev/accuracy": planted[step]},
    )
    sets = [
        "arms.sft_then_rl.sft_steps=best",
        "arms.sft_then_rl.dev_every=2",
        f"train.eval_steps={eval_steps}",
    ]
    cfg = load_config(None, [*tiny_world, *sets])
    train_one(cfg, "sft_then_rl", 0, tmp_path, threads=1)
    switch = json.loads((tmp_path / "switch.json").read_text())
    assert switch["switch_step"] == 2 and switch["sft_stage_steps"] == 3 and len(switch["dev_curve"]) == 4
    rows = _rows(tmp_path)
    _check_every_row(rows)
    b, pg = cfg.train.expert_batch_size, cfg.train.prompts_per_step * cfg.train.num_generations
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["budget/updates"] for r in rows] == [0, 1, 3, 4, 5, 6]
    assert [r["budget/selection"] for r in rows] == [1, 2, 4, 4, 4, 4]  # dev evaluations at steps ≤ row's
    assert [r["budget/samples"] for r in rows] == [0, b, 3 * b, 3 * b + pg, 3 * b + 2 * pg, 3 * b + 3 * pg]
    # sft_stage.jsonl keeps each SFT step's own totals; the switch row there is the step's, not the stage's
    stage = [json.loads(x) for x in (tmp_path / "sft_stage.jsonl").read_text().splitlines()]
    assert [r["budget/updates"] for r in stage] == [0, 1, 2, 3]
    assert stage[-1]["budget/tokens"] == rows[2]["budget/tokens"]
    assert "eval/accuracy" in rows[2] and ("eval/accuracy" in stage[2]) == (eval_steps == 2)


@pytest.mark.parametrize("arm", ARM_NAMES)
def test_every_arm_charges_each_update_by_its_mu(arm, tmp_path, tiny_cache, tiny_world):
    """Each update adds P·G samples when it has an RL term (μ < 1) and B when it has an SFT term (μ > 0);
    a per-prompt arm adds the demonstrations it trains (LUFFY/SRFT: one per prompt; HPT: the gated
    prompts'), and ReLIFT's SFT update is one more update with its buffer's rows."""
    from phasescope.train.train_one import train_one

    cfg = load_config(None, [*tiny_world, "arms.dft_then_rl.sft_steps=2"])
    train_one(cfg, arm, 0, tmp_path, threads=1)
    rows = _rows(tmp_path)
    _check_every_row(rows)
    b, pg = cfg.train.expert_batch_size, cfg.train.prompts_per_step * cfg.train.num_generations
    p = cfg.train.prompts_per_step
    passes = 0
    for prev, r in zip(rows, rows[1:]):
        mu = r["train/mu"]
        if arm in ("luffy", "srft"):
            expected = pg + p
        elif arm == "hpt":
            expected = pg + round(mu * p)
        elif arm == "relift":
            passes += mu > 0.0  # ReLIFT's SFT update on p buffered demonstrations (buffer_size 0 = P)
            expected = pg + p * (mu > 0.0)
        else:
            expected = pg * (mu < 1.0) + b * (mu > 0.0)
        assert r["budget/samples"] - prev["budget/samples"] == expected, (arm, r["step"])
        assert r["budget/updates"] == r["step"] + passes, (arm, r["step"])
        assert r["budget/tokens"] > prev["budget/tokens"]
