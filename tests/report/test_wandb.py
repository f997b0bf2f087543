"""The W&B mirror: offline runs that `wandb sync` reads back, and failures that are one warning.
No test touches the network: offline mode, WANDB_DIR in tmp, and no credentials."""

from __future__ import annotations

import sys

import pytest

from phasescope.report.wandb_upload import summary_values, upload_analysis
from phasescope.runlog.wandb_mirror import WandbMirror, mirror_rows, resolve_mode

from . import wandb_records

pytest.importorskip("wandb")

ROWS = [
    {"step": 0, "stage": "sft", "eval/accuracy": 0.5},
    {"step": 1, "stage": "sft", "train/mu": 1.0, "train/loss": 2.0, "expert/p_q10": 0.1},
    {"step": 2, "stage": "rl", "train/mu": 0.0, "train/grpo_loss": 0.01, "eval/accuracy": 0.6},
]


@pytest.fixture
def offline(wandb_offline):
    return wandb_offline


def test_offline_training_run_and_analysis_run_are_readable(offline, toy_exp):
    written = []
    mirror = WandbMirror(
        "offline", group="toy", job_type="sft", name="sft/seed0", config={"train": {"lr": 1e-3}}, dir=offline
    )
    assert mirror.active
    on_row = mirror_rows(written.append, mirror)
    for row in ROWS:
        on_row(row)
    mirror.finish()
    assert written == ROWS  # the local record is untouched
    (run_file,) = list(offline.glob("wandb/offline-run-*/run-*.wandb"))
    assert wandb_records.run_meta(run_file) == {"group": "toy", "job_type": "sft", "name": "sft/seed0"}
    keys = wandb_records.logged_keys(run_file)
    assert {"step", "eval/accuracy", "train/mu", "train/loss", "train/grpo_loss", "expert/p_q10"} <= keys
    assert "stage" not in keys  # strings stay in metrics.jsonl

    compare = _compare(toy_exp)
    figures = {"phases": _png(offline)}
    assert upload_analysis(compare, figures, "offline", group="toy", dir=offline / "a")
    (run_file,) = list((offline / "a").glob("wandb/offline-run-*/run-*.wandb"))
    assert wandb_records.run_meta(run_file)["job_type"] == "analysis"
    keys = wandb_records.logged_keys(run_file)
    assert {
        "tables/phases/_type",
        "tables/pairwise/_type",
        "tables/arms/_type",
        "tables/matched/_type",  # the ranking at 25/50/75/100% of the matched budget
        "figures/phases/_type",
    } <= keys
    summary = wandb_records.logged_keys(run_file, "summary")
    assert {
        "phase/sft/shift/start_step",
        "phase/sft/overfit/end_step",
        "final/chord_phi",
        "verdict",
    } <= summary


def _compare(exp):
    from phasescope.analysis import analyse

    return analyse(exp, "eval/accuracy").comparison


def _png(tmp):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1])
    fig.savefig(tmp / "x.png")
    plt.close(fig)
    return tmp / "x.png"


def test_summary_values_hold_phase_spans(toy_exp):
    values = summary_values(_compare(toy_exp))
    assert values["phase/sft/shift/start_step"] == 0
    assert values["phase/sft/readapt/start_step"] == pytest.approx(20, abs=10)


def test_wandb_not_installed_is_one_warning(offline, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    warnings = []
    mirror = WandbMirror("offline", group="g", job_type="sft", name="n", dir=offline, warn=warnings.append)
    written = []
    on_row = mirror_rows(written.append, mirror)
    for row in ROWS:
        on_row(row)
    mirror.finish()
    assert not mirror.active and written == ROWS
    assert len(warnings) == 1 and "not installed" in warnings[0]


def test_online_without_credentials_never_prompts(offline, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_MODE")
    mirror = WandbMirror("online", group="g", job_type="sft", name="n", dir=offline)
    mirror.log(ROWS[0])
    err = capsys.readouterr().err
    assert not mirror.active and err.count("warning: W&B") == 1 and "WANDB_API_KEY" in err


def test_a_failing_log_disables_the_mirror_but_not_the_writer(capsys):
    class Broken:
        def log(self, row):
            raise OSError("disk full")

        def finish(self, exit_code=0):
            pass

    mirror = WandbMirror("off", group="g", job_type="sft", name="n")
    mirror.run = Broken()
    written = []
    on_row = mirror_rows(written.append, mirror)
    on_row(ROWS[0])
    on_row(ROWS[1])
    assert written == ROWS[:2] and not mirror.active
    assert capsys.readouterr().err.count("warning: W&B") == 1


def test_mode_resolution(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_mode(None) == "off" and resolve_mode("online") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("online") == "offline" and resolve_mode("off") == "off"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode("offline") == "off"
    with pytest.raises(ValueError):
        resolve_mode("maybe")
