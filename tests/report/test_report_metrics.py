"""The report reads every phase-bearing metric, with stage switches, base levels, eval-set noise and
recovery steps; known answers from the planted experiment of conftest.py and hand-built curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasescope.analysis import analyse, load_curves, open_experiment
from phasescope.analysis.compare import compare_frame
from phasescope.analysis.noise import eval_n_for
from phasescope.analysis.phasepoints import recovery_step
from phasescope.analysis.segment_results import usable_knots
from phasescope.analysis.tables import phase_table, recovery_text
from phasescope.report import default_out, metric_slug, read_compare
from phasescope.report.marks import base_level, stage_switches
from phasescope.report.phasefigs import fig_timeline
from phasescope.runlog.reader import stage_starts, stages

from .conftest import make_experiment


@pytest.fixture(scope="module")
def frame(toy_exp):
    return load_curves(toy_exp)[0]


def test_stages_are_read_from_the_stage_column():
    rows = [{"step": 0, "stage": "rl"}] + [
        {"step": s, "stage": "sft" if s < 40 else "rl"} for s in range(1, 60)
    ]
    assert stages(rows) == [(1.0, "sft"), (40.0, "rl")]  # the step-0 row (the base) has no regime
    assert stage_starts(rows) == [40.0]
    assert stage_starts([{"step": s, "stage": "mixed"} for s in range(10)]) == []


def test_load_curves_exposes_where_stages_begin(frame):
    # The planted μ: sft_then_rl is 1 until half-way (step 100), chord_mu decays to 0 there.
    assert frame.attrs["stage_starts"]["sft_then_rl"] == [100.0]
    assert "sft" not in frame.attrs["stage_starts"] and "chord_phi" not in frame.attrs["stage_starts"]
    assert stage_switches(frame)["sft_then_rl"] == [(100.0, "sft → rl")]


def test_stage_plan_keeps_cuts_or_drops_knots():
    steps = np.arange(0, 21) * 10.0  # 0, 10, ..., 200
    assert usable_knots(steps, [100]) == ([100], [], None)
    # 3 points after step 180: the last stage is too short to read, and is left unread
    assert usable_knots(steps, [180]) == (None, [], 180)
    # a short first stage (steps 0-20) is read with the next one
    assert usable_knots(steps, [30, 100]) == ([100], [30], None)
    assert usable_knots(steps, None) == (None, [], None)


def test_a_short_last_stage_is_not_read_across_the_switch(tmp_path):
    exp = make_experiment(tmp_path, arms=("sft_then_rl",), seeds=1, steps=200, with_probes=False)
    frame = load_curves(exp)[0]
    c, notes = compare_frame(frame, "eval/accuracy", direction="higher", fixed_knots={"sft_then_rl": [170]})
    seg = c["arms"]["sft_then_rl"]["segmentation"]
    assert seg["unread_from"] == 170 and seg["phases"][-1]["end_step"] == 160
    assert (
        c["arms"]["sft_then_rl"]["final"]["mean"]
        == frame[frame["metric"] == "eval/accuracy"]["value"].iloc[-1]
    )
    assert any("not read" in n for n in notes)


def test_the_switch_is_a_fixed_knot_of_sft_then_rl(toy_exp):
    c = analyse(toy_exp, "eval/accuracy").comparison
    seg = c["arms"]["sft_then_rl"]["segmentation"]
    fixed = [cp for cp, f in zip(seg["changepoints"], seg["changepoint_fixed"]) if f]
    assert fixed == [100]
    assert not any(c["arms"]["sft"]["segmentation"]["changepoint_fixed"])


def test_recovery_is_the_first_evaluated_step_back_at_the_base():
    x = [0, 10, 20, 30, 40]
    assert recovery_step(x, [0.5, 0.2, 0.3, 0.5, 0.6], worst_step=10) == 30
    assert recovery_step(x, [0.5, 0.2, 0.3, 0.4, 0.45], worst_step=10) is None
    assert recovery_step(x, [1.0, 2.0, 1.5, 0.9, 0.8], worst_step=10, direction="lower") == 30
    assert recovery_text({"recovery_steps": [30.0, None]}) == "30 (1 of 2 not recovered)"
    assert recovery_text({"recovery_steps": [None]}) == "not recovered"


def test_phase_table_is_in_time_order_with_integer_recoveries(toy_exp):
    c = analyse(toy_exp, "eval/accuracy").comparison
    rows = phase_table(c).rows
    for arm in c["arms"]:
        onsets = [r[3].value for r in rows if r[0].value == arm]
        assert onsets == sorted(onsets)
    for r in rows:
        assert "never recover" not in r[6].text
        assert r[6].text in ("–", "not recovered") or all(
            t.strip().split(" ")[0].isdigit() for t in r[6].text.split(",")
        )


def test_single_seed_gets_the_binomial_interval(tmp_path):
    exp = make_experiment(
        tmp_path, arms=("sft", "chord_phi"), seeds=1, steps=100, with_probes=False, n_eval=100
    )
    c = analyse(exp, "eval/accuracy").comparison
    final = c["arms"]["chord_phi"]["final"]
    p = final["mean"]
    half = 1.959963984540054 * np.sqrt(p * (1 - p) / 100)
    assert final["ci_binomial"] == pytest.approx([p - half, min(1.0, p + half)])
    assert c["arms"]["sft"]["segmentation"]["eval_n"] == 100


def _real_run(root: Path, rows: dict) -> Path:
    exp = make_experiment(root, arms=("sft",), seeds=1, steps=100, with_probes=False)
    meta = json.loads((exp / "experiment.json").read_text())
    meta["config"]["model"]["name_or_path"] = "/models/tiny"
    (exp / "experiment.json").write_text(json.dumps(meta))
    data = {f"eval:{k}": {"source": f"{k}.jsonl", "rows": n} for k, n in rows.items()}
    (exp / "sft" / "seed0" / "data.json").write_text(json.dumps({"expert": {"rows": 9}, **data}))
    return exp


def test_real_runs_take_the_eval_set_size_from_data_json(tmp_path, cli):
    exp = _real_run(tmp_path, {"math500": 40, "aime": 30})
    sets = open_experiment(exp).eval_sets
    assert sets == {"": 40, "math500": 40, "aime": 30}
    assert eval_n_for("eval/accuracy", sets) == 40
    assert eval_n_for("eval/aime_accuracy", sets) == 30
    proc = cli("compare", exp, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["eval_n"] == 40


def test_one_seed_real_run_compare_gives_the_binomial_interval(tmp_path, cli):
    exp = make_experiment(tmp_path, arms=("sft", "chord_phi"), seeds=1, steps=100, with_probes=False)
    meta = json.loads((exp / "experiment.json").read_text())
    meta["config"]["model"]["name_or_path"] = "/models/tiny"
    (exp / "experiment.json").write_text(json.dumps(meta))
    for arm in ("sft", "chord_phi"):
        (exp / arm / "seed0" / "data.json").write_text(json.dumps({"eval:math500": {"rows": 500}}))
    proc = cli("compare", exp, "--json", "-")
    pair = json.loads(proc.stdout)["pairwise"][0]
    assert pair["ci_method"] == "binomial (eval set n=500)"


def test_report_m_for_two_metrics_leaves_both(tmp_path, cli):
    exp = make_experiment(tmp_path, arms=("sft", "chord_phi"), seeds=2, steps=100, with_probes=False)
    assert cli("report", exp, "-m", "eval/accuracy").returncode == 0
    assert cli("report", exp, "-m", "eval/expert_nll").returncode == 0
    assert cli("compare", exp, "-m", "eval/general_accuracy").returncode == 0
    out = exp / "analysis"
    for m in ("eval/accuracy", "eval/expert_nll", "eval/general_accuracy"):
        assert read_compare(out, m)["metric"] == m
    assert read_compare(out, "eval/expert_nll")["direction"] == "lower"


def test_read_compare_reads_the_single_file_of_older_reports(tmp_path):
    (tmp_path / "compare.json").write_text(json.dumps({"metric": "eval/accuracy", "arms": {}}))
    assert read_compare(tmp_path, "eval/accuracy")["metric"] == "eval/accuracy"


def test_timeline_has_one_row_per_arm_and_seed(toy_exp, frame):
    compares = {m: analyse(toy_exp, m).comparison for m in ("eval/accuracy", "eval/expert_nll")}
    fig = fig_timeline(compares, stage_switches(frame))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 15 and labels[0] == "SFT · seed 0"
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        "eval/accuracy (higher is better)",
        "eval/expert_nll (lower is better)",
    ]


def test_base_level_and_names():
    data = {
        "a": (np.array([0.0, 5.0]), np.array([[0.4, 0.1], [0.6, 0.2]])),
        "b": (np.array([1.0]), np.array([[9.0]])),
    }
    assert base_level(data) == pytest.approx(0.5)  # b did not log step 0
    assert metric_slug("eval/expert_nll") == "eval-expert_nll"
    assert default_out("wandb:ent/proj/grp") == Path("analysis") / "ent-proj-grp"


def test_eval_set_size_is_for_rates_only(toy_exp):
    sets = open_experiment(toy_exp).eval_sets
    assert sets == {"": 256}
    assert eval_n_for("eval/accuracy", sets) == 256
    assert eval_n_for("eval/expert_nll", sets) is None
