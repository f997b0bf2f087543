"""Every malformed input a user can type or point at: one `error:` line naming the problem (and the
fix), exit code 2 for usage errors and 1 for runtime failures, and never a traceback.

The table runs `phasescope.cli.main` in-process (a subprocess per case costs seconds of imports);
two cases also run as a real subprocess. Nothing here trains: every `run` case is rejected before
a worker starts.
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest

from phasescope.config import load_config
from phasescope.runlog.experiment import write_experiment_json


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


BINARY = bytes(range(256)) * 4
CURVE = "".join(f'{{"step": {i}, "eval/accuracy": {0.1 + 0.02 * i:.2f}}}\n' for i in range(12))


def _experiment(tmp: Path, name: str = "exp") -> Path:
    exp = tmp / name
    exp.mkdir(parents=True)
    write_experiment_json(exp, load_config(None, ["train.max_steps=5", 'experiment.arms=["sft"]']))
    return exp


def _unreadable(tmp: Path, monkeypatch) -> Path:
    """A log that cannot be opened. Tests run as root here, where chmod 000 does not stop reads, so
    the operating system's PermissionError is raised for this one path instead."""
    path = _write(tmp / "locked.jsonl", CURVE)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    return path


# (id, build(tmp, monkeypatch) -> argv, exit code, fragment of the one stderr line)
# A case with exit code 0 is input that is *handled* (a note, not an error): the fragment is in a note.
CASES = [
    # --- config files -------------------------------------------------------------------------
    ("toml-syntax", lambda t, m: ["run", _write(t / "c.toml", "[train\nlr = 1")], 2, "is not valid TOML"),
    ("toml-binary", lambda t, m: ["run", _write(t / "c.toml", BINARY)], 2, "is not valid TOML"),
    ("toml-directory", lambda t, m: ["run", (t / "d.toml").mkdir() or t / "d.toml"], 2, "is a directory"),
    ("toml-missing", lambda t, m: ["run", t / "nope.toml"], 2, "does not exist"),
    (
        "toml-unknown-section",
        lambda t, m: ["run", _write(t / "c.toml", "[bogus]\nx = 1\n")],
        2,
        "unknown config section [bogus]",
    ),
    (
        "toml-unknown-key",
        lambda t, m: ["run", _write(t / "c.toml", "[train]\nlrr = 1\n")],
        2,
        "unknown config key train.lrr",
    ),
    (
        "toml-wrong-type",
        lambda t, m: ["run", _write(t / "c.toml", '[train]\nsteps = "many"\n')],
        2,
        "train.max_steps must be int",
    ),
    (
        "toml-not-a-table",
        lambda t, m: ["run", _write(t / "c.toml", "train = 5\n")],
        2,
        "[train] must be a table",
    ),
    (
        "toml-arm-not-a-table",
        lambda t, m: ["run", _write(t / "c.toml", "[arms]\nsft = 3\n")],
        2,
        "[arms.sft] must be a table",
    ),
    # --- --set overrides ----------------------------------------------------------------------
    (
        "set-no-equals",
        lambda t, m: ["run", "--set", "train.learning_rate"],
        2,
        "must look like section.key=value",
    ),
    ("set-no-section", lambda t, m: ["run", "--set", "lr=1"], 2, "the key must be section.key"),
    (
        "set-inf",
        lambda t, m: ["run", "--set", "train.learning_rate=inf"],
        2,
        "train.learning_rate must be a finite number",
    ),
    ("set-nan", lambda t, m: ["run", "--set", "arms.chord_phi.mu=nan"], 2, "mu must be a finite number"),
    (
        "set-into-a-value",
        lambda t, m: ["run", "--set", "train.learning_rate.x=1"],
        2,
        "train.learning_rate must be float",
    ),
    (
        "set-list-of-ints",
        lambda t, m: ["run", "--set", "experiment.arms=[1,2]"],
        2,
        "experiment.arms must be list",
    ),
    ("set-out-of-range", lambda t, m: ["run", "--set", "arms.chord_phi.mu=1.5"], 2, "mu must be in [0, 1]"),
    (
        "set-bad-choice",
        lambda t, m: ["run", "--set", 'train.on_nonfinite="ignore"'],
        2,
        "train.on_nonfinite must be stop or skip",
    ),
    (
        "set-negative-cadence",
        lambda t, m: ["run", "--set", "train.save_steps=-1"],
        2,
        "train.save_steps must be >= 0",
    ),
    # --- command-line arguments ---------------------------------------------------------------
    ("arms-unknown", lambda t, m: ["run", "--arms", "sft,ppo"], 2, "unknown arm 'ppo'"),
    ("arms-empty", lambda t, m: ["run", "--arms", ","], 2, "experiment.arms is empty"),
    ("name-with-slash", lambda t, m: ["run", "--name", "a/b"], 2, "must be a plain folder name"),
    ("seeds-not-int", lambda t, m: ["run", "--seeds", "abc"], 2, "Invalid value for '--seeds'"),
    ("workers-zero", lambda t, m: ["run", "--workers", "0"], 2, "experiment.workers must be >= 1"),
    (
        "wandb-mode",
        lambda t, m: ["run", "--wandb", "loud"],
        2,
        "'loud' is not one of 'off', 'offline', 'online'",
    ),
    ("unknown-option", lambda t, m: ["run", "--bogus"], 2, "No such option: --bogus"),
    ("unknown-command", lambda t, m: ["frobnicate"], 2, "No such command 'frobnicate'"),
    ("missing-argument", lambda t, m: ["segment"], 2, "Missing argument 'path'"),
    (
        "direction",
        lambda t, m: ["segment", _write(t / "c.jsonl", CURVE), "--direction", "up"],
        2,
        "--direction",
    ),
    (
        "report-wandb",
        lambda t, m: ["report", _write(t / "c.jsonl", CURVE), "--wandb", "x"],
        2,
        "Invalid value for '--wandb'",
    ),
    ("wandb-spec", lambda t, m: ["segment", "wandb:just-a-name"], 2, "must look like wandb:<entity>"),
    # --- run directories ----------------------------------------------------------------------
    (
        "out-is-a-file",
        lambda t, m: ["run", "--out", _write(t / "f", "x")],
        2,
        "cannot create the run directory",
    ),
    (
        "run-into-existing",
        lambda t, m: ["run", "--out", _experiment(t).parent, "--name", "exp"],
        2,
        "already exists; continue it with --resume",
    ),
    (
        "resume-nothing",
        lambda t, m: ["run", "--resume", "--out", t, "--name", "none"],
        2,
        "nothing to resume",
    ),
    (
        "resume-and-overwrite",
        lambda t, m: ["run", "--resume", "--overwrite", "--out", _experiment(t).parent, "--name", "exp"],
        2,
        "pass one of them",
    ),
    (
        "resume-corrupt-experiment-json",
        lambda t, m: [
            "run",
            "--resume",
            "--out",
            _write(t / "exp" / "experiment.json", "{").parent.parent,
            "--name",
            "exp",
        ],
        2,
        "is unreadable or not a phasescope experiment",
    ),
    (
        "resume-other-config",
        lambda t, m: [
            "run",
            "--resume",
            "--out",
            _experiment(t).parent,
            "--name",
            "exp",
            "--set",
            "train.learning_rate=0.5",
        ],
        2,
        "differs from",
    ),
    (
        "experiment-without-runs",
        lambda t, m: ["compare", _experiment(t)],
        2,
        "has no <arm>/seed<k>/metrics.jsonl files yet",
    ),
    # --- foreign logs -------------------------------------------------------------------------
    ("log-missing", lambda t, m: ["segment", t / "nope.csv"], 2, "does not exist"),
    ("csv-empty", lambda t, m: ["segment", _write(t / "e.csv", "")], 2, "is not a readable CSV"),
    (
        "csv-header-only",
        lambda t, m: ["segment", _write(t / "h.csv", "step,loss\n")],
        2,
        "no numeric metric columns",
    ),
    ("binary-file", lambda t, m: ["segment", _write(t / "b.bin", BINARY)], 2, "unknown log format"),
    ("binary-jsonl", lambda t, m: ["segment", _write(t / "b.jsonl", BINARY)], 2, "is not JSON lines"),
    (
        "nan-curve",
        lambda t, m: [
            "segment",
            _write(t / "n.csv", "step,eval/accuracy\n0,nan\n1,nan\n2,nan\n"),
            "-m",
            "eval/accuracy",
        ],
        2,
        "no finite metric values found",
    ),
    (
        "nan-metric-beside-good-one",
        lambda t, m: [
            "segment",
            _write(
                t / "n.csv",
                "step,loss,eval/accuracy\n" + "".join(f"{i},{1 / (i + 1)},nan\n" for i in range(8)),
            ),
            "-m",
            "eval/accuracy",
        ],
        2,
        "has no finite values",
    ),
    ("missing-metric", lambda t, m: ["segment", _write(t / "c.jsonl", CURVE), "-m", "loss"], 2, "not found"),
    (
        "no-step-column",
        lambda t, m: ["segment", _write(t / "s.csv", "epoch,acc\n1,0.1\n2,0.2\n")],
        2,
        "--step-col",
    ),
    (
        "step-col-absent",
        lambda t, m: ["segment", _write(t / "s.csv", "epoch,acc\n1,0.1\n"), "--step-col", "it"],
        2,
        "is not a column",
    ),
    (
        "jsonl-garbage",
        lambda t, m: ["segment", _write(t / "g.jsonl", "not json\nnor this\n")],
        2,
        "is not JSON lines",
    ),
    (
        "trainer-state-malformed",
        lambda t, m: ["segment", _write(t / "trainer_state.json", '{"log_history": 5}')],
        2,
        "neither a trainer_state.json",
    ),
    ("empty-directory", lambda t, m: ["segment", (t / "d").mkdir() or t / "d"], 2, "no supported logs found"),
    ("unreadable-log", lambda t, m: ["segment", _unreadable(t, m)], 2, "Permission denied"),
    (
        "json-out-unwritable",
        lambda t, m: [
            "segment",
            _write(t / "c.jsonl", CURVE),
            "-m",
            "eval/accuracy",
            "--json",
            t / "no" / "o.json",
        ],
        2,
        "cannot write",
    ),
    (
        "too-few-points",
        lambda t, m: [
            "segment",
            _write(t / "c.jsonl", CURVE[: CURVE.index('{"step": 3')]),
            "-m",
            "eval/accuracy",
        ],
        2,
        "segmenting needs at least",
    ),
    # handled, not an error: the curve is read and the problem is reported as a note
    (
        "truncated-final-line",
        lambda t, m: [
            "segment",
            _write(t / "c.jsonl", CURVE + '{"step": 12, "eval/acc'),
            "-m",
            "eval/accuracy",
        ],
        0,
        "skipped a truncated final line",
    ),
    (
        "duplicate-steps",
        lambda t, m: [
            "segment",
            _write(t / "c.jsonl", CURVE + '{"step": 11, "eval/accuracy": 0.5}\n'),
            "-m",
            "eval/accuracy",
        ],
        0,
        "duplicated step(s)",
    ),
]


