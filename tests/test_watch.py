"""Following a log while another process writes it (the library half of `phasescope watch`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from phasescope.analysis.online import OnlineDetector
from phasescope.errors import UsageError
from phasescope.watch import Follower, follow, watch

# A planted accuracy curve: shift to step 100, readapt to step 400, overfit to step 800.
STEPS = np.arange(0, 801, 10.0)
CLEAN = np.interp(STEPS, [0, 100, 400, 800], [0.5, 0.35, 0.75, 0.6])
VALUES = CLEAN + 0.004 * np.random.default_rng(0).standard_normal(len(STEPS))

WRITER = textwrap.dedent(
    """
    import json, sys, time
    path, kind = sys.argv[1], sys.argv[2]
    points = json.loads(sys.argv[3])
    with open(path, "w") as fh:
        if kind == "csv":
            fh.write("step,train_loss,eval/accuracy\\n")
        for i, (s, v) in enumerate(points):
            if kind == "csv":
                line = f"{s:g},{1.0 / (i + 1):.5f},{v!r}\\n"
            else:
                line = json.dumps({"step": s, "train/loss": 1.0 / (i + 1), "eval/accuracy": v}) + "\\n"
            cut = len(line) // 2  # every line reaches the disk in two halves
            fh.write(line[:cut]); fh.flush(); time.sleep(0.004)
            fh.write(line[cut:]); fh.flush(); time.sleep(0.004)
    """
)


class _Lines(io.StringIO):
    """An output stream that notes, for each line, whether the writer was still running."""

    def __init__(self, proc):
        super().__init__()
        self.proc, self.live = proc, []

    def write(self, s):
        if s.strip():
            self.live.append(self.proc.poll() is None)
        return super().write(s)


def _expected_events():
    return [e.to_dict() for e in OnlineDetector("eval/accuracy").run(STEPS, VALUES)]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_follows_a_file_while_a_writer_process_appends_to_it(tmp_path, kind):
    path = tmp_path / f"log.{kind}"
    points = json.dumps([[float(s), float(v)] for s, v in zip(STEPS, VALUES, strict=True)])
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), kind, points])
    out = _Lines(proc)
    code = watch(path, "eval/accuracy", as_json=True, until_idle=1.0, wait=True, out=out, poll=0.02)
    proc.wait(timeout=30)
    assert code == 0
    got = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [g["label"] for g in got] == ["shift", "readapt", "overfit"]
    # The same events, in the same order, as feeding the finished curve to the detector: a line
    # read half-written was read again once complete, never as a wrong number.
    want = _expected_events()
    assert [{k: g[k] for k in want[0]} for g in got] == want
    assert {g["metric"] for g in got} == {"eval/accuracy"} and {g["run"] for g in got} == {"log"}
    assert out.live[0]  # the first event was printed while the log was still being written


def test_follows_a_trainer_state_json_rewritten_whole(tmp_path):
    path = tmp_path / "trainer_state.json"
    follower = Follower(path, "eval_loss")
    history, got = [], []
    for s, v in zip(STEPS, 1.5 - VALUES, strict=True):  # the same shape as a loss
        history += [{"step": int(s), "loss": 0.1}, {"step": int(s), "eval_loss": float(v)}]
        text = json.dumps({"global_step": int(s), "log_history": history})
        path.write_text(text[: len(text) // 2])  # caught mid-rewrite: skipped, read again later
        got += follower.poll()[0]
        path.write_text(text)
        got += follower.poll()[0]
    want = [e.to_dict() for e in OnlineDetector("eval_loss").run(STEPS, 1.5 - VALUES)]
    assert [g["label"] for g in got] == ["shift", "readapt", "overfit"]
    assert [{k: g[k] for k in want[0]} for g in got] == want


def test_a_phasescope_experiment_directory_has_one_detector_per_run(tmp_path):
    rising = np.interp(STEPS, [0, 800], [0.3, 0.7]) + (VALUES - CLEAN)
    for arm, curve in (("sft", VALUES), ("rl", rising)):
        d = tmp_path / "exp" / arm / "seed0"
        d.mkdir(parents=True)
        rows = [{"step": s, "eval/accuracy": v} for s, v in zip(STEPS, curve, strict=True)]
        d.joinpath("metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "exp" / "experiment.json").write_text("{}")
    got = list(follow(tmp_path / "exp", "eval/accuracy", until_idle=0.0, poll=0.01))
    assert sorted({g["run"] for g in got}) == ["rl/seed0", "sft/seed0"]
    assert [g["label"] for g in got if g["run"] == "sft/seed0"] == ["shift", "readapt", "overfit"]
    assert [g["label"] for g in got if g["run"] == "rl/seed0"] == ["improve"]


def test_unknown_metric_lists_the_metrics_seen(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(
        "".join(json.dumps({"step": i, "train/loss": 1.0, "eval/acc": 0.5}) + "\n" for i in range(5))
    )
    with pytest.raises(
        UsageError, match=r"metric 'eval_loss' was not logged in .*; metrics seen: eval/acc, train/loss"
    ):
        list(follow(path, "eval_loss", until_idle=0.0, poll=0.01))


def test_a_missing_file_without_wait_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist .*--wait"):
        watch(tmp_path / "nope.jsonl", until_idle=0.0)


def test_watching_a_phasescope_run_reads_its_eval_set_size(tmp_path):
    """experiment.json's world.n_eval sets a rate's noise floor; --eval-n overrides it."""
    d = tmp_path / "exp" / "rl" / "seed0"
    d.mkdir(parents=True)
    flat = 0.46 + 0.02 * np.sin(STEPS / 60)
    rows = [{"step": s, "eval/accuracy": round(v * 200) / 200} for s, v in zip(STEPS, flat, strict=True)]
    d.joinpath("metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "exp" / "experiment.json").write_text(json.dumps({"config": {"world": {"n_eval": 300}}}))
    follower = Follower(tmp_path / "exp", "eval/accuracy")
    assert follower.poll()[0] == []
    assert follower.eval_n == 300 and follower.trackers["rl/seed0"].detector.eval_n == 300
    given = Follower(tmp_path / "exp", "eval/accuracy", eval_n=50)
    given.poll()
    assert given.trackers["rl/seed0"].detector.eval_n == 50
    assert Follower(d, "eval/accuracy").eval_n is None  # not resolved before the first poll
