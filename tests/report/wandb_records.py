"""Read back an offline W&B run file (``run-<id>.wandb``), as ``wandb sync`` does, without wandb's
internal reader (0.31 no longer ships ``wandb.sdk.internal.datastore``).

The file is wandb's LevelDB-style log: a 7-byte header (":W&B", magic 0xBEE1, version 0), then
32 KiB blocks of chunks, each chunk = crc32 (4 bytes) + length (2, little-endian) + type (1: full,
2: first, 3: middle, 4: last) + payload; a block tail shorter than a chunk header is zero padding.
Payloads are ``wandb_internal_pb2.Record`` protobufs.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

BLOCK = 32768
HEADER = 7


def records(path: Path, timeout: float = 30.0) -> list:
    """The records of a finished run. wandb-core may still be writing the file after
    ``run.finish()`` returns, so wait (up to ``timeout`` s) for the run's exit record."""
    deadline = time.monotonic() + timeout
    while True:
        recs = _read(path)
        if any(r.WhichOneof("record_type") == "exit" for r in recs) or time.monotonic() > deadline:
            return recs
        time.sleep(0.1)


def _read(path: Path) -> list:
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    out, buf, pos = [], b"", HEADER
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        buf = payload if kind in (1, 2) else buf + payload
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(buf)
            out.append(rec)
            buf = b""
    return out


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
