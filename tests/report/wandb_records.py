"""Read back an offline W&B run file (``run-<id>.wandb``), as ``wandb sync`` does: the reader is
`phasescope.runlog.wandb_offline`; here, waiting for a run to be written and what tests look at."""

from __future__ import annotations

import time
from pathlib import Path

from phasescope.runlog.wandb_offline import read_records


def records(path: Path, timeout: float = 30.0) -> list:
    """The records of a finished run. wandb-core may still be writing the file after
    ``run.finish()`` returns, so wait (up to ``timeout`` s) for the run's exit record."""
    deadline = time.monotonic() + timeout
    while True:
        recs = read_records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in recs) or time.monotonic() > deadline:
            return recs
        time.sleep(0.1)


def logged_keys(path: Path, kind: str = "history") -> set[str]:
    """Keys of the ``history`` (items) or ``summary`` (updates) records of a run file."""
    keys = set()
    for r in records(path):
        if r.WhichOneof("record_type") == kind:
            items = r.history.item if kind == "history" else r.summary.update
            keys |= {item.key or "/".join(item.nested_key) for item in items}
    return keys


def run_meta(path: Path) -> dict:
    for r in records(path):
        if r.WhichOneof("record_type") == "run":
            return {"group": r.run.run_group, "job_type": r.run.job_type, "name": r.run.display_name}
    return {}


def run_identity(path: Path) -> tuple[str, list[str]]:
    """The run id and tags of a run file."""
    for r in records(path):
        if r.WhichOneof("record_type") == "run":
            return r.run.run_id, list(r.run.tags)
    return "", []


def summary_updates(path: Path) -> dict[str, object]:
    """The last value of every summary key of a run file (nested keys joined by '/')."""
    import json

    out: dict[str, object] = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "summary":
            for item in r.summary.update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out
