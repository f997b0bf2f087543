"""A TOML writer for a config dict (`Config.to_dict()`), so that best.toml reads back as the same config.

The standard library reads TOML but does not write it, and the config is plain data: tables of
scalars and lists, nested for `[arms.<arm>]` and `[trl]`. Strings are written as JSON strings (a JSON
string is a valid TOML basic string), floats by `repr` (which TOML reads back to the same float, `inf`
and `nan` included). A None value (an unset optional field) is left out: TOML has no null, and every
such field's default is None, so leaving it out reads back the same.
"""

from __future__ import annotations

import json
import math
from typing import Any


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def toml_text(data: dict[str, Any], prefix: str = "") -> str:
    """`data` as TOML: its scalars first, then one [table] per nested dict (dotted names)."""
    lines = [
        f"{_key(k)} = {toml_value(v)}" for k, v in data.items() if v is not None and not isinstance(v, dict)
    ]
    out = "\n".join(lines)
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            body = toml_text(v, name)
            has_scalars = any(not isinstance(x, dict) and x is not None for x in v.values())
            section = (f"[{name}]\n" if has_scalars or not v else "") + body
            out = f"{out}\n\n{section}" if out else section
    return out.strip("\n") + ("\n" if not prefix else "")


def _key(k: str) -> str:
    bare = k and all(c.isalnum() or c in "_-" for c in k)
    return k if bare else json.dumps(k)
