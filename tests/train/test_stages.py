"""SFT then RL as two trainings: a fresh optimizer and schedule at the switch, an RL stage as long as
the rl arm's, the switch chosen on the dev split (best) or by the online detector (auto)."""

import json

import numpy as np
import pytest
import torch

from phasescope.config import load_config
from phasescope.errors import PhasescopeError, UsageError
from phasescope.train.dev import check_disjoint
from phasescope.train.stages import SwitchChooser, sft_stage_length, stage_lengths


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def _rows(path):
    return [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]


def _record_optimizer_steps(monkeypatch):
    """Before every optimizer step: which optimizer, Adam's step count and state size, and the lr."""
    from phasescope.train.trainer import PhaseTrainer

    calls = []
    orig = PhaseTrainer.create_optimizer

    def create_optimizer(self, *a, **k):
        opt = orig(self, *a, **k)

        def hook(o, args, kwargs):
            steps = [float(s["step"]) for s in o.state.values() if "step" in s]
            moments = sum(float(s["exp_avg"].abs().sum()) for s in o.state.values() if "exp_avg" in s)
            calls.append((id(o), max(steps, default=0.0), moments, o.param_groups[0]["lr"]))

        opt.register_step_pre_hook(hook)
        return opt

    monkeypatch.setattr(PhaseTrainer, "create_optimizer", create_optimizer)
    return calls


def test_fresh_optimizer_and_schedule_at_the_switch_and_rl_stage_as_long_as_rl(
    tmp_path, tiny_cache, tiny_world, monkeypatch
):
    from phasescope.train.train_one import train_one

    calls = _record_optimizer_steps(monkeypatch)
    cfg = load_config(
        None,
        [*tiny_world, "train.warmup_steps=2", "arms.sft_then_rl.sft_steps=2", 'train.stage_budget="added"'],
    )
    train_one(cfg, "sft_then_rl", 0, tmp_path / "stl", threads=1)
    sft_opt, rl_opt = calls[0][0], calls[2][0]
    assert [c[0] for c in calls] == [sft_opt] * 2 + [rl_opt] * 3 and sft_opt != rl_opt
    # Adam's step count and moments start from zero in the RL stage, though SFT left them non-zero
    assert [c[1] for c in calls] == [0.0, 1.0, 0.0, 1.0, 2.0]
    assert calls[1][2] > 0 and calls[2][2] == 0.0
    # the warm-up restarts at the switch: SFT at train.sft_lr (1e-3), RL at train.lr (1e-4)
    assert [c[3] for c in calls] == pytest.approx([0.0, 0.5e-3, 0.0, 0.5e-4, 1e-4])

    rows = _rows(tmp_path / "stl")
    assert [r["step"] for r in rows] == list(range(6))
    assert [r["stage"] for r in rows] == ["sft"] * 3 + ["rl"] * 3
    assert [r["step"] for r in rows if "eval/accuracy" in r] == [0, 2, 4, 5]  # the switch row is evaluated
    switch = json.loads((tmp_path / "stl" / "switch.json").read_text())
    assert switch["switch_step"] == 2 and switch["rl_steps"] == cfg.train.max_steps

    train_one(cfg, "rl", 0, tmp_path / "rl", threads=1)
    rl_updates = [r for r in _rows(tmp_path / "rl") if r["step"] > 0]
    assert sum(r["stage"] == "rl" for r in rows) == len(rl_updates) == 3


def test_an_arms_own_rates_override_the_run_wide_ones_in_each_stage(
    tmp_path, tiny_cache, tiny_world, monkeypatch
):
    from phasescope.train.train_one import train_one

    calls = _record_optimizer_steps(monkeypatch)
    sets = ["train.warmup_steps=2", "arms.sft_then_rl.sft_steps=2", 'train.stage_budget="added"']
    rates = ["arms.sft_then_rl.sft_lr=2e-3", "arms.sft_then_rl.lr=3e-4"]  # tuned apart (phasescope tune)
    cfg = load_config(None, [*tiny_world, *sets, *rates])
    train_one(cfg, "sft_then_rl", 0, tmp_path / "stl", threads=1)
    assert [c[3] for c in calls] == pytest.approx([0.0, 1e-3, 0.0, 1.5e-4, 3e-4])
    lrs = [r["train/lr"] for r in _rows(tmp_path / "stl") if r["step"] > 0]
    assert lrs == pytest.approx([0.0, 1e-3, 0.0, 1.5e-4, 3e-4])  # the rate each update ran at


