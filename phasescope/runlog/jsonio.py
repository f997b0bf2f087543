"""JSON read from outside, parsed at one boundary: whatever a file holds (a cut-off document, nesting
deeper than the parser's recursion, an integer with thousands of digits, NaN or Infinity where JSON
has none) becomes a one-line ``UsageError`` naming the file and the line, or ``None`` for a line of a
JSON-lines log that the caller skips with a note. Cells become floats here too: a value that is not a
real number, or one too large for a float, is ``None`` and is counted by the caller, never raised.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from phasescope.errors import UsageError

MAX_ABS_VALUE = 1e150
"""Largest magnitude kept as a metric value: squares and sums of larger ones overflow in the
segmenter's least squares, so they are dropped with the NaN/inf values (and counted in a note)."""
MAX_ABS_STEP = 1e15
"""Largest step kept: beyond it a float no longer tells neighbouring integer steps apart."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str, where: str) -> Any:
    """``text`` as JSON, or a UsageError naming ``where`` and what is wrong there."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "fix or replace the file"
        ) from None
    except RecursionError:
        raise UsageError(f"{where}: JSON nested too deeply to read; fix or replace the file") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise UsageError(
            f"{where}: unreadable JSON ({str(exc).split(';')[0]}); fix or replace the file"
        ) from None


def parse_line(line: str) -> Any | None:
    """One line of a JSON-lines log, or None when it does not parse (the caller counts it)."""
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def read_json(path: Path, what: str = "") -> Any:
    """The JSON document in ``path`` (undecodable bytes replaced; a BOM allowed)."""
    require_file(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read {path}{what}: {exc.strerror or exc}") from None
    return parse_json(text, str(path))


def require_file(path: Path) -> None:
    """A UsageError unless ``path`` is a regular file (or a link to one): opening a named pipe or a
    device would block or read forever."""
    p = Path(path)
    try:
        ok = p.is_file()
    except OSError:  # a link loop, a name too long
        ok = False
    if not ok:
        what = "does not exist" if not (p.exists() or p.is_symlink()) else "is not a regular file"
        raise UsageError(f"{p} {what}; give a log file, a run directory or an experiment directory")


def as_float(value: Any) -> float | None:
    """A logged cell as a float: numbers only (not booleans); None for anything else or an integer
    too large for a float. NaN and inf come back as they are (the caller drops and counts them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def as_step(value: Any) -> float | None:
    """A logged step as a float, or None when it is not a finite number of usable size."""
    x = as_float(value)
    return x if x is not None and math.isfinite(x) and abs(x) <= MAX_ABS_STEP else None


def as_count(value: Any, limit: int = 10**9) -> int | None:
    """A positive whole count (an eval set's rows) as an int, or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= limit else None
