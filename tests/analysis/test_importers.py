"""Importers on fixtures with known step/metric counts, on real logs, and on generated directories."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from phasescope.analysis import analyse, load_curves, segment_frame
from phasescope.analysis.synthetic import planted_curve
from phasescope.errors import UsageError

from .conftest import FIXTURES

PLANTED = [100, 400]  # changepoints of every fixture's eval curve (see tests/fixtures/make_fixtures.py)


def _curve(frame: pd.DataFrame, metric: str, run: str | None = None) -> pd.DataFrame:
    sub = frame[frame["metric"] == metric]
    return sub if run is None else sub[sub["run"] == run]


def _phases(path, metric):
    return analyse(path, metric).phases


def _assert_planted(result: dict) -> None:
    assert [p["label"] for p in result["phases"]] == ["shift", "readapt", "overfit"]
    assert np.allclose(result["changepoints"], PLANTED, atol=50)


def test_hf_trainer_state_alternating_rows():
    frame, notes = load_curves(FIXTURES / "hf_trainer_state.json")
    assert len(_curve(frame, "eval_accuracy")) == 41
    assert len(_curve(frame, "loss")) == 100
    assert "epoch" not in set(frame["metric"]) and "eval_runtime" not in set(frame["metric"])
    _assert_planted(
        _phases(FIXTURES / "hf_trainer_state.json", "eval/accuracy")[0]
    )  # loose name match: eval/accuracy → eval_accuracy


def test_llamafactory_jsonl_with_truncated_final_line():
    frame, notes = load_curves(FIXTURES / "llamafactory_trainer_log.jsonl")
    assert len(_curve(frame, "loss")) == 100
    assert len(_curve(frame, "eval_loss")) == 10
    assert any("truncated final line" in n for n in notes)
    assert set(frame["metric"]) == {"loss", "eval_loss", "lr"}


def test_sparse_lightning_csv_unsorted_rows_reported():
    frame, notes = load_curves(FIXTURES / "lightning_metrics.csv")
    assert len(_curve(frame, "val_acc")) == 21
    assert len(_curve(frame, "train_loss_step")) == 100
    assert any("not in step order" in n for n in notes)
    val = _curve(frame, "val_acc")
    assert val["step"].is_monotonic_increasing


def test_wandb_chart_export_splits_runs_and_drops_min_max():
    frame, _ = load_curves(FIXTURES / "wandb_chart_export.csv")
    assert set(frame["run"]) == {"sft", "rl"}
    assert set(frame["metric"]) == {"eval/accuracy"}
    results = _phases(FIXTURES / "wandb_chart_export.csv", "eval/accuracy")
    by_run = {r["run"]: r for r in results}
    _assert_planted(by_run["sft"])
    assert [p["label"] for p in by_run["rl"]["phases"]] == ["improve", "overfit"]  # no shift is invented


def test_wandb_history_csv_nan_reported_and_no_wandb_import():
    code = (
        "import sys; from phasescope.analysis import load_curves;"
        f"f, n = load_curves({str(FIXTURES / 'wandb_history.csv')!r});"
        "assert 'wandb' not in sys.modules;"
        "print(len(f[f.metric == 'eval/accuracy'])); print(n)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "40"  # 41 logged, one NaN dropped
    assert "NaN/inf" in out


def test_tensorboard_directory(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    c = planted_curve("full", n_points=41, span=1000, noise=0.01, shift_frac=0.1, readapt_frac=0.3, rng=7)
    for seed in (0, 1):
        w = EventFileWriter(str(tmp_path / f"seed{seed}"))
        for s, v in zip(c.steps, c.values + 0.005 * seed, strict=True):
            summ = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag="eval/accuracy", simple_value=float(v))]
            )
            w.add_event(event_pb2.Event(step=int(s), wall_time=1.0, summary=summ))
        w.close()
    frame, _ = load_curves(tmp_path)
    assert set(frame["run"]) == {"seed0", "seed1"}
    assert len(_curve(frame, "eval/accuracy", "seed0")) == 41
    for r in _phases(tmp_path, "eval/accuracy"):
        _assert_planted(r)


def _write_experiment(root, arms=("sft", "rl"), seeds=(0, 1, 2)):
    (root / "experiment.json").write_text(json.dumps({"name": "demo"}))
    for arm in arms:
        for seed in seeds:
            d = root / arm / f"seed{seed}"
            d.mkdir(parents=True)
            variant = "full" if arm == "sft" else "rise_only"
            c = planted_curve(
                variant, n_points=61, span=600, noise=0.01, shift_frac=0.1, readapt_frac=0.4, rng=seed
            )
            with open(d / "metrics.jsonl", "w") as fh:
                for s, v in zip(c.steps, c.values, strict=True):
                    fh.write(json.dumps({"step": int(s), "stage": "sft", "train/loss": 1.0}) + "\n")
                    fh.write(json.dumps({"step": int(s), "stage": "sft", "eval/accuracy": v}) + "\n")
                fh.write('{"step": 601, "stage": "sft", "train/lo')


def test_phasescope_experiment_directory(tmp_path):
    _write_experiment(tmp_path)
    frame, notes = load_curves(tmp_path)
    assert sorted(frame["run"].unique()) == ["rl", "sft"]
    assert sorted(frame["seed"].dropna().unique().tolist()) == [0, 1, 2]
    assert len(_curve(frame, "eval/accuracy", "sft")) == 3 * 61
    assert sum("truncated final line" in n for n in notes) == 6
    results = _phases(tmp_path, "eval/accuracy")
    by_run = {r["run"]: r for r in results}
    assert [p["label"] for p in by_run["sft"]["phases"]] == ["shift", "readapt", "overfit"]
    assert np.allclose(by_run["sft"]["changepoints"], [60, 300], atol=30)
    assert len(by_run["sft"]["seeds"]) == 3
    assert by_run["sft"]["source"] == str(tmp_path / "sft")
    assert [p["label"] for p in by_run["rl"]["phases"]] == ["improve"]


def test_run_directory_gives_arm_and_seed(tmp_path):
    _write_experiment(tmp_path, arms=("sft",), seeds=(3,))
    frame, _ = load_curves(tmp_path / "sft" / "seed3")
    assert set(frame["run"]) == {"sft"} and set(frame["seed"]) == {3}


def test_duplicates_keep_last_and_gaps_are_reported(tmp_path):
    rows = [{"step": s, "acc": 0.1} for s in range(0, 20)] + [{"step": 500, "acc": 0.3}]
    rows += [{"step": 5, "acc": 0.9}]  # a resumed run re-logging step 5
    p = tmp_path / "log.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    frame, notes = load_curves(p)
    assert len(frame) == 21
    assert frame.loc[frame["step"] == 5, "value"].item() == 0.9
    assert any("duplicated step" in n for n in notes)
    assert any("gap in the steps from 19 to 500" in n for n in notes)


def test_step_col_option_and_missing_step_column(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("iteration,score\n" + "\n".join(f"{i},{i % 3}" for i in range(10)))
    with pytest.raises(UsageError, match="--step-col"):
        load_curves(p)
    frame, _ = load_curves(p, step_col="iteration")
    assert len(frame) == 10


def test_every_real_log_loads_or_says_why(real_logs):
    expect = {  # (metric, points) planted by PROVENANCE.md
        "geollm.trainer_state.json": ("loss", 300),
        "whisper_ja_5k.trainer_state.json": ("eval_wer", 5),
        "roberta_logclassifier.trainer_state.json": ("eval_accuracy", 42),
        "aigoncharov_trainer_state_viz.trainer_state.json": ("eval_g3_accuracy", 31),
        "star_eagle.trainer_state.json": ("train/acc_3", 2000),
        "dllm_remask_grpo_ckpt2000.trainer_state.json": ("reward", 1000),
        "gemma3_1b_sft.trainer_state.json": ("eval_loss", 19),
        "mistral_translator_llamafactory.trainer_log.jsonl": ("loss", 866),
        "qwen25_7b_medical_llamafactory.trainer_log.jsonl": ("eval_loss", 13),
        "slm_wikitext103_v0.lightning_metrics.csv": ("train_loss_step", 2814),
        "slm_wikitext103_v5_resumed.lightning_metrics.csv": ("val_loss", 4),
        "ppo_hopper_run-2020-08-31-04-36-38.csv": ("ep_rew_mean", 123),
        "ppo_hopper_run-2020-08-26-23-04-59.csv": ("ep_rew_mean", 123),
    }
    seen = set()
    for f in sorted(real_logs.iterdir()):
        if f.suffix == ".md":
            continue
        seen.add(f.name)
        if f.name.endswith(".stdout_log.txt"):
            with pytest.raises(UsageError, match="trainer_state.json"):
                load_curves(f)
            continue
        frame, _ = load_curves(f)
        metric, n = expect[f.name]
        assert len(_curve(frame, metric)) == n, f.name
    assert set(expect) <= seen


@pytest.mark.slow
def test_every_real_curve_segments(real_logs):
    segmented = 0
    for f in sorted(real_logs.iterdir()):
        if f.suffix in (".md", ".txt"):
            continue
        frame, _ = load_curves(f)
        for metric, g in frame.groupby("metric"):
            if len(g) >= 6:
                results, _ = segment_frame(frame, metric, "higher")
                for r in results:  # phases tile the curve from its first to its last point
                    assert r["phases"][0]["start_step"] == g["step"].min(), (f.name, metric)
                    assert all(a["end_step"] == b["start_step"] for a, b in zip(r["phases"], r["phases"][1:]))
                segmented += len(results)
    assert segmented >= 90  # the 14 logs hold about a hundred curves long enough to segment


def test_wandb_api_without_credentials_fails_fast_and_offline(monkeypatch, tmp_path):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(UsageError, match="wandb login"):
        load_curves("wandb:someone/some-project/abc123")
    with pytest.raises(UsageError, match="entity"):
        load_curves("wandb:only-one-part")


def test_tensorboard_missing_gives_install_hint(monkeypatch, tmp_path):
    import sys

    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(UsageError, match=r"pip install 'phasescope\[tensorboard\]'"):
        load_curves(tmp_path)
