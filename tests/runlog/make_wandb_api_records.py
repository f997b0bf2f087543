"""Regenerate wandb_api_group.json: python tests/runlog/make_wandb_api_records.py

The recordings stand for what W&B's public API returns for a group phasescope mirrored: they are
written by phasescope's own WandbMirror in offline mode (no network), then read back from the
offline run files the way the server stores them (history rows with W&B's ``_step``, ``_runtime``
and ``_timestamp``; the run's group, job type, name and config). The experiment: arms sft and
chord_phi, seeds 0 and 1, eval/accuracy every 10 steps over 0..100 and train/loss every step; the
arm sft seed 1 was resumed into a second run (steps 0..60, then 50..100, the overlap logged with
other values); plus the group's analysis run. Accuracy is 0.5 + arm offset + seed/100 + step/1000,
so a test knows every value.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))

from phasescope.runlog.wandb_mirror import WandbMirror  # noqa: E402
from tests.report import wandb_records  # noqa: E402

OFFSET = {"sft": 0.0, "chord_phi": 0.1}


def accuracy(arm: str, seed: int, step: int, resumed: bool = False) -> float:
    return round(0.5 + OFFSET[arm] + seed / 100 + step / 1000 + (0.001 if resumed else 0.0), 6)


def write_run(root: Path, arm: str, seed: int, steps, resumed: bool = False) -> Path:
    cfg = {"experiment": {"name": "toy"}, "world": {"n_eval": 256}, "model": {"name_or_path": ""}}
    mirror = WandbMirror(
        "offline",
        group="toy",
        job_type=arm,
        name=f"{arm}/seed{seed}",
        config={**cfg, "arm_name": arm, "seed": seed},
        dir=root,
    )
    for s in steps:
        row = {"step": s, "stage": "sft", "train/loss": round(2.0 - s / 100, 6)}
        if s % 10 == 0:
            row["eval/accuracy"] = accuracy(arm, seed, s, resumed)
        mirror.log(row)
    mirror.finish()
    (path,) = [p for p in root.glob("wandb/offline-run-*/run-*.wandb") if p not in SEEN]
    SEEN.add(path)
    return path


def recording(path: Path, run_id: str, created_at: str) -> dict:
    out = {"id": run_id, "created_at": created_at, "history": []}
    for r in wandb_records.records(path):
        kind = r.WhichOneof("record_type")
        if kind == "run":
            cfg = {i.key: json.loads(i.value_json) for i in r.run.config.update}
            cfg = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in cfg.items()}
            out |= {"name": r.run.display_name, "group": r.run.run_group, "job_type": r.run.job_type}
            out["config"] = {k: v for k, v in cfg.items() if not k.startswith("_")}
        elif kind == "history":
            out["history"].append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
            )
    return out


SEEN: set[Path] = set()


def main() -> None:
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plan = [
            ("sft", 0, range(101), False),
            ("sft", 1, range(61), False),
            ("chord_phi", 0, range(101), False),
            ("chord_phi", 1, range(101), False),
            ("sft", 1, range(50, 101), True),  # the resumed half of sft/seed1: a second W&B run
        ]
        for i, (arm, seed, steps, resumed) in enumerate(plan):
            path = write_run(root, arm, seed, steps, resumed)
            runs.append(recording(path, f"run{i:04d}", f"2026-01-01T00:0{i}:00"))
        analysis = WandbMirror("offline", group="toy", job_type="analysis", name="toy/analysis", dir=root)
        analysis.log({"verdict_rank": 1.0})
        analysis.finish()
        (path,) = [p for p in root.glob("wandb/offline-run-*/run-*.wandb") if p not in SEEN]
        runs.append(recording(path, "run0005", "2026-01-01T00:05:00"))
    (HERE / "wandb_api_group.json").write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
