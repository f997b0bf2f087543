"""The search space per arm: exact knobs and bounds, the grid, and values that reach the config."""

from __future__ import annotations

import optuna
import pytest

from phasescope.config import default_arms, load_config
from phasescope.tune.space import (
    as_overrides,
    at_grid_edge,
    centred_grid,
    config_values,
    grid_space,
    search_space,
    suggest,
)

ARMS = default_arms()


def _space(name: str, steps: int = 600, rollouts: int = 32):
    return {
        k.label: (k.key, k.low, k.high, k.log, k.integer, k.choices)
        for k in search_space(name, ARMS[name], steps, rollouts)
    }


def test_chord_mu_searches_lr_mu_peak_decay_and_ratio_at_known_bounds():
    assert _space("chord_mu", 600) == {
        "learning_rate": ("arms.chord_mu.lr", 1e-5, 1e-3, True, False, ()),
        "mu_peak": ("arms.chord_mu.mu_peak", 0.1, 0.95, False, False, ()),
        "mu_decay_steps": ("arms.chord_mu.mu_decay_steps", 0, 600, False, True, ()),
        "expert_data_ratio": ("train.expert_data_ratio", 0.0, 0.0, False, False, (0.125, 0.25, 0.5, 1.0)),
    }
    assert _space("chord_mu", 150)["mu_decay_steps"][2] == 150  # the decay cannot outlast the budget


@pytest.mark.parametrize(
    "arm, labels",
    [
        ("rl", ["learning_rate"]),
        ("sft", ["sft_lr"]),
        ("sft_then_rl", ["learning_rate", "sft_lr"]),
        ("sft_light_then_rl", ["learning_rate", "sft_lr"]),
        ("chord_phi", ["learning_rate", "mu", "expert_data_ratio"]),
        ("sft_scaled", ["learning_rate", "mu", "expert_data_ratio"]),
        ("chord_phi_mu1", ["sft_lr"]),
        ("luffy", ["learning_rate"]),  # per-prompt arms: every prompt brings its demonstration, no ratio
        ("srft", ["learning_rate"]),
        ("hpt", ["learning_rate"]),
        ("relift", ["learning_rate", "sft_lr"]),  # its buffered SFT pass runs at train.sft_lr
        ("dft", ["sft_lr"]),
        ("dft_then_rl", ["learning_rate", "sft_lr"]),  # μ = 1 names the arm: only its (SFT) learning rate
        ("chord_adaptive", ["learning_rate", "expert_data_ratio"]),
    ],
)
def test_each_arm_gets_the_knobs_its_schedule_has(arm, labels):
    assert list(_space(arm)) == labels


def test_learning_rate_bounds_and_mu_bounds():
    space = _space("sft_then_rl")
    assert space["learning_rate"][1:4] == (1e-5, 1e-3, True)
    assert space["sft_lr"] == ("arms.sft_then_rl.sft_lr", 1e-4, 1e-2, True, False, ())
    assert _space("chord_phi")["mu"] == ("arms.chord_phi.mu", 0.02, 0.95, False, False, ())


def test_ratios_that_round_to_no_expert_row_are_not_offered():
    # 4 rollouts: 0.125 × 4 = 0.5 rounds to 0 rows; 2 rollouts: 0.25 × 2 = 0.5 too; 1 rollout leaves one ratio.
    assert _space("chord_phi", rollouts=4)["expert_data_ratio"][5] == (0.25, 0.5, 1.0)
    assert _space("chord_phi", rollouts=2)["expert_data_ratio"][5] == (0.5, 1.0)
    assert "expert_data_ratio" not in _space("chord_phi", rollouts=1)


def test_grid_is_half_decades_of_the_learning_rates_only():
    knobs = search_space("sft_then_rl", ARMS["sft_then_rl"], 600)
    assert grid_space(knobs) == {
        "arms.sft_then_rl.lr": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3],
        "arms.sft_then_rl.sft_lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    }
    assert grid_space(search_space("chord_mu", ARMS["chord_mu"], 600)) == {
        "arms.chord_mu.lr": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3]
    }


