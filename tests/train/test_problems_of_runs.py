"""Per-problem results written by training runs: one problems.jsonl line per (evaluation, split), whose
bits average to the accuracy logged in the same step's metrics row, with ids shared by arms and seeds."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from phasescope.config import load_config
from phasescope.runlog.problems import accuracy_key, read_problems
from tests.fixtures.real_run import DATA, real_overrides

EXPERIMENT = DATA.parents[2] / "experiments" / "qwen2.5-0.5b-math-1gpu.toml"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


SHORT = [  # the default world (its shipped base: accuracies well inside (0, 1)), a few cheap updates
    "train.max_steps=4",
    "train.eval_steps=2",
    "train.eval_early_every=0",
    "train.prompts_per_step=2",
    "train.num_generations=2",
    "train.expert_batch_size=4",
]


def _rows(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _assert_bits_are_the_logged_accuracies(run, splits: set[str]) -> dict:
    """Every split's (step × problem) matrix averages, row by row, to its logged accuracy at that step,
    and it has one row for every logged value (no evaluation without its bits, none duplicated)."""
    found = read_problems(run)
    assert set(found) == splits
    rows = _rows(run)
    for split, (steps, ids, correct) in found.items():
        key = accuracy_key(split)
        logged = {r["step"]: r[key] for r in rows if key in r}
        assert list(steps) == sorted(logged) and len(set(steps)) == len(steps)
        assert correct.dtype == bool and correct.shape == (len(steps), len(ids)) and len(set(ids)) == len(ids)
        assert correct.mean(axis=1).tolist() == pytest.approx([logged[s] for s in steps], abs=1e-12)
    return found


def test_world_evaluator_returns_which_problems_it_answered(monkeypatch, tiny_cache, tiny_world):
    """Planted answers: right on problems 1 and 3 of the eval set and 0 of the general set."""
    from phasescope.train import evaluate as ev
    from phasescope.world import build_world
    from phasescope.world.task import EOS

    splits = build_world(load_config(None, tiny_world).world, log=lambda *_: None).splits
    right = {splits.eval[1].prompt, splits.eval[3].prompt, splits.eval_general[0].prompt}
    answers = {p.prompt: f"{p.answer}{EOS}" for p in splits.eval + splits.eval_general}

    def planted(model, tokenizer, prompts, *args, **kwargs):
        return [answers[p] if p in right else f"0{EOS}" for p in prompts]

    monkeypatch.setattr(ev, "generate", planted)
    monkeypatch.setattr(ev, "response_nll", lambda *a: 0.0)
    written = []
    tokenizer = SimpleNamespace(eos_token=EOS)
    evaluate = ev.make_world_evaluator(tokenizer, splits, 8, 1.0, 2)
    run = ev.with_problem_log(evaluate, lambda *r: written.append(r))
    out = run(None, 7)
    n, m = len(splits.eval), len(splits.eval_general)
    assert out["eval/accuracy"] == 2 / n and out["eval/general_accuracy"] == 1 / m
    assert all(isinstance(v, float) for v in out.values())  # the bits never reach the metrics row
    ((step, payload),) = written
    ids, correct = payload["eval"]
    assert step == 7 and ids == [p.prompt for p in splits.eval]
    assert [i for i, c in enumerate(correct) if c] == [1, 3]
    assert [i for i, c in enumerate(payload["general"][1]) if c] == [0]


def test_world_run_stores_eval_general_and_dev_bits(tmp_path):
    """chord_phase evaluates the dev split beside the held-out sets: three splits, every evaluation."""
    from phasescope.train.train_one import train_one
    from phasescope.world import build_world

    cfg = load_config(None, SHORT)
    train_one(cfg, "chord_phase", 0, tmp_path / "a", threads=1)
    found = _assert_bits_are_the_logged_accuracies(tmp_path / "a", {"eval", "general", "dev"})
    assert list(found["eval"][0]) == [0, 2, 4] == list(found["dev"][0])
    assert all(0 < c.mean() < 1 for _, _, c in found.values())  # the check above is not 0 == 0
    splits = build_world(cfg.world, log=lambda *_: None).splits
    assert found["eval"][1] == [p.prompt for p in splits.eval]  # ids are the problems' text
    assert found["general"][1] == [p.prompt for p in splits.eval_general]
    assert found["dev"][1] == [p.prompt for p in splits.dev]
    # another arm and seed answers the same problems, in the same order (its bits line up column by column)
    train_one(cfg, "rl", 1, tmp_path / "b", threads=1)
    other = _assert_bits_are_the_logged_accuracies(tmp_path / "b", {"eval", "general"})
    assert all(other[s][1] == found[s][1] for s in other)
    # 200 problems × 3 evaluations × 2 splits, in bits, not lists of bools
    assert len(found["eval"][1]) == 200 and (tmp_path / "b" / "problems.jsonl").stat().st_size < 600


def test_two_stage_arm_keeps_the_bits_of_the_rows_it_keeps(tmp_path):
    """sft_steps=best: the SFT stage's evaluations past the switch are dropped with their rows; the
    dev bits kept are those of the dev/accuracy values in metrics.jsonl."""
    from phasescope.train.train_one import train_one

    sets = [*SHORT, "train.max_steps=3", "arms.sft_then_rl.sft_steps=best", "arms.sft_then_rl.dev_every=2"]
    run = tmp_path / "run"
    train_one(load_config(None, sets), "sft_then_rl", 0, run, threads=1)
    found = _assert_bits_are_the_logged_accuracies(run, {"eval", "general", "dev"})
    switch = json.loads((run / "switch.json").read_text())["switch_step"]
    assert max(found["dev"][0]) == switch
    assert list(found["eval"][0]) == [r["step"] for r in _rows(run) if "eval/accuracy" in r]


def test_real_run_stores_every_named_eval_set_and_dev(tiny_model_dir, tmp_path):
    """A real model: the headline set is `eval`, a further named set keeps its name, `data.dev` is `dev`;
    ids are hashes of the problem text, so the same problem has the same id in every set."""
    from phasescope.train.train_one import train_one

    evals = f'data.eval=["{DATA / "math_tiny_eval.jsonl"}", "again={DATA / "math_tiny_eval.jsonl"}"]'
    sets = [*real_overrides(tiny_model_dir, tmp_path), evals, f'data.dev="{DATA / "math_tiny.jsonl"}"']
    run = tmp_path / "run"
    train_one(load_config(EXPERIMENT, sets), "chord_phase", 0, run, threads=1)
    found = _assert_bits_are_the_logged_accuracies(run, {"eval", "again", "dev"})
    assert found["eval"][1] == found["again"][1] and all(len(i) == 12 for i in found["eval"][1])
    assert np.array_equal(found["eval"][2], found["again"][2])  # greedy: the same answers twice
    assert list(found["dev"][0]) == [0, 1, 2]
