"""`phasescope tune` from the command line: bad input, the files it writes, and one real tiny tune."""

from __future__ import annotations

import json

import optuna
import pytest

from phasescope.runlog.reader import read_metrics


@pytest.mark.parametrize(
    "args, says",
    [
        (["--arms", "nope"], "unknown arm 'nope'"),
        (["--arms", "rl", "--trials", "0"], "--trials must be >= 1, got 0"),
        (["--arms", "rl", "--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--arms", ","], "--arms names no arm"),
        (["--arms", "rl", "--sampler", "bayes"], "--sampler"),
        (["--arms", "rl", "--set", "train.max_steps=0"], "train.max_steps must be > 0"),
        (["--arms", "rl", "--grid-points", "3"], "--grid-points needs --sampler grid"),
        (
            ["--arms", "sft", "--knobs", "learning_rate"],
            "sft: nothing to search with these options (its knobs: sft_lr)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, says):
    got = cli("tune", *args, "--out", tmp_path)
    assert got.returncode == 2
    assert got.stderr.startswith("error:") and says in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing written before the input is accepted


def test_a_run_directory_is_not_a_tune_directory(cli, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "experiment.json").write_text("{}")
    got = cli("tune", "--arms", "rl", "--out", tmp_path, "--name", "x")
    assert got.returncode == 2 and "is a run directory of phasescope run" in got.stderr


def test_tune_writes_the_table_figures_and_best_toml(cli, tmp_path, fake_training):
    got = cli("tune", "--arms", "rl,chord_mu", "--trials", "2", "--seeds", "1", "--out", tmp_path)
    assert got.returncode == 0, got.stderr
    tune_dir = tmp_path / "default-tune"
    for rel in (
        "summary.md",
        "summary.json",
        "best.toml",
        "rl/knobs.png",
        "rl/best.toml",
        "chord_mu/study.db",
    ):
        assert (tune_dir / rel).is_file(), rel
    summary = json.loads((tune_dir / "summary.json").read_text())
    assert [r["arm"] for r in summary["arms"]] == ["rl", "chord_mu"]
    assert summary["command"] == f"phasescope tune --arms rl,chord_mu --trials 2 --seeds 1 --out {tmp_path}"
    assert "| rl | 2 | 0 |" in got.stdout and "| chord_mu | 2 | 0 |" in got.stdout
    best = (tune_dir / "best.toml").read_text()
    assert "--set arms.rl.lr=" in best and "--set arms.chord_mu.mu_peak=" in best


def test_a_narrowed_grid_over_chosen_knobs(cli, tmp_path, fake_training):
    # sft_then_rl's SFT stage keeps the rate given; its RL rate walks the 3 half-decades around 3e-5.
    got = cli(
        "tune", "--arms", "sft_then_rl", "--sampler", "grid", "--grid-points", "3", "--knobs", "learning_rate",
        "--trials", "9", "--seeds", "1", "--out", tmp_path,
        "--set", "arms.sft_then_rl.sft_lr=3e-3", "--set", "arms.sft_then_rl.lr=3e-5",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    (row,) = json.loads((tmp_path / "default-tune" / "summary.json").read_text())["arms"]
    assert [k["key"] for k in row["knobs"]] == ["arms.sft_then_rl.lr"]
    assert row["knobs"][0]["grid"] == [1e-5, 3e-5, 1e-4] and row["trials"] == 3
    tried = sorted(c[1].arms["sft_then_rl"].lr for c in fake_training)
    assert tried == [1e-5, 3e-5, 1e-4]
    assert {c[1].arms["sft_then_rl"].sft_lr for c in fake_training} == {3e-3}
    # the fake score peaks at 1e-4 (conftest.known_score): the narrowed grid's upper edge, flagged
    assert row["best"] == {"arms.sft_then_rl.lr": 1e-4} and row["grid_edge"] == ["learning_rate"]
    assert "(at the grid's edge: learning_rate)" in got.stdout


def test_a_categorical_knob_named_in_knobs_is_walked_by_the_grid(cli, tmp_path, fake_training):
    got = cli(
        "tune", "--arms", "chord_phi", "--sampler", "grid", "--knobs", "expert_data_ratio",
        "--trials", "9", "--seeds", "1", "--out", tmp_path,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    ratios = sorted(c[1].train.expert_data_ratio for c in fake_training)
    assert ratios == [0.125, 0.25, 0.5, 1.0]  # each choice once, the learning rate as configured
    assert {c[1].arms["chord_phi"].lr for c in fake_training} == {3e-4}  # the world's tuned rate
    (row,) = json.loads((tmp_path / "default-tune" / "summary.json").read_text())["arms"]
    assert row["trials"] == 4 and "grid_edge" not in row


@pytest.mark.slow
def test_a_real_tiny_tune_reads_only_the_dev_split_and_resumes(cli, tmp_path, tiny_cache, tiny_world):
    sets = [a for s in tiny_world for a in ("--set", s)]
    args = ["tune", "--arms", "rl", "--seeds", "1", "--out", tmp_path, *sets, "--set", "train.max_steps=4"]
    got = cli(*args, "--trials", "2")
    assert got.returncode == 0, got.stderr
    tune_dir = tmp_path / "default-tune"
    runs = sorted((tune_dir / "rl" / "trials").glob("*/rl/seed0/metrics.jsonl"))
    assert len(runs) == 2
    for path in runs:
        rows = read_metrics(path)
        assert [r["step"] for r in rows if "dev/accuracy" in r] == [0, 2, 4]
        assert not [k for r in rows for k in r if k.startswith("eval/") or k.startswith("probe/")]
    assert cli(*args, "--trials", "3").returncode == 0
    study = optuna.load_study(study_name="rl", storage=f"sqlite:///{tune_dir / 'rl' / 'study.db'}")
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"] * 3
    assert (tune_dir / "best.toml").is_file() and (tune_dir / "rl" / "knobs.png").is_file()
