"""Per-problem results of every evaluation: which problems were answered correctly, written and read.

    <arm>/seed<k>/problems.jsonl        one line per (step, split): {"step", "split", "n", "correct"}
    <arm>/seed<k>/problems_index.json   {split: [problem id, ...]}: the order of the bits of each split

`correct` is the split's correctness vector packed 8 problems to a byte (`numpy.packbits`, first
problem in the highest bit) and base64-encoded: 200 problems take 36 characters. Bit j is problem
`ids[j]`. Ids are the same in every arm and seed of an experiment (the world's problem text; a real
row's hash of its problem text), so runs line up problem by problem. A split's accuracy metric
(`accuracy_key`) is the mean of its bits.

Splits: `eval` (the headline held-out set, `eval/accuracy`), `general` (the world's general skill,
`eval/general_accuracy`), each further named eval set of a real run (`eval/<name>_accuracy`) and
`dev` (`dev/accuracy`, when a dev evaluation runs). `problems.jsonl` is append-only like
metrics.jsonl and is cut back to the checkpoint on `--resume` (`runlog/checkpoint.truncate_jsonl`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from phasescope.errors import PhasescopeError
from phasescope.runlog.writer import MetricsWriter, write_json_atomic

PROBLEMS = "problems.jsonl"
INDEX = "problems_index.json"
PAYLOAD_KEY = "_problems"
"""Key under which an evaluator returns {split: (ids, correct)}; taken out before the metrics row."""


def accuracy_key(split: str) -> str:
    """The metric whose value is the mean of a split's bits."""
    if split in ("eval", "dev"):
        return f"{split}/accuracy"
    return f"eval/{split}_accuracy"


def hashed_ids(texts: list[str]) -> list[str]:
    """Stable ids for problems whose text is long (real data): 12 hex digits of the text's SHA-1;
    a repeated text gets `#2`, `#3`, ... so ids stay unique within a split."""
    return unique_ids([hashlib.sha1(t.encode("utf-8")).hexdigest()[:12] for t in texts])


def unique_ids(ids: list[str]) -> list[str]:
    """`ids` with the second and later copies of a repeated id suffixed `#2`, `#3`, ..."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        seen[i] = seen.get(i, 0) + 1
        out.append(i if seen[i] == 1 else f"{i}#{seen[i]}")
    return out


def pack_bits(correct) -> str:
    """A boolean vector as base64 of its packed bits."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode("ascii")


def unpack_bits(text: str, n: int) -> np.ndarray:
    """The first `n` bits of `pack_bits`' output; ValueError when the text does not hold exactly n bits."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) != (n + 7) // 8:
        raise ValueError(f"{len(raw)} bytes do not hold {n} bits")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:n].astype(bool)


class ProblemsWriter:
    """Appends one line per (step, split) to `<run>/problems.jsonl`; keeps `problems_index.json`.

    The index is written (atomically) when a split is first seen; a split already in the index (a
    resumed run) must come with the same ids.
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.index = _read_index(self.run_dir / INDEX) if (self.run_dir / INDEX).is_file() else {}
        self._lines = MetricsWriter(self.run_dir / PROBLEMS)

    def write(self, step: int, split: str, ids: list[str], correct) -> None:
        correct = np.asarray(correct, dtype=bool)
        if len(ids) != len(correct):
            raise ValueError(f"{split}: {len(ids)} ids but {len(correct)} results")
        known = self.index.get(split)
        if known is None:
            self.index[split] = list(ids)
            write_json_atomic(self.run_dir / INDEX, self.index)
        elif known != list(ids):
            raise PhasescopeError(f"{self.run_dir / INDEX}: the problems of split {split!r} changed")
        self._lines.write({"step": int(step), "split": split, "n": len(ids), "correct": pack_bits(correct)})

    def write_payload(self, step: int, payload: dict) -> None:
        """Every split of an evaluator's `PAYLOAD_KEY` entry."""
        for split, (ids, correct) in payload.items():
            self.write(step, split, ids, correct)

    def close(self) -> None:
        self._lines.close()


def _read_index(path: Path) -> dict[str, list[str]]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PhasescopeError(f"{path}: cannot read the problem index ({exc})") from None
    ok = isinstance(index, dict) and all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in index.values()
    )
    if not ok:
        raise PhasescopeError(f"{path}: expected {{split: [problem id, ...]}}")
    return index


def read_problems(
    run_dir: str | Path, notes: list[str] | None = None
) -> dict[str, tuple[np.ndarray, list[str], np.ndarray]]:
    """{split: (steps, ids, correct)} of one run directory (or its problems.jsonl); `correct` is bool
    (n_steps × n_problems), its rows in the file's order (the steps ascending).

    A cut-off last line (a writer killed mid-line) is skipped and a note appended to `notes`; any
    other malformed line or a missing index is a one-line PhasescopeError. A run without
    problems.jsonl gives {}.
    """
    run_dir = Path(run_dir)
    if run_dir.name == PROBLEMS:
        run_dir = run_dir.parent
    path = run_dir / PROBLEMS
    if not path.is_file():
        return {}
    index = _read_index(run_dir / INDEX) if (run_dir / INDEX).is_file() else None
    lines = [(i, t) for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if t.strip()]
    found: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    for k, (no, text) in enumerate(lines):
        try:
            step, split, bits = _parse(text, index)
        except ValueError as exc:
            if k == len(lines) - 1 and not text.endswith("}"):
                if notes is not None:
                    notes.append(
                        f"{path}: skipped a cut-off final line (line {no}); a writer was interrupted"
                    )
                break
            raise PhasescopeError(f"{path}, line {no}: {exc}") from None
        steps, rows = found.setdefault(split, ([], []))
        steps.append(step)
        rows.append(bits)
    return {
        s: (np.array(steps, dtype=int), list(index[s]), np.vstack(rows)) for s, (steps, rows) in found.items()
    }


def _parse(text: str, index: dict[str, list[str]] | None) -> tuple[int, str, np.ndarray]:
    try:
        rec = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not a JSON object") from None
    if not isinstance(rec, dict) or not {"step", "split", "correct"} <= rec.keys():
        raise ValueError("expected an object with step, split and correct")
    split = rec["split"]
    if index is None:
        raise ValueError(f"no {INDEX} beside it (the problem ids of each split)")
    if split not in index:
        raise ValueError(f"split {split!r} is not in {INDEX}")
    if not isinstance(rec["step"], int) or not isinstance(rec["correct"], str):
        raise ValueError("step must be an integer and correct a base64 string")
    try:
        bits = unpack_bits(rec["correct"], len(index[split]))
    except ValueError as exc:
        raise ValueError(f"correct of split {split!r}: {exc}") from None
    return rec["step"], split, bits
