"""Strict JSON out: every ``--json`` output and every JSON file phasescope writes parses with any
JSON reader. NaN and infinities (which ``json.dumps`` would write as the non-JSON ``NaN`` and
``Infinity``) become ``null``; numpy scalars and arrays become plain numbers and lists. Where a null
needs explaining (a test not run, a phase not found) the result itself carries the reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def strict(value: Any) -> Any:
    """``value`` with NaN/inf replaced by None, tuples and arrays by lists, numpy scalars by Python's."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [strict(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **kw) -> str:
    """``json.dumps`` of ``strict(value)``; never writes NaN or Infinity (``allow_nan=False``)."""
    return json.dumps(strict(value), allow_nan=False, default=str, **kw)
