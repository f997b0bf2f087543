"""The table, best.toml (reads back as the tuned config) and the TOML writer."""

from __future__ import annotations

import optuna
import pytest
import tomllib
from optuna.trial import TrialState

from phasescope.config import config_from_dict, default_arms, load_config
from phasescope.tune.outputs import arm_summary, best_toml, chosen_values, format_table
from phasescope.tune.space import search_space, shared_keys
from phasescope.tune.tomlfile import toml_text


def _trial(lr: float, score: float | None):
    """A finished trial at `lr` scoring `score` (None: failed), two seeds around it."""
    dist = {"arms.rl.lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)}
    if score is None:
        return optuna.trial.create_trial(params={"arms.rl.lr": lr}, distributions=dist, state=TrialState.FAIL)
    attrs = {"seed_scores": [score - 0.01, score + 0.01]}
    return optuna.trial.create_trial(
        params={"arms.rl.lr": lr}, distributions=dist, value=score, user_attrs=attrs
    )


def test_arm_summary_has_the_known_best_and_spread():
    study = optuna.create_study(direction="maximize")
    for lr, score in [(1e-5, 0.40), (1e-4, 0.70), (3e-4, None), (1e-3, 0.55)]:
        study.add_trial(_trial(lr, score))
    knobs = search_space("rl", default_arms()["rl"], 600)
    row = arm_summary("rl", study.get_trials(), knobs, {"max_steps": 600, "seeds": 2})
    assert (row["trials"], row["failed"], row["best_trial"]) == (3, 1, 1)
    assert row["best_score"] == 0.70 and row["best_seed_scores"] == [pytest.approx(0.69), pytest.approx(0.71)]
    assert row["spread"] == {"min": 0.40, "median": 0.55, "max": 0.70}
    assert row["best"]["arms.rl.lr"] == pytest.approx(1e-4)
    line = format_table([row]).splitlines()[2]
    assert line == "| rl | 3 | 1 | – | 0.700 | 0.690, 0.710 | 0.400 / 0.550 / 0.700 | lr = 0.0001 |"


def test_shared_values_tuned_apart_keep_the_config_value_and_say_so():
    # Learning rates are per arm (arms.<arm>.lr / sft_lr): SFT alone and SFT-then-RL keep their own.
    rows = [
        {"arm": "sft", "best": {"arms.sft.sft_lr": 3e-3}},
        {"arm": "sft_then_rl", "best": {"arms.sft_then_rl.lr": 2e-5, "arms.sft_then_rl.sft_lr": 5e-4}},
        {"arm": "chord_mu", "best": {"arms.chord_mu.lr": 1e-4, "train.expert_data_ratio": 0.25}},
        {"arm": "chord_phi", "best": {"arms.chord_phi.lr": 3e-4, "train.expert_data_ratio": 0.5}},
    ]
    values, notes = chosen_values(rows)
    assert values == {
        "arms.sft.sft_lr": 3e-3,
        "arms.sft_then_rl.lr": 2e-5,
        "arms.sft_then_rl.sft_lr": 5e-4,
        "arms.chord_mu.lr": 1e-4,
        "arms.chord_phi.lr": 3e-4,
    }
    assert notes == [
        "train.expert_data_ratio is shared by all arms and was tuned apart (chord_mu 0.25, chord_phi 0.5): "
        "the config's value is kept"
    ]


def test_a_shared_value_that_would_change_an_untuned_arm_is_not_set():
    rows = [
        {"arm": "sft", "best": {"arms.sft.sft_lr": 3e-3}},
        {"arm": "chord_phi", "best": {"train.expert_data_ratio": 0.25}},
    ]
    users = {"train.expert_data_ratio": ["sft", "chord_phi"]}
    values, notes = chosen_values(rows, users)
    assert values == {"arms.sft.sft_lr": 3e-3}
    assert notes == [
        "train.expert_data_ratio (chord_phi 0.25) would also change sft, which did not tune it: "
        "the config's value is kept"
    ]
    arms = default_arms()
    assert shared_keys(arms["sft"], 600) == {"train.expert_data_ratio"}
    assert shared_keys(arms["rl"], 600) == set()
    assert shared_keys(arms["chord_mu"], 600) == {"train.expert_data_ratio"}
    assert shared_keys(arms["sft_then_rl"], 600) == {"train.expert_data_ratio"}
    assert shared_keys(arms["relift"], 600) == set()


def test_best_toml_runs_as_an_experiment_file_with_the_chosen_values(tmp_path):
    values = {"arms.chord_mu.lr": 3.2e-5, "arms.chord_mu.mu_decay_steps": 120, "train.expert_data_ratio": 0.5}
    cfg = load_config(
        None, ["train.max_steps=300", "arms.chord_mu.mu_peak=0.7"], {"experiment.arms": ["chord_mu"]}
    )
    tuned = load_config(
        None,
        ["train.max_steps=300", "arms.chord_mu.mu_peak=0.7", *[f"{k}={v!r}" for k, v in values.items()]],
        {"experiment.arms": ["chord_mu"]},
    )
    path = tmp_path / "best.toml"
    path.write_text(best_toml(tuned.to_dict(), values, [], "phasescope tune --arms chord_mu"))
    text = path.read_text()
    assert "#   --set arms.chord_mu.lr=3.2e-05" in text and "#   --set train.expert_data_ratio=0.5" in text
    back = load_config(path)
    assert back.to_dict() == tuned.to_dict()
    assert (back.arms["chord_mu"].lr, back.arms["chord_mu"].mu_peak, back.train.expert_batch_size) == (
        3.2e-5,
        0.7,
        16,
    )
    assert cfg.train.max_steps == back.train.max_steps == 300


def test_toml_writer_round_trips_nested_tables_and_odd_values():
    data = {
        "a": {"x": 1.5e-7, "s": 'quote " and \\ back', "l": ["p", "q"], "b": False},
        "arms": {"x y": {"k": 2}},
    }
    data["a"]["inf"] = float("inf")
    assert tomllib.loads(toml_text(data)) == data
    cfg = load_config(None, ["arms.chord_mu.lr=3e-05", "train.expert_data_ratio=0.25"])
    assert config_from_dict(tomllib.loads(toml_text(cfg.to_dict()))).to_dict() == cfg.to_dict()


def test_knob_figure_draws_a_panel_per_knob_and_nothing_without_a_completed_trial(tmp_path):
    from phasescope.tune.figure import knob_figure

    knobs = search_space("rl", default_arms()["rl"], 600)
    trials = [_trial(1e-5, 0.4), _trial(1e-4, 0.7), _trial(3e-4, None)]
    path = knob_figure("rl", trials, knobs, tmp_path / "knobs.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert knob_figure("rl", [_trial(3e-4, None)], knobs, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
