"""Checkpoints for `phasescope run --resume`: find the last complete one, cut the logs back to it.

    <arm>/seed<k>/checkpoint/checkpoint-<step>/     Hugging Face Trainer checkpoint (model, optimizer,
                                                    scheduler, RNG states, trainer_state.json)
    <arm>/seed<k>/checkpoint/checkpoint-<step>/phasescope_checkpoint.json   written last: "complete"

The trainer writes a checkpoint, waits until every process has written its part (on several
processes each writes its own RNG state, and ZeRO/FSDP shards), then the main process writes the
marker (atomically), then deletes every other checkpoint,
so at any instant at least one complete checkpoint exists once the first has been written; a
checkpoint without its marker (a kill mid-save) is never resumed from. No torch here: the CLI and
the analysis can inspect run directories without a GPU stack.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

from phasescope.runlog.writer import write_json_atomic

CHECKPOINT_DIR = "checkpoint"
MARKER = "phasescope_checkpoint.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def complete_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint under `root` whose marker exists, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _NAME.match(p.name)
        if m and (p / MARKER).is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint of a run directory, or None."""
    found = complete_checkpoints(checkpoint_root(run_dir))
    return found[-1] if found else None


def mark_complete(ckpt_dir: str | Path, step: int) -> None:
    """Declare `ckpt_dir` complete (call after every file of the checkpoint is written)."""
    write_json_atomic(
        Path(ckpt_dir) / MARKER,
        {"step": step, "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
    )


def prune_checkpoints(root: str | Path, keep: str | Path) -> None:
    """Delete every checkpoint under `root` except `keep` (older ones and incomplete leftovers)."""
    root, keep = Path(root), Path(keep)
    for p in root.iterdir() if root.is_dir() else ():
        if p.is_dir() and _NAME.match(p.name) and p.resolve() != keep.resolve():
            shutil.rmtree(p, ignore_errors=True)


def truncate_jsonl(path: str | Path, max_step: int) -> tuple[int, int]:
    """Keep the rows of a JSON-lines log with `step <= max_step`; drop later rows and unreadable lines.

    Rewritten through a temporary file and a rename, so a kill during the cut leaves either the old
    file or the new one. Returns (rows kept, lines dropped); a missing file is (0, 0).
    """
    path = Path(path)
    if not path.exists():
        return 0, 0
    kept: list[str] = []
    dropped = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                step = row["step"]
            except (json.JSONDecodeError, KeyError, TypeError):
                dropped += 1
                continue
            if isinstance(step, (int, float)) and step <= max_step:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(kept)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(kept), dropped
