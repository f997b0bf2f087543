"""benchmarks/tune_table.py pools an arm's trials over tune directories (a narrowed grid, then a point
past its edge) and says when the chosen rate is still at an edge of what was tried."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import optuna
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _script(name: str):
    """A benchmarks/ script as a module (they import each other as sibling scripts)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    return mod


@pytest.fixture(scope="module")
def table_mod():
    return _script("tune_table")


def _study(tune_dir: Path, arm: str, key: str, scores: dict[float, float]) -> None:
    (tune_dir / arm).mkdir(parents=True)
    study = optuna.create_study(
        study_name=arm, storage=f"sqlite:///{tune_dir / arm / 'study.db'}", direction="maximize"
    )
    dist = {key: optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)}
    for lr, score in scores.items():
        attrs = {"seed_scores": [score - 0.01, score + 0.01], "dir": str(tune_dir / arm / "trials")}
        study.add_trial(
            optuna.trial.create_trial(params={key: lr}, distributions=dist, value=score, user_attrs=attrs)
        )


def test_trials_are_pooled_and_the_edge_moves_with_the_extra_point(table_mod, tmp_path):
    key = "arms.sft.sft_lr"
    _study(tmp_path / "a", "sft", key, {3e-4: 0.56, 1e-3: 0.58, 3e-3: 0.63})
    _study(tmp_path / "a", "rl", "arms.rl.lr", {3e-5: 0.40, 1e-4: 0.45, 3e-4: 0.42})
    first = table_mod.pooled([tmp_path / "a"])
    lines, sets = table_mod.table(first)
    sft = next(line for line in lines if line.startswith("| sft |"))
    assert "| sft_lr 3e-03 | 0.630 (0.620, 0.640) | sft_lr |" in sft  # the highest tried: widen
    rl = next(line for line in lines if line.startswith("| rl |"))
    assert rl.endswith("| lr 1e-04 | 0.450 (0.440, 0.460) | no |")
    # one point past the edge, in another directory: pooled; 1e-2 is the range's end, so no edge
    _study(tmp_path / "b", "sft", key, {1e-2: 0.61})
    lines, sets = table_mod.table(table_mod.pooled([tmp_path / "a", tmp_path / "b"]))
    sft = next(line for line in lines if line.startswith("| sft |"))
    assert sft.startswith("| sft | 4 |") and sft.endswith("| sft_lr 3e-03 | 0.630 (0.620, 0.640) | no |")
    assert sets == ["arms.rl.lr=0.0001", "arms.sft.sft_lr=0.003"]  # study files in name order


def test_a_directory_without_a_study_is_one_line_and_exit_2(table_mod, tmp_path, capsys):
    assert table_mod.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no tune study found in")


def test_the_recipe_steps_one_half_decade_past_an_edge_and_stops_at_the_ranges_end():
    mod = _script("tune_defaults")
    trial = lambda values, score: {"values": values, "score": score}  # noqa: E731
    up = [trial({"arms.rl.lr": 1e-4}, 0.5), trial({"arms.rl.lr": 3e-4}, 0.7)]
    assert mod.next_steps(up) == [("arms.rl.lr", 1e-3, {"arms.rl.lr": 3e-4})]
    down = [trial({"arms.sft.sft_lr": 3e-4}, 0.7), trial({"arms.sft.sft_lr": 1e-3}, 0.5)]
    assert mod.next_steps(down) == [("arms.sft.sft_lr", 1e-4, {"arms.sft.sft_lr": 3e-4})]
    inside = [*up, trial({"arms.rl.lr": 1e-3}, 0.4)]
    assert mod.next_steps(inside) == []
    given = [{**t, "given": {"arms.relift.sft_lr": 3e-3}} for t in (trial({"arms.relift.lr": 1e-4}, 0.7),)]
    given.append(trial({"arms.relift.lr": 3e-4}, 0.6))  # the SFT pass's rate goes along with the lowest rate
    assert mod.next_steps(given) == [
        ("arms.relift.lr", 3e-5, {"arms.relift.lr": 1e-4, "arms.relift.sft_lr": 3e-3})
    ]
    at_end = [trial({"arms.rl.lr": 3e-4}, 0.5), trial({"arms.rl.lr": 1e-3}, 0.7)]
    assert mod.next_steps(at_end) == []  # 1e-3 is the range's end
