"""`phasescope segment` as a user runs it: output, JSON, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from .conftest import FIXTURES, run_cli


def _one_line_error(proc, code_in=(1, 2)):
    assert proc.returncode in code_in, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_lists_metrics_without_metric(cli):
    proc = cli("segment", FIXTURES / "hf_trainer_state.json")
    assert proc.returncode == 0, proc.stderr
    assert "eval_accuracy" in proc.stdout and "41 points" in proc.stdout


def test_json_to_stdout_follows_the_design_format(cli):
    proc = cli("segment", FIXTURES / "hf_trainer_state.json", "--metric", "eval_accuracy", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (curve,) = json.loads(proc.stdout)
    assert {"metric", "source", "n_points", "changepoints", "phases"} <= set(curve)
    assert curve["n_points"] == 41
    for p in curve["phases"]:
        assert {"label", "start_step", "end_step", "start_value", "end_value", "slope", "ci"} <= set(p)
    assert [p["label"] for p in curve["phases"]] == ["shift", "readapt", "overfit"]


def test_table_and_json_file(tmp_path, cli):
    out = tmp_path / "seg.json"
    proc = cli("segment", FIXTURES / "wandb_chart_export.csv", "-m", "eval/accuracy", "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "shift" in proc.stdout and "overfit" in proc.stdout
    assert len(json.loads(out.read_text())) == 2


def test_direction_override_relabels(cli):
    proc = cli(
        "segment",
        FIXTURES / "hf_trainer_state.json",
        "-m",
        "eval_accuracy",
        "--direction",
        "lower",
        "--json",
        "-",
    )
    assert proc.returncode == 0, proc.stderr
    assert [p["label"] for p in json.loads(proc.stdout)[0]["phases"]] == ["improve", "overfit", "improve"]


def test_missing_file(tmp_path):
    line = _one_line_error(run_cli("segment", tmp_path / "nope.json", "-m", "x"), (2,))
    assert "does not exist" in line


def test_unknown_format(tmp_path, cli):
    p = tmp_path / "notes.txt"
    p.write_text("hello\nworld\n")
    assert "unknown log format" in _one_line_error(cli("segment", p), (2,))


def test_no_step_column(tmp_path, cli):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n3,4\n")
    assert "--step-col" in _one_line_error(cli("segment", p), (2,))


def test_metric_not_found_lists_available(cli):
    line = _one_line_error(cli("segment", FIXTURES / "hf_trainer_state.json", "-m", "bleu"), (2,))
    assert "eval_accuracy" in line and "eval_loss" in line


def test_curve_too_short_says_how_many_points(tmp_path, cli):
    p = tmp_path / "short.csv"
    p.write_text("step,acc\n" + "\n".join(f"{i},{i}" for i in range(4)))
    line = _one_line_error(
        cli("segment", p, "-m", "acc"), (2,)
    )  # the input is too short: a usage error (issue 23)
    assert "at least 6" in line


def test_all_nan_curve(tmp_path, cli):
    p = tmp_path / "nan.csv"
    p.write_text("step,acc,loss\n" + "\n".join(f"{i},nan,{i}" for i in range(20)))
    line = _one_line_error(cli("segment", p, "-m", "acc"), (2,))
    assert "no finite values" in line and "20" in line


def test_bad_direction(cli):
    line = _one_line_error(
        cli("segment", FIXTURES / "hf_trainer_state.json", "-m", "eval_accuracy", "--direction", "up"),
        (2,),
    )
    assert "higher" in line


@pytest.mark.parametrize("name", ["qwen06_syntagrus_lora.stdout_log.txt"])
def test_unsupported_real_log_is_one_line(real_logs, name):
    assert "trainer_state.json" in _one_line_error(run_cli("segment", real_logs / name), (2,))


@pytest.mark.parametrize("bad", ["0", "-3", "many", "2.5"])
def test_eval_n_must_be_a_positive_whole_number(bad, cli):
    proc = cli("segment", FIXTURES / "hf_trainer_state.json", "-m", "eval_accuracy", "--eval-n", bad)
    assert "--eval-n" in _one_line_error(proc, (2,))


def test_eval_n_sets_the_binomial_noise_floor(tmp_path, cli):
    # One problem of 40 flipping back and forth: within a 40-problem eval set's noise, no phase.
    p = tmp_path / "flips.csv"
    p.write_text("step,accuracy\n" + "\n".join(f"{i * 10},{0.5 + 0.025 * (i % 2)}" for i in range(30)))
    proc = cli("segment", p, "-m", "accuracy", "--eval-n", "40", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (curve,) = json.loads(proc.stdout)
    assert curve["eval_n"] == 40
    assert curve["no_phases"] is not None
    assert [ph["label"] for ph in curve["phases"]] == ["plateau"]


def test_constant_curve_has_no_phases(tmp_path, cli):
    p = tmp_path / "const.csv"
    p.write_text("step,accuracy\n" + "\n".join(f"{i},0.25" for i in range(20)))
    proc = cli("segment", p, "-m", "accuracy")
    assert proc.returncode == 0, proc.stderr
    assert "no phases: accuracy is constant (0.25 at every step)" in proc.stdout


def test_stage_switch_of_a_phasescope_run_is_a_fixed_knot(tmp_path, cli):
    run = tmp_path / "exp" / "sft_then_rl" / "seed0"
    run.mkdir(parents=True)
    rows = [{"step": 0, "stage": "sft", "eval/accuracy": 0.5}]
    for s in range(1, 121):
        row = {"step": s, "stage": "sft" if s < 61 else "rl"}
        if s % 5 == 0:
            row["eval/accuracy"] = 0.5 - 0.3 * (s < 61) * min(s, 20) / 20 + 0.003 * max(s - 60, 0)
        rows.append(row)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = cli("segment", tmp_path / "exp", "-m", "eval/accuracy", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    (curve,) = json.loads(proc.stdout)
    fixed = [cp for cp, f in zip(curve["changepoints"], curve["changepoint_fixed"]) if f]
    assert fixed == [65]  # the first evaluation of the RL stage (its first step is 61)
