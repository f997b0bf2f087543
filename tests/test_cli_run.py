"""`phasescope run` end to end on a tiny world, and its one-line errors for bad input."""

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--arms", "sft,ppo"], "unknown arm 'ppo'"),
        (["--set", "train.lrr=1e-4"], "unknown config key train.lrr"),
        (["--set", 'train.max_steps="many"'], "train.max_steps must be int"),
        (["--set", "train.max_steps=-5"], "train.max_steps must be > 0"),
        (["--set", "arms.chord_phi.mu=1.5"], "mu must be in [0, 1]"),
        (["--set", "arms.chord_mu.mu_peak=-0.2"], "mu_peak must be in [0, 1]"),
        (["no/such/experiment.toml"], "does not exist"),
        (["--seeds", "0"], "experiment.seeds must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, fragment):
    res = cli("run", "--out", str(tmp_path), *args)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert not (tmp_path / "default").exists()  # nothing is written for a rejected config


def test_unknown_option_is_a_usage_error_without_traceback(cli):
    res = cli("run", "--bogus")
    assert res.returncode == 2 and "Traceback" not in res.stderr + res.stdout


def test_run_writes_the_run_directory_and_prints_the_table(tmp_path, tiny_cache, tiny_world):
    sets = [x for s in tiny_world for x in ("--set", s)]
    cmd = [
        sys.executable,
        "-m",
        "phasescope.cli",
        "run",
        "--arms",
        "sft_then_rl,chord_phi",
        "--out",
        str(tmp_path),
        "--name",
        "e2e",
        *sets,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    exp = tmp_path / "e2e"
    meta = json.loads((exp / "experiment.json").read_text())
    assert meta["config"]["experiment"]["arms"] == ["sft_then_rl", "chord_phi"]
    assert {"torch", "transformers", "trl"} <= set(meta["versions"])
    for arm in ("sft_then_rl", "chord_phi"):
        rows = [json.loads(x) for x in (exp / arm / "seed0" / "metrics.jsonl").read_text().splitlines()]
        # sft_then_rl: 2 SFT steps, then as many RL steps as train.max_steps (3), on one step axis
        assert [r["step"] for r in rows] == list(range(6 if arm == "sft_then_rl" else 4))
        assert arm in res.stdout
    assert f"run directory: {exp}" in res.stdout
    # a second run into the same directory refuses rather than mixing two runs
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
