"""train.expert_data_ratio: expert rows per update as a share of the rollouts (Trinity-RFT's knob),
and the refusal of a rollout temperature that would temper the expert term."""

from pathlib import Path

import pytest

from phasescope.config import Config, config_from_dict, load_config
from phasescope.config_sections import expert_rows_for_ratio
from phasescope.errors import UsageError


@pytest.mark.parametrize(
    "ratio, prompts, generations, rows",
    [
        (0.25, 32, 8, 64),  # the CHORD paper: 64 expert rows per 32 prompts × 8 rollouts
        (1.0, 4, 8, 32),  # the default world today: 32 per 4 × 8
        (0.25, 4, 8, 8),
        (0.2, 4, 8, 6),  # round(6.4)
        (0.3, 4, 8, 10),  # round(9.6)
        (2.0, 2, 2, 8),  # more expert rows than rollouts is allowed
    ],
)
def test_expert_rows_per_update_for_a_ratio(ratio, prompts, generations, rows):
    assert expert_rows_for_ratio(ratio, prompts, generations) == rows
    cfg = load_config(
        None,
        [
            f"train.expert_data_ratio={ratio}",
            f"train.prompts_per_step={prompts}",
            f"train.num_generations={generations}",
        ],
    )
    assert cfg.train.expert_batch_size == rows


def test_the_default_world_keeps_32_expert_rows_per_32_rollouts():
    train = Config().train
    assert train.expert_data_ratio is None and train.expert_batch_size == 32
    assert train.prompts_per_step * train.num_generations == 32


def test_the_paper_config_uses_the_papers_ratio_and_keeps_its_rows():
    cfg = load_config(Path(__file__).resolve().parents[1] / "experiments" / "chord-paper-qwen2.5-7b.toml")
    assert cfg.train.expert_data_ratio == 0.25 and cfg.train.expert_batch_size == 64


def test_a_ratio_config_reads_back_from_its_dict():
    """experiment.json stores `to_dict()`; a resume reads it back (the derived rows are recomputed)."""
    cfg = load_config(None, ["train.expert_data_ratio=0.25"])
    data = cfg.to_dict()
    assert "expert_batch_size" not in data["train"] and data["train"]["expert_data_ratio"] == 0.25
    back = config_from_dict(data)
    assert back.to_dict() == data and back.train.expert_batch_size == 8
    assert "expert_batch_size" in Config().to_dict()["train"]  # a plain config keeps its number


@pytest.mark.parametrize(
    "sets, fragment",
    [
        (
            ["train.expert_data_ratio=0.25", "train.expert_batch_size=16"],
            "train.expert_batch_size and train.expert_data_ratio are both set",
        ),
        (["train.expert_data_ratio=0"], "train.expert_data_ratio must be > 0, got 0"),
        (["train.expert_data_ratio=-0.5"], "train.expert_data_ratio must be > 0"),
        (["train.expert_data_ratio=0.01"], "round(0.01 × 32 rollouts) = 0 expert rows"),
        (
            ["train.expert_data_ratio=0.3", "train.gradient_accumulation_steps=4"],
            "gives 10 expert rows per update (round(0.3 × 32 rollouts)), which do not split over "
            "1 process(es) × train.gradient_accumulation_steps = 4",
        ),
        (
            ["train.temperature=0.7", 'experiment.arms=["rl","chord_phi"]'],
            "train.temperature = 0.7 would temper the expert term of arm chord_phi",
        ),
        (
            ["train.temperature=1.2", 'experiment.arms=["sft_scaled"]'],
            "would temper the expert term of arm sft_scaled",
        ),
    ],
)
def test_bad_expert_settings_are_one_line_errors_with_exit_2(sets, fragment, cli, tmp_path):
    with pytest.raises(UsageError) as info:
        load_config(None, sets)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    args = [a for s in sets for a in ("--set", s)]
    res = cli("run", *args, "--out", tmp_path, "--name", "bad")
    assert res.returncode == 2, res.stderr
    assert fragment in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_a_temperature_other_than_1_is_allowed_for_arms_without_expert_rows():
    cfg = load_config(None, ["train.temperature=0.7", 'experiment.arms=["rl"]'])
    assert cfg.train.temperature == 0.7


def test_the_ratios_rows_must_split_over_the_processes(monkeypatch):
    """Under `accelerate launch` (WORLD_SIZE set) the split is checked when the config is read, before a
    model loads: 8 rows split over 4 processes × 2 micro-batches, not over 3 processes."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    sets = ["train.expert_data_ratio=0.25", "train.gradient_accumulation_steps=2"]
    assert load_config(None, sets).train.expert_batch_size == 8
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(
        UsageError, match=r"do not split over 3 process\(es\) × train.gradient_accumulation_steps = 2"
    ):
        load_config(None, sets)
