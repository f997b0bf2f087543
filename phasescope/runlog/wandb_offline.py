"""Read an offline W&B run file (``run-<id>.wandb``) as ``wandb sync`` does, without wandb's internal
reader (0.31 no longer ships ``wandb.sdk.internal.datastore``): what a resumed mirror already sent.

The file is wandb's LevelDB-style log: a 7-byte header (":W&B", magic 0xBEE1, version 0), then
32 KiB blocks of chunks, each chunk = crc32 (4 bytes) + length (2, little-endian) + type (1: full,
2: first, 3: middle, 4: last) + payload; a block tail shorter than a chunk header is zero padding.
Payloads are ``wandb_internal_pb2.Record`` protobufs. A file cut short by a kill ends at its last
whole record.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7


def read_records(path: str | Path) -> list:
    """Every whole record of a run file (wandb's protobuf `Record`s), in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        return []
    out, buf, pos = [], b"", HEADER
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload = data[pos + 7 : pos + 7 + length]
        if len(payload) < length:
            break  # the tail of a file whose writer was killed
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        buf = payload if kind in (1, 2) else buf + payload
        if kind in (1, 4):
            rec = pb.Record()
            try:
                rec.ParseFromString(buf)
            except Exception:  # noqa: BLE001 - a torn record: stop at the last whole one
                break
            out.append(rec)
            buf = b""
    return out


def logged_steps(path: str | Path, key: str = "step") -> list[float]:
    """The values of metric `key` (phasescope's step) in the history rows of a run file, in order."""
    steps = []
    for r in read_records(path):
        if r.WhichOneof("record_type") != "history":
            continue
        for item in r.history.item:
            if (item.key or "/".join(item.nested_key)) == key:
                steps.append(json.loads(item.value_json))
    return steps
