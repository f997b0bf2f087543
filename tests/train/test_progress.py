"""`phasescope run`'s progress: bars (step, held-out accuracy, ETA) on a terminal, plain lines elsewhere."""

from __future__ import annotations

import json

import phasescope.train.progress as progress
from phasescope.train.progress import Bars, PlainLines, progress_display


def _exp(tmp_path):
    run = tmp_path / "sft" / "seed0"
    run.mkdir(parents=True)
    rows = [{"step": 0, "eval/accuracy": 0.25}, {"step": 1}, {"step": 2, "eval/accuracy": 0.5}, {"step": 3}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_not_a_terminal_gives_todays_plain_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0)
    said = []
    with progress_display(_exp(tmp_path), 10) as shown:  # pytest's stdout is not a terminal
        assert isinstance(shown, PlainLines)
        shown.add("sft", 0)
        shown.refresh({("sft", 0): None, ("rl", 0): None}, said.append)
    assert said == ["  sft/seed0 3/10 acc 0.50 | rl/seed0 0/10"]


def test_a_terminal_gets_a_bar_per_run_with_step_and_accuracy(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "BAR_EVERY_S", 0)
    with progress_display(_exp(tmp_path), 10, terminal=True) as shown:
        assert isinstance(shown, Bars)
        shown.add("sft", 0)
        shown.add("rl", 0)
        shown.refresh(None, None)
        tasks = {t.description: t for t in shown.progress.tasks}
        assert (tasks["sft/seed0"].completed, tasks["sft/seed0"].total) == (3, 10)
        assert tasks["sft/seed0"].fields["acc"] == "acc 0.50"
        assert tasks["rl/seed0"].completed == 0 and "-" in tasks["rl/seed0"].fields["acc"]
        shown.remove("sft", 0)
        assert [t.description for t in shown.progress.tasks] == ["rl/seed0"]


def test_each_arm_gets_the_length_of_its_own_step_axis():
    from phasescope.arms import run_length
    from phasescope.config import load_config
    from phasescope.train.progress import total_steps

    cfg = load_config(None, ["arms.sft_then_rl.sft_steps=40", "train.max_steps=100"])
    lengths = {a: run_length(cfg.arms[a], cfg.train.max_steps) for a in cfg.experiment.arms}
    assert total_steps(lengths, "rl") == 100 and total_steps(lengths, "sft_then_rl") == 140
    assert total_steps(100, "sft_then_rl") == 100


def test_summary_table_columns_line_up_for_long_arm_names():
    from phasescope.train.runner import format_summary

    row = dict(base=0.475, min=0.2, min_step=4, peak=0.755, peak_step=354, final=0.755, steps=354, seconds=42)
    lines = format_summary([{"arm": "rl", "seed": 0, **row}, {"arm": "sft_light_then_rl", "seed": 0, **row}])
    ends = {line.index("0.475") for line in lines[1:]}
    assert len(ends) == 1 and lines[0].index("seed") < lines[2].index(" 0 ") + 3


def test_sft_light_bar_counts_one_pass_over_the_expert_set_not_a_full_sft_stage():
    from phasescope.config import load_config
    from phasescope.train.runner import _axis_length

    base = ["world.n_expert=100", "train.expert_batch_size=32", "train.max_steps=50"]
    cfg = load_config(None, [*base, 'train.stage_budget="added"'])
    assert _axis_length(cfg, "sft_light_then_rl") == 50 + 4  # ⌈100 / 32⌉ SFT updates, then 50 RL
    assert _axis_length(cfg, "sft_then_rl") == 100  # best: at most a full SFT stage, then 50 RL
    assert _axis_length(cfg, "rl") == 50
    within = load_config(None, base)  # the default: every arm's SFT stage comes out of its 50 updates
    assert [_axis_length(within, a) for a in ("sft_light_then_rl", "sft_then_rl", "rl")] == [50, 50, 50]
