"""`phasescope run --world-seeds 2` end to end on a tiny world: each draw's base is built once, draw 0
keeps `<arm>/seed<k>`, draw 1 trains in `<arm>/world1-seed<k>` on its own problems."""

import json
import subprocess
import sys

import pytest

from phasescope.runlog import open_experiment


@pytest.mark.slow
def test_two_world_draws_train_in_their_own_directories(tmp_path, tiny_cache, tiny_world):
    sets = [x for s in tiny_world for x in ("--set", s)]
    cmd = [sys.executable, "-m", "phasescope.cli", "run", "--arms", "sft", "--world-seeds", "2"]
    cmd += ["--out", str(tmp_path), "--name", "draws", *sets]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    exp = tmp_path / "draws"
    assert json.loads((exp / "experiment.json").read_text())["config"]["experiment"]["world_seeds"] == 2
    assert sorted(p.name for p in (exp / "sft").iterdir()) == ["seed0", "world1-seed0"]
    assert all((exp / "sft" / d / "DONE").exists() for d in ("seed0", "world1-seed0"))
    assert "sft w1" in res.stdout  # the summary names the draw
    bases = sorted(p.name for p in (tiny_cache / "base").iterdir())
    assert len(bases) >= 2  # one base per draw (other tests of the session may add theirs)
    index = [
        json.loads((exp / "sft" / d / "problems_index.json").read_text()) for d in ("seed0", "world1-seed0")
    ]
    assert index[0] != index[1]  # another draw, other problems
    frame = open_experiment(exp).frame
    assert sorted(frame["world"].unique()) == [0, 1] and set(frame["seed"]) == {0}


def test_world_draws_with_a_real_model_are_refused_before_anything_is_written(tmp_path):
    from phasescope.config import load_config
    from phasescope.errors import UsageError
    from phasescope.train.runner import run_experiment

    overrides = [
        "model.model_name_or_path=/no/model",
        "data.rl_prompts=/no/rl.jsonl",
        "experiment.world_seeds=2",
    ]
    cfg = load_config(None, overrides)
    with pytest.raises(UsageError, match="world_seeds = 2 redraws the embedded world"):
        run_experiment(cfg, tmp_path / "exp")
    assert not (tmp_path / "exp").exists()


def test_the_world_trains_on_one_thread_even_alone(monkeypatch):
    from phasescope.train.pool import threads_per_worker, worker_command

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert threads_per_worker(1, world=True) == 1 and threads_per_worker(2, world=True) == 1
    assert threads_per_worker(1) == 8 and threads_per_worker(2) == 1  # a real model alone gets the cores
    cmd = worker_command("exp", "sft", 3, 1, False, world=2)
    assert cmd[-6:] == ["exp", "sft", "3", "1", "--world", "2"] and "--world" not in worker_command(
        "e", "sft", 0, 1, False
    )


def test_resume_cannot_add_world_draws(tmp_path):
    from phasescope.config import load_config
    from phasescope.errors import UsageError
    from phasescope.runlog.experiment import resume_config, write_experiment_json

    write_experiment_json(tmp_path, load_config(None, ["experiment.world_seeds=2"]))
    assert resume_config(tmp_path, selection={"world_seeds": 1}).experiment.world_seeds == 1
    with pytest.raises(UsageError, match="--world-seeds 3: the run .* has 2 world draw"):
        resume_config(tmp_path, selection={"world_seeds": 3})
