"""Run directories of world draws: `<arm>/seed<k>` (draw 0) and `<arm>/world<w>-seed<k>` (draw w >= 1)
are read alike, the frame's `world` column tells them apart, and a (world, seed) pair is one curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasescope.analysis.curves import curves_for
from phasescope.analysis.segment_results import format_table, segment_curve
from phasescope.runlog import open_experiment
from phasescope.runlog.experiment import arm_dir
from phasescope.runlog.reader import find_run_dirs, run_dir_name, run_identity, seed_of, world_of


def _run(root: Path, arm: str, seed: int, world: int, offset: float) -> Path:
    run = arm_dir(root, arm, seed, world)
    run.mkdir(parents=True)
    rows = [{"step": s, "eval/accuracy": offset + s / 100} for s in range(12)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


@pytest.mark.parametrize(
    "name, seed, world",
    [("seed3", 3, 0), ("world2-seed3", 3, 2), ("seed_4", 4, 0), ("world-seed3", None, 0), ("run", None, 0)],
)
def test_directory_names(name, seed, world):
    assert (seed_of(Path(name)), world_of(Path(name))) == (seed, world)


def test_names_round_trip_and_draw_zero_keeps_the_old_layout(tmp_path):
    assert run_dir_name(5) == "seed5" and run_dir_name(5, 0) == "seed5"
    assert run_dir_name(5, 2) == "world2-seed5"
    assert arm_dir(tmp_path, "sft", 1, 3) == tmp_path / "sft" / "world3-seed1"
    assert run_identity(tmp_path / "sft" / "world3-seed1") == ("sft", 1)


def test_an_experiment_of_two_draws_keeps_every_curve(tmp_path):
    (tmp_path / "experiment.json").write_text(json.dumps({"config": {"world": {"n_eval": 64}}}))
    for world, offset in ((0, 0.1), (1, 0.5)):
        for seed in (0, 1):
            _run(tmp_path, "sft", seed, world, offset + seed / 10)
    assert [d.name for d in find_run_dirs(tmp_path)] == ["seed0", "seed1", "world1-seed0", "world1-seed1"]
    exp = open_experiment(tmp_path)
    assert exp.worlds == [0, 1] and exp.frame["world"].dtype == np.int64
    assert len(exp.frame) == 4 * 12  # same (run, seed, step) in two draws: nothing de-duplicated
    start = exp.frame[exp.frame["step"] == 0].set_index(["world", "seed"])["value"].to_dict()
    assert start == pytest.approx({(0, 0): 0.1, (0, 1): 0.2, (1, 0): 0.5, (1, 1): 0.6})
    (curve,), _ = curves_for(exp.frame, "eval/accuracy")
    assert (curve.worlds, curve.seeds) == ([0, 0, 1, 1], [0, 1, 0, 1])
    assert curve.values[:, 0] == pytest.approx([0.1, 0.2, 0.5, 0.6])
    result = segment_curve(curve, "higher")
    assert [(s["world"], s["seed"]) for s in result["seeds"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert "world 1 seed 0:" in format_table(result) and "(world draw, seed) replicates" in format_table(
        result
    )


def test_a_run_directory_of_a_draw_and_a_foreign_log_are_world_0_or_their_draw(tmp_path):
    run = _run(tmp_path, "rl", 2, 4, 0.3)
    exp = open_experiment(run)
    assert exp.kind == "run" and set(exp.frame["world"]) == {4} and set(exp.frame["seed"]) == {2}
    log = tmp_path / "log.csv"
    log.write_text("step,accuracy\n" + "\n".join(f"{i},{i / 10}" for i in range(8)))
    foreign = open_experiment(log)
    assert foreign.worlds == [0] and list(foreign.frame.columns)[:3] == ["run", "seed", "world"]


def test_budgets_map_through_the_rows_of_the_same_world_draw(tmp_path):
    from phasescope.analysis.budget_axis import budget_of

    for world, per_step in ((0, 1), (1, 3)):
        run = arm_dir(tmp_path, "sft", 0, world)
        run.mkdir(parents=True)
        rows = [{"step": s, "eval/accuracy": 0.5, "budget/updates": per_step * s} for s in range(5)]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    frame = open_experiment(tmp_path).frame
    assert list(budget_of(frame, "sft", 0, [2, 4], "budget/updates")) == [2, 4]
    assert list(budget_of(frame, "sft", 0, [2, 4], "budget/updates", world=1)) == [6, 12]