def test_best_switches_at_the_dev_best_and_rl_starts_from_its_weights(
    tmp_path, tiny_cache, tiny_world, monkeypatch
):
    from phasescope.train.train_one import train_one
    from phasescope.train.trainer import PhaseTrainer

    # Step 0 (the base) is never a candidate, nor step 1: the early grid evaluates every step for the
    # detector, but the candidates are the dev_every (2) grid and the last step.
    planted = {0: 0.9, 1: 0.8, 2: 0.6, 3: 0.4}
    seen = {}

    def fake_dev(cfg, tokenizer):
        def evaluate(model, step):
            seen[step] = [p.detach().clone() for p in model.parameters()]
            return {"dev/accuracy": planted[step]}

        return evaluate

    starts = []
    orig_train = PhaseTrainer.train

    def train(self, *a, **k):
        starts.append([p.detach().clone() for p in self.model.parameters()])
        return orig_train(self, *a, **k)

    monkeypatch.setattr("phasescope.train.dev.world_dev_evaluator", fake_dev)
    monkeypatch.setattr(PhaseTrainer, "train", train)
    cfg = load_config(
        None,
        [
            *tiny_world,
            "arms.sft_then_rl.sft_steps=best",
            "arms.sft_then_rl.dev_every=2",
            'train.stage_budget="added"',
        ],
    )
    out = tmp_path / "run"
    train_one(cfg, "sft_then_rl", 0, out, threads=1)

    switch = json.loads((out / "switch.json").read_text())
    assert (
        switch["switch_step"] == 2 and switch["sft_stage_steps"] == 3 and switch["best_dev_accuracy"] == 0.6
    )
    assert all(torch.equal(a, b) for a, b in zip(starts[1], seen[2]))  # RL starts from step 2's weights
    assert not all(torch.equal(a, b) for a, b in zip(starts[1], seen[3]))
    rows = _rows(out)
    assert [r["step"] for r in rows] == list(range(6))
    assert [r["stage"] for r in rows] == ["sft"] * 3 + ["rl"] * 3
    stage = [json.loads(x) for x in (out / "sft_stage.jsonl").read_text().splitlines()]
    assert [r["dev/accuracy"] for r in stage] == [planted[s] for s in range(4)]  # past the switch too
    assert [json.loads(x)["step"] for x in (out / "tokens.jsonl").read_text().splitlines()] == [0, 2, 4, 5]


def _shift_readapt_overfit(seed=0):
    """Planted SFT dev curve, one point per 5 steps: shift to step 45, readapt to 195, overfit after."""
    steps = np.arange(80) * 5.0
    acc = np.concatenate([np.linspace(0.5, 0.3, 10), np.linspace(0.3, 0.7, 30), np.linspace(0.7, 0.5, 40)])
    return steps, acc + np.random.default_rng(seed).normal(0, 0.01, 80)


def test_best_is_the_earliest_highest_dev_accuracy_after_step_0():
    ch = SwitchChooser("best")
    ch.update(0, {"dev/accuracy": 0.9})
    ch.update(1, {"dev/accuracy": 0.95}, candidate=False)  # a dense early point: for the detector only
    for step, acc in [(5, 0.3), (10, 0.7), (15, 0.7), (20, 0.5)]:
        ch.update(step, {"dev/accuracy": acc})
    assert (ch.best_step, ch.best_value, ch.stop) == (10, 0.7, False)
    assert [p["step"] for p in ch.report()["dev_curve"]] == [0, 1, 5, 10, 15, 20]


def test_auto_stops_after_the_peak_once_overfit_is_confirmed():
    steps, acc = _shift_readapt_overfit()
    ch = SwitchChooser("auto")
    stopped_at = None
    for s, a in zip(steps, acc):
        ch.update(int(s), {"dev/accuracy": float(a)})
        if ch.stop:
            stopped_at = int(s)
            break
    assert stopped_at is not None and 195 < stopped_at < 300  # confirmed after the peak, well before the end
    assert ch.stopped_by.label == "overfit" and abs(ch.stopped_by.start_step - 195) <= 20
    assert abs(ch.best_step - 195) <= 20  # the best checkpoint, not the confirmation step
    assert [e["label"] for e in ch.report()["events"]["dev/accuracy"]] == ["shift", "readapt", "overfit"]


def test_auto_never_stops_on_a_curve_that_keeps_improving():
    steps = np.arange(80) * 5
    acc = 0.3 + 0.001 * steps + np.random.default_rng(1).normal(0, 0.01, 80)
    ch = SwitchChooser("auto")
    for s, a in zip(steps, acc):
        ch.update(int(s), {"dev/accuracy": float(a)})
    assert not ch.stop and ch.best_step == int(steps[np.argmax(acc)])


