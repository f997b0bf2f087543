"""`phasescope watch` as a user runs it: a separate process follows a log another process writes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.test_watch import STEPS, VALUES, WRITER, _expected_events


def _watch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "phasescope.cli", "watch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_watch_prints_the_events_in_order_while_a_writer_runs_and_exits_0_when_idle(tmp_path):
    path = tmp_path / "metrics.jsonl"
    points = json.dumps([[float(s), float(v)] for s, v in zip(STEPS, VALUES, strict=True)])
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "jsonl", points])
    try:
        while not path.exists():
            time.sleep(0.01)
        got = _watch(str(path), "-m", "eval/accuracy", "--json", "--until-idle", "1", "--poll", "0.05")
    finally:
        writer.wait(timeout=30)
    assert got.returncode == 0, got.stderr
    events = [json.loads(line) for line in got.stdout.splitlines()]
    assert [e["label"] for e in events] == ["shift", "readapt", "overfit"]
    expected = _expected_events()
    assert [(e["label"], e["start_step"], e["confirmed_step"]) for e in events] == [
        (e["label"], e["start_step"], e["confirmed_step"]) for e in expected
    ]


def test_watch_text_output_names_each_event(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(
            json.dumps({"step": s, "eval/accuracy": v}) + "\n" for s, v in zip(STEPS, VALUES, strict=True)
        )
    )
    got = _watch(str(path), "-m", "eval/accuracy", "--until-idle", "0")
    assert got.returncode == 0, got.stderr
    lines = got.stdout.splitlines()
    assert len(lines) == 3
    assert [w for line in lines for w in ("shift", "readapt", "overfit") if w in line] == [
        "shift",
        "readapt",
        "overfit",
    ]


def _one_line_error(got: subprocess.CompletedProcess) -> str:
    assert got.returncode == 2
    assert "Traceback" not in got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 or all(line.startswith("note:") for line in lines[:-1])
    return lines[-1]


def test_watch_unknown_metric_lists_those_seen_so_far(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(
        "".join(json.dumps({"step": i, "train/loss": 1.0, "eval/acc": 0.5}) + "\n" for i in range(5))
    )
    line = _one_line_error(_watch(str(path), "--until-idle", "0"))
    assert line.startswith("error: metric 'eval_loss' was not logged")
    assert line.endswith("metrics seen: eval/acc, train/loss")


def test_watch_missing_file_without_wait_is_exit_2(tmp_path):
    line = _one_line_error(_watch(str(tmp_path / "nope.jsonl")))
    assert "does not exist" in line and "--wait" in line


def test_watch_unknown_direction_is_exit_2(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"step": 1, "eval_loss": 1.0}) + "\n")
    line = _one_line_error(_watch(str(path), "--direction", "up", "--until-idle", "0"))
    assert "direction" in line and "'up'" in line


def test_watch_eval_n_takes_the_eval_set_size_and_refuses_a_non_positive_one(tmp_path):
    """With --eval-n 20 the planted shift and overfit (0.15 each) of a rate are within 20 problems'
    noise (2.77 binomial standard errors of 0.11 are 0.31) and only the rise of 0.4 is confirmed
    (as an improve: no shift came before it); without it all three are."""
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        "".join(
            json.dumps({"step": float(s), "eval/accuracy": float(v)}) + "\n"
            for s, v in zip(STEPS, VALUES, strict=True)
        )
    )
    args = (str(path), "-m", "eval/accuracy", "--json", "--until-idle", "0")
    plain, small = _watch(*args), _watch(*args, "--eval-n", "20")
    assert plain.returncode == small.returncode == 0, small.stderr
    labels = [[json.loads(line)["label"] for line in r.stdout.splitlines()] for r in (plain, small)]
    assert labels == [["shift", "readapt", "overfit"], ["improve"]]
    bad = _watch(*args, "--eval-n", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
