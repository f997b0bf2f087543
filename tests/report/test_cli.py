"""`phasescope compare` and `phasescope report` as a user runs them; bad input is one line."""

from __future__ import annotations

import json

from phasescope.cli import _report_after_run

from .conftest import FIGURES, make_experiment, one_line_error


def test_compare_prints_table_and_writes_default_json(toy_exp_plain, cli):
    proc = cli("compare", toy_exp_plain)
    assert proc.returncode == 0, proc.stderr
    assert "At each arm's own end: Highest final eval/accuracy: chord_phi" in proc.stdout
    data = json.loads((toy_exp_plain / "analysis" / "eval-accuracy" / "compare.json").read_text())
    assert data["metric"] == "eval/accuracy"
    assert set(data["arms"]) == {"sft", "sft_then_rl", "chord_phi"}


def test_compare_json_to_stdout_and_other_metric(toy_exp_plain, cli):
    proc = cli("compare", toy_exp_plain, "--metric", "eval/general_accuracy", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["metric"] == "eval/general_accuracy" and data["pairwise"]


def test_report_command_on_a_run_dir_without_probes(toy_exp_plain, tmp_path, cli):
    # The contract before probes existed: no probe/* metrics, no tokens.jsonl. Those figures are
    # skipped with a note; the rest of the report is written.
    proc = cli("report", toy_exp_plain, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    figures = {p.stem for p in (tmp_path / "out" / "figures").glob("*.png")}
    assert figures == FIGURES
    assert "tokens.jsonl" in proc.stderr and "kl_to_base" in proc.stderr
    assert (tmp_path / "out" / "report.html").is_file() and "chord_phi" in proc.stdout


def test_one_seed_report_says_no_test_is_possible(tmp_path, cli):
    exp = make_experiment(tmp_path, arms=("rl", "chord_phi"), seeds=1, steps=60, with_probes=False)
    proc = cli("compare", exp)
    assert proc.returncode == 0, proc.stderr
    assert "no test" in proc.stdout and "binomial" in proc.stdout


def test_missing_dir(tmp_path, cli):
    assert "does not exist" in one_line_error(cli("compare", tmp_path / "nope"), (2,))
    assert "does not exist" in one_line_error(cli("report", tmp_path / "nope"), (2,))


def test_dir_without_runs(tmp_path, cli):
    assert "no supported logs" in one_line_error(cli("compare", tmp_path), (2,))
    (tmp_path / "experiment.json").write_text("{}")
    assert "metrics.jsonl" in one_line_error(cli("report", tmp_path), (2,))


def test_unknown_metric_lists_choices(toy_exp_plain, cli):
    line = one_line_error(cli("compare", toy_exp_plain, "--metric", "eval/bleu"), (2,))
    assert "eval/bleu" in line and "eval/accuracy" in line


def test_bad_wandb_mode(toy_exp_plain, cli):
    assert "--wandb" in one_line_error(cli("report", toy_exp_plain, "--wandb", "maybe"), (2,))


def test_report_failure_after_run_is_one_warning(tmp_path, capsys):
    _report_after_run(tmp_path / "missing", "off", {})
    err = capsys.readouterr().err
    assert err.startswith("warning: report not written") and "phasescope report" in err
    assert "Traceback" not in err