def test_within_the_budget_every_two_stage_arm_spends_max_steps_updates(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one

    cfg = load_config(
        None,
        [
            *tiny_world,
            "train.max_steps=6",
            "arms.sft_then_rl.sft_steps=best",
            "arms.sft_then_rl.dev_every=1",
            'train.stage_budget="within"',
        ],
    )
    for arm in ("sft_then_rl", "rl"):
        train_one(cfg, arm, 0, tmp_path / arm, threads=1)
    rows = _rows(tmp_path / "sft_then_rl")
    switch = json.loads((tmp_path / "sft_then_rl" / "switch.json").read_text())
    # best: at most 6 // 2 = 3 SFT updates (all spent, past the switch too), then the 3 left for RL
    assert switch["sft_stage_steps"] == 3 and switch["rl_steps"] == 3
    assert rows[-1]["budget/updates"] == _rows(tmp_path / "rl")[-1]["budget/updates"] == 6


def test_stage_lengths_within_and_added():
    longest, rest = stage_lengths(600, "within")
    assert longest == 300 and rest(300) == 300 and rest(7) == 593  # epoch: 7 SFT updates, 593 RL
    with pytest.raises(PhasescopeError, match="leaving none for RL"):
        rest(600)
    longest, rest = stage_lengths(600, "added")
    assert longest == 600 and rest(600) == rest(7) == 600  # the paper's: RL as long as the rl arm


def test_a_fixed_sft_stage_as_long_as_the_budget_is_refused_within_it():
    assert load_config(None, []).train.stage_budget == "within"  # the default
    with pytest.raises(PhasescopeError, match="leaves no RL update"):
        load_config(None, ["train.max_steps=50", "arms.sft_then_rl.sft_steps=50"])
    load_config(None, ["train.max_steps=50", "arms.sft_then_rl.sft_steps=50", 'train.stage_budget="added"'])


def test_sft_stage_lengths():
    assert sft_stage_length(7, 100, 32, 350) == 7
    assert sft_stage_length("epoch", 100, 32, 350) == 4  # one pass over 100 rows, 32 per update
    assert sft_stage_length("best", 100, 32, 350) == sft_stage_length("auto", 100, 32, 350) == 350


@pytest.mark.parametrize("value", ["0", "-3", "1.5", '"bestest"', "true"])
def test_bad_sft_steps_is_a_one_line_usage_error(cli, tmp_path, value):
    res = cli("run", "--out", tmp_path, "--set", f"arms.sft_then_rl.sft_steps={value}")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "arms.sft_then_rl.sft_steps" in res.stderr
    assert not any(tmp_path.iterdir())  # nothing was written


def test_a_dev_split_that_overlaps_the_eval_set_is_refused():
    check_disjoint(["1+2=", "3+4="], ["5+6="], "dev")
    with pytest.raises(UsageError, match="shares 1 problem"):
        check_disjoint(["1+2=", "3+4="], ["3+4= ", "7+8="], "dev")  # compared after normalising space


def test_the_world_dev_split_is_disjoint_from_every_other_split():
    from phasescope.world import world_splits

    sp = world_splits(load_config(None, []).world)
    dev = {(p.a, p.b) for p in sp.dev}
    assert len(dev) == 256
    for other in (sp.eval, sp.expert, sp.rl, sp.pretrain_add):
        assert not dev & {(p.a, p.b) for p in other}


@pytest.mark.slow  # ~100 prefix fits of the detector
def test_auto_stops_on_a_dev_nll_that_falls_steeply_then_creeps_up():
    # The default world's dev/expert_nll: a steep convex fall (cut into several short `improve` pieces
    # by the prefix fits), its minimum near step 45, then a slow rise; dense points to step 30.
    steps = np.concatenate([np.arange(31), np.arange(35, 351, 5)]).astype(float)
    nll = np.where(steps < 45, 0.2 + 1.0 * np.exp(-steps / 12), 0.2 + 0.0003 * (steps - 45))
    nll = nll + np.random.default_rng(2).normal(0, 0.003, len(steps))
    ch = SwitchChooser("auto")
    for s, v in zip(steps, nll):
        ch.update(int(s), {"dev/expert_nll": float(v), "dev/accuracy": 0.5})
        if ch.stop:
            break
    assert ch.stop and ch.stopped_by.metric == "dev/expert_nll" and ch.stopped_by.label == "overfit"
    assert 30 <= ch.stopped_by.start_step <= 60 and ch.stopped_by.confirmed_step < 350


def test_real_data_needs_a_dev_source_disjoint_from_eval(tmp_path):
    from pathlib import Path

    from phasescope.train.dev import real_dev_evaluator

    data = Path(__file__).resolve().parents[1] / "fixtures" / "data"
    eval_set = data / "math_tiny_eval.jsonl"
    real = [
        'model.model_name_or_path="some/model"',
        f'data.rl_prompts="{data / "math_tiny.jsonl"}"',
        f'data.eval=["{eval_set}"]',
    ]
    with pytest.raises(UsageError, match="set data.dev"):
        real_dev_evaluator(load_config(None, real), None, "sft_then_rl")
    with pytest.raises(
        UsageError, match=r"^arms.chord_phase.phase_metric='dev/accuracy' steers μ on a dev split"
    ):
        real_dev_evaluator(load_config(None, real), None, "chord_phase")
    dev = tmp_path / "dev.jsonl"
    dev.write_text(eval_set.read_text().splitlines()[0] + "\n")  # one held-out problem in the dev split
    with pytest.raises(UsageError, match="shares 1 problem"):
        real_dev_evaluator(load_config(None, [*real, f'data.dev="{dev}"']), None, "sft_then_rl")
