"""Reading W&B runs and groups through the public API, against recorded responses (no network).

``wandb_api_group.json`` holds what the API returns for a group phasescope mirrored (see
make_wandb_api_records.py): two arms, two seeds, one arm-seed resumed into a second run, and the
analysis run. A fake ``wandb.Api`` serves it; ``Run.history`` (sampled) fails if called.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasescope.analysis import load_curves
from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.wandb_reader import experiment_config, parse_wandb_spec, read_wandb

RECORDS = json.loads((Path(__file__).parent / "wandb_api_group.json").read_text())


class FakeRun:
    def __init__(self, rec: dict):
        self.id, self.name, self.group = rec["id"], rec["name"], rec["group"]
        self.job_type, self.config, self.created_at = rec["job_type"], rec["config"], rec["created_at"]
        self._rows = rec["history"]

    def scan_history(self, keys=None, page_size=1000):
        return iter(dict(r) for r in self._rows)

    def history(self, *args, **kwargs):
        raise AssertionError("history() is sampled; phasescope must use scan_history()")


class FakeApi:
    def __init__(self, records=RECORDS, project="me/proj"):
        self.runs_by_id = {r["id"]: FakeRun(r) for r in records}
        self.project, self.calls = project, []

    def runs(self, path, filters=None, order="+created_at"):
        self.calls.append(("runs", path, filters))
        if path != self.project:
            raise ValueError(f"Could not find project {path}")
        found = [r for r in self.runs_by_id.values() if r.group == (filters or {}).get("group")]
        return sorted(found, key=lambda r: r.created_at)

    def run(self, path):
        self.calls.append(("run", path))
        project, _, run_id = path.rpartition("/")
        if project != self.project or run_id not in self.runs_by_id:
            raise ValueError(f"Could not find run {path}\nmore detail")
        return self.runs_by_id[run_id]


def test_a_mirrored_group_reads_as_one_experiment():
    frame, notes = read_wandb("wandb:me/proj/toy", api=FakeApi())
    acc = frame[frame.metric == "eval/accuracy"]
    assert sorted(acc.run.unique()) == ["chord_phi", "sft"]  # arms = job types; the analysis run is left out
    assert sorted(acc.seed.unique()) == [0, 1]
    assert "verdict_rank" not in set(frame.metric)
    from phasescope.runlog.importers import clean_frame

    clean, more = clean_frame(frame)
    acc = clean[clean.metric == "eval/accuracy"]
    for (arm, seed), g in acc.groupby(["run", "seed"]):
        assert g.step.tolist() == list(range(0, 101, 10)), (arm, seed)  # phasescope's step, not W&B's _step
    sft1 = acc[(acc.run == "sft") & (acc.seed == 1)].set_index("step").value
    # Steps 50 and 60 were logged by both halves of the resumed run: the later run wins.
    assert (
        sft1[40] == pytest.approx(0.55)
        and sft1[50] == pytest.approx(0.561)
        and sft1[100] == pytest.approx(0.611)
    )
    assert acc[(acc.run == "chord_phi") & (acc.seed == 0)].set_index("step").value[100] == pytest.approx(0.7)
    assert any("duplicated step" in n for n in more)


def test_load_curves_and_compare_read_a_group(monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(wandb, "Api", FakeApi)
    from phasescope.analysis import analyse
    from phasescope.analysis.ranking import ranking

    frame, _ = load_curves("https://wandb.ai/me/proj/groups/toy")
    result = analyse("https://wandb.ai/me/proj/groups/toy", "eval/accuracy").comparison
    assert ranking(result) == ["chord_phi", "sft"]
    assert result["arms"]["sft"]["final"]["n"] == 2


def test_scan_history_gives_every_row_and_the_trainer_step():
    # An HF Trainer/TRL run: 1500 rows, W&B's _step counts log calls, train/global_step is the step.
    rows = [{"_step": i, "train/global_step": 2 * i, "train/loss": 1.0 / (1 + i)} for i in range(1500)]
    rec = {"id": "abc123", "name": "trl-grpo", "group": "", "job_type": "", "config": {}, "created_at": "0"}
    api = FakeApi([{**rec, "history": rows}])
    frame, _ = read_wandb("wandb:me/proj/runs/abc123", api=api)
    assert len(frame) == 1500 and frame.step.max() == 2998 and set(frame.run) == {"abc123"}
    assert frame.seed.isna().all()
    frame, _ = read_wandb("wandb:me/proj/abc123", step_col="_step", api=api)  # bare id: group first, then run
    assert frame.step.max() == 1499
    assert [c[0] for c in api.calls[-2:]] == ["runs", "run"]


def test_specs_and_errors():
    assert parse_wandb_spec("wandb:e/p/g") == parse_wandb_spec("e/p/g")
    assert parse_wandb_spec("https://wandb.ai/e/p/runs/x1?nw=1").kind == "run"
    assert parse_wandb_spec("wandb:e/p/groups/toy").name == "toy"
    assert parse_wandb_spec("https://wandb.ai/e/p/groups/toy").slug == "e-p-toy"
    for bad in ("wandb:e/p", "wandb:e//x", "wandb:a/b/c/d/e", "wandb:e/p/jobs/x"):
        with pytest.raises(UsageError, match="must look like"):
            parse_wandb_spec(bad)
    with pytest.raises(
        PhasescopeError, match="^could not read W&B group or run me/proj/nope: Could not find run"
    ):
        read_wandb("wandb:me/proj/nope", api=FakeApi())
    with pytest.raises(PhasescopeError, match="has no training runs"):
        read_wandb("wandb:me/proj/groups/nope", api=FakeApi())
    with pytest.raises(PhasescopeError, match="could not read W&B group other/proj/toy"):
        read_wandb("wandb:other/proj/toy", api=FakeApi())


def test_experiment_config_of_a_group():
    cfg = experiment_config("wandb:me/proj/toy", api=FakeApi())
    assert cfg == {"experiment": {"name": "toy"}, "world": {"n_eval": 256}, "model": {"name_or_path": ""}}
    assert experiment_config("wandb:me/proj/runs/run0000", api=FakeApi()) is None
