"""One analysis from every door: `phasescope segment --json`, `analyse(open_experiment(path))` and the
notebook give the same phases of a two-stage arm, with the SFT -> RL switch as a fixed knot that
comes from the experiment (its `stage` column), not from the door."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

import phasescope
from phasescope.analysis import Analysis, analyse, open_experiment

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "phase_analysis.ipynb"
SWITCH = 101  # first step of the RL stage
N_EVAL = 200


def _accuracy(step: int, seed: int) -> float:
    """A dip under SFT (to 0.30 by step 40), a climb back, then RL lifts it from the switch on;
    measured on N_EVAL problems (values are k / N_EVAL)."""
    sft = 0.5 - 0.2 * min(step, 40) / 40 + 0.1 * max(min(step, SWITCH) - 40, 0) / 60
    rl = 0.15 * max(step - SWITCH, 0) / 100
    noise = np.random.default_rng(1000 * seed + step).normal(0, 0.01)
    return round((sft + rl + noise) * N_EVAL) / N_EVAL


def _two_stage_experiment(root: Path, *, with_stage: bool = True) -> Path:
    """experiment.json (the world's eval set of N_EVAL problems) and sft_then_rl/seed{0,1}, whose
    rows say which stage they belong to when ``with_stage``."""
    exp = root / "exp"
    exp.mkdir()
    meta = {"name": "two_stage", "config": {"world": {"n_eval": N_EVAL}, "model": {"name_or_path": ""}}}
    (exp / "experiment.json").write_text(json.dumps(meta))
    for seed in (0, 1):
        run = exp / "sft_then_rl" / f"seed{seed}"
        run.mkdir(parents=True)
        rows = []
        for step in range(0, 201):
            row = {"step": step, "train/mu": 1.0 if step < SWITCH else 0.0}
            if with_stage:
                row["stage"] = "sft" if step < SWITCH else "rl"
            if step % 5 == 0:
                row["eval/accuracy"] = _accuracy(step, seed)
            rows.append(row)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


def _json(x):
    return json.loads(json.dumps(x))


def _fixed(result: dict) -> list:
    return [cp for cp, f in zip(result["changepoints"], result["changepoint_fixed"]) if f]


def _notebook_analysis(path: Path, monkeypatch) -> Analysis:
    """Run the notebook's code cells on ``path`` in this process (magics dropped) and return the
    analysis it made."""
    nbformat = pytest.importorskip("nbformat")
    monkeypatch.setenv("PHASESCOPE_RUNS_DIR", str(path))
    monkeypatch.setenv("PHASESCOPE_METRIC", "eval/accuracy")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb.cells:
            if cell.cell_type == "code":
                code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
                exec(compile(code, "phase_analysis.ipynb", "exec"), ns)
    return ns["analysis"]


@pytest.mark.parametrize("where", ["exp", "exp/sft_then_rl"])
def test_cli_library_and_notebook_give_the_same_phases(tmp_path, cli, monkeypatch, where):
    path = _two_stage_experiment(tmp_path).parent / where
    proc = cli("segment", path, "-m", "eval/accuracy", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    from_cli = json.loads(proc.stdout)

    a = phasescope.analyse(phasescope.open_experiment(path), "eval/accuracy")
    from_notebook = _notebook_analysis(path, monkeypatch)

    assert from_cli == _json(a.phases) == _json(from_notebook.phases)
    (arm,) = from_cli
    assert arm["run"] == "sft_then_rl" and len(arm["seeds"]) == 2
    assert _fixed(arm) == [105]  # the first evaluation of the RL stage: a fixed knot, not estimated
    assert all(_fixed(s) == [105] for s in arm["seeds"])
    assert [p["stage"] for p in arm["phases"]][-1] == 1  # the RL stage is read on its own
    assert a.eval_n == N_EVAL and a.noise == f"binomial, eval set of {N_EVAL}"
    assert a.comparison["arms"]["sft_then_rl"]["segmentation"]["changepoints"] == arm["changepoints"]


def test_the_knots_come_from_the_experiment(tmp_path):
    exp = open_experiment(_two_stage_experiment(tmp_path, with_stage=False))
    assert exp.stage_starts == {} and exp.kind == "experiment" and exp.eval_sets == {"": N_EVAL}
    (arm,) = analyse(exp, "eval/accuracy").phases
    assert not any(arm["changepoint_fixed"])  # nothing says where a stage starts: read across
    assert {p["stage"] for p in arm["phases"]} == {0}

    exp.stage_starts = {"sft_then_rl": [float(SWITCH)]}  # the same curve, told where RL starts
    (arm,) = analyse(exp, "eval/accuracy").phases
    assert _fixed(arm) == [105]


def test_an_explicit_eval_n_and_direction_override_the_experiment(tmp_path):
    exp = open_experiment(_two_stage_experiment(tmp_path))
    a = analyse(exp, "accuracy", direction="lower", eval_n=50)  # a loose name resolves once, here
    assert a.metric == "eval/accuracy" and a.direction == "lower" and a.eval_n == 50
    assert a.phases[0]["direction"] == "lower" and a.comparison["eval_n"] == 50
    assert a.to_json()["phases"] == a.phases and a.to_json()["verdict"] == a.verdict
