"""Writing the run directory: experiment.json (atomically) and append-only metrics.jsonl rows.

Each row is serialised first and written with one `os.write` on a file opened with O_APPEND (no
Python buffer in between, so a long row is never split across system calls by the buffer), so a
crash leaves at most one truncated final line, which readers skip and report. NaN and inf are written as
absent (the contract: an unmeasured metric is absent from the row, never NaN).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            continue
        out[k] = v
    return out


class MetricsWriter:
    """Appends one JSON object per logged step to `<run>/metrics.jsonl` (or any jsonl file)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, row: dict[str, Any]) -> None:
        data = (json.dumps(_clean(row), sort_keys=False) + "\n").encode("utf-8")
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        while data:  # a regular file takes it in one call; the loop only guards short writes
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary file, then rename: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