def test_suggested_values_lie_in_range_and_reach_the_config():
    knobs = search_space("chord_mu", ARMS["chord_mu"], 300)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        values = suggest(study.ask(), knobs)
        assert all(k.contains(values[k.key]) for k in knobs)
        assert isinstance(values["arms.chord_mu.mu_decay_steps"], int)
    cfg = load_config(None, ["train.max_steps=300", *as_overrides(values)])
    arm = cfg.arms["chord_mu"]
    assert (arm.lr, arm.mu_peak, arm.mu_decay_steps) == (
        values["arms.chord_mu.lr"],
        values["arms.chord_mu.mu_peak"],
        values["arms.chord_mu.mu_decay_steps"],
    )
    assert cfg.train.expert_data_ratio == values["train.expert_data_ratio"]
    assert cfg.train.expert_batch_size == round(values["train.expert_data_ratio"] * 32)


def test_suggest_only_limits_to_the_given_keys():
    knobs = search_space("chord_mu", ARMS["chord_mu"], 600)
    trial = optuna.create_study().ask()
    assert list(suggest(trial, knobs, only={"arms.chord_mu.lr"})) == ["arms.chord_mu.lr"]


def test_the_configs_own_values_are_the_first_trial_when_in_range():
    cfg = load_config(None, ["train.max_steps=300", "arms.chord_mu.mu_decay_steps=250"])
    knobs = search_space("chord_mu", cfg.arms["chord_mu"], 300)
    assert config_values("chord_mu", cfg, knobs) == {
        "arms.chord_mu.lr": 3e-4,  # the embedded world's tuned rate (arms/world_rates.py)
        "arms.chord_mu.mu_peak": 0.9,
        "arms.chord_mu.mu_decay_steps": 250,
        "train.expert_data_ratio": 1.0,  # 32 expert rows per 4 × 8 rollouts
    }
    odd = load_config(
        None, ["train.expert_batch_size=12", "arms.chord_phi.mu=0.01", "arms.chord_phi.lr=5e-5"]
    )
    knobs = search_space("chord_phi", odd.arms["chord_phi"], 600)
    assert config_values("chord_phi", odd, knobs) == {
        "arms.chord_phi.lr": 5e-5
    }  # 12/32 and μ 0.01: out of range


def test_grid_points_centre_the_grid_on_the_configured_rate_within_its_range():
    (lr,) = [k for k in search_space("rl", ARMS["rl"], 600) if k.grid]
    assert centred_grid(lr, 1e-4, 3).grid == (3e-5, 1e-4, 3e-4)
    assert centred_grid(lr, 1e-4, 4).grid == (3e-5, 1e-4, 3e-4, 1e-3)  # an even count leans upwards
    assert centred_grid(lr, 1e-3, 3).grid == (1e-4, 3e-4, 1e-3)  # the range's end: shifted, not cut
    assert centred_grid(lr, 2.5e-4, 1).grid == (3e-4,)  # the nearest half-decade in log distance
    assert centred_grid(lr, 1e-4, 9).grid == lr.grid


def test_a_best_value_at_a_narrowed_grids_edge_is_flagged_not_at_the_ranges_end():
    (lr,) = [k for k in search_space("rl", ARMS["rl"], 600) if k.grid]
    narrow = centred_grid(lr, 1e-4, 3)
    assert at_grid_edge([narrow], {"arms.rl.lr": 3e-4}) == ["learning_rate"]
    assert at_grid_edge([narrow], {"arms.rl.lr": 3e-5}) == ["learning_rate"]
    assert at_grid_edge([narrow], {"arms.rl.lr": 1e-4}) == []
    assert at_grid_edge([lr], {"arms.rl.lr": 1e-3}) == []  # the whole range was searched
    assert at_grid_edge([centred_grid(lr, 1e-3, 3)], {"arms.rl.lr": 1e-3}) == []
