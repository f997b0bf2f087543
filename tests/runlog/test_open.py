"""open_experiment: what each kind of source holds, read once (no analysis)."""

from __future__ import annotations

import json

import pytest

import phasescope
from phasescope.errors import PhasescopeError
from phasescope.runlog import open_experiment


def _run(root, arm="sft_then_rl", seed=0, tokens=False):
    run = root / arm / f"seed{seed}"
    run.mkdir(parents=True)
    rows = [{"step": s, "stage": "sft" if s < 5 else "rl", "eval/accuracy": 0.5 + s / 100} for s in range(10)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if tokens:
        (run / "tokens.jsonl").write_text(json.dumps({"step": 0, "top_divergent": []}) + "\n")
    return run


def test_an_experiment_directory(tmp_path):
    meta = {"name": "mine", "config": {"world": {"n_eval": 64}, "model": {"name_or_path": ""}}}
    (tmp_path / "experiment.json").write_text(json.dumps(meta))
    _run(tmp_path, tokens=True)
    _run(tmp_path, arm="sft")
    exp = phasescope.open_experiment(tmp_path)
    assert (exp.kind, exp.name, exp.is_wandb) == ("experiment", "mine", False)
    assert exp.stage_starts == {"sft_then_rl": [5.0], "sft": [5.0]}
    assert exp.eval_sets == {"": 64} and exp.config == meta["config"] and exp.experiment == meta
    assert set(exp.frame["run"]) == {"sft", "sft_then_rl"}
    assert list(exp.metrics()["metric"]) == ["eval/accuracy"]
    assert list(exp.tokens) == [("sft_then_rl", 0)]


def test_a_run_directory_finds_its_experiment_two_levels_up(tmp_path):
    meta = {"name": "mine", "config": {"world": {"n_eval": 64}}}
    (tmp_path / "experiment.json").write_text(json.dumps(meta))
    run = _run(tmp_path)
    for path in (run, run / "metrics.jsonl"):
        exp = open_experiment(path)
        assert exp.kind == "run" and exp.eval_sets == {"": 64} and exp.name == "mine"


def test_a_real_run_reads_its_eval_sets_from_data_json(tmp_path):
    meta = {"config": {"model": {"model_name_or_path": "/m"}, "world": {"n_eval": 64}}}
    (tmp_path / "experiment.json").write_text(json.dumps(meta))
    run = _run(tmp_path)
    (run / "data.json").write_text(json.dumps({"eval:math500": {"rows": 40}, "eval:aime": {"rows": 30}}))
    assert open_experiment(tmp_path).eval_sets == {"": 40, "math500": 40, "aime": 30}


def test_a_foreign_log_has_no_records(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,accuracy\n" + "\n".join(f"{i},{i / 10}" for i in range(8)))
    exp = open_experiment(f)
    assert (exp.kind, exp.name) == ("log", "log.csv")
    assert exp.stage_starts == {} and exp.eval_sets == {} and exp.config == {} and exp.tokens == {}


def test_no_finite_value_is_one_error(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,accuracy\n0,nan\n1,inf\n")
    with pytest.raises(PhasescopeError, match="no finite metric values"):
        open_experiment(f)