@pytest.mark.parametrize("build, code, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input_is_one_line(build, code, fragment, tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)  # a `run` that got through would write ./runs here, not in the repo
    argv = build(tmp_path, monkeypatch)
    res = cli(*argv)
    assert "Traceback" not in res.stdout + res.stderr
    assert res.returncode == code, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    if code == 0:
        assert not errors and any(x.startswith("note:") and fragment in x for x in lines), res.stderr
    else:
        assert len(errors) == 1 and fragment in errors[0], res.stderr
        assert all(x.startswith(("error:", "note:")) for x in lines), res.stderr
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_the_table_is_long_enough():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


def test_debug_shows_the_traceback(cli, tmp_path):
    from phasescope.errors import UsageError

    with pytest.raises(UsageError, match="does not exist"):
        cli("--debug", "run", tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--set", "train.max_steps=1.5"], "train.max_steps must be int"),
        (["run", "--seeds", "x"], "'--seeds'"),
    ],
)
def test_as_a_real_process(args, fragment, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "phasescope.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error:") and fragment in line


def test_resume_uses_the_stored_config(tmp_path):
    """--resume without a config or --set continues with experiment.json, not the defaults."""
    from phasescope.runlog.experiment import resume_config

    exp = _experiment(tmp_path)
    cfg = resume_config(exp, selection={"workers": 1})
    assert cfg.train.max_steps == 5 and cfg.experiment.arms == ["sft"] and cfg.experiment.workers == 1
    assert json.loads((exp / "experiment.json").read_text())["config"]["train"]["max_steps"] == 5
