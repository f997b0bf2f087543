"""Mutations that parse a document and change the types of its values: JSON rows and records
(experiment.json, data.json, tokens.jsonl) with a list where a table was or a string for a number,
and TOML configs with values of other types and sizes. Part of the fuzzer (see ``mutate``)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path


def odd_types(p: Path, rng: random.Random) -> None:
    """Parse JSON (or JSON lines) and replace values at random places by values of other types."""
    data = p.read_bytes()
    try:
        docs = [json.loads(data)]
        jsonl = False
    except (ValueError, RecursionError):
        try:
            docs = [json.loads(line) for line in data.splitlines() if line.strip()]
            jsonl = True
        except (ValueError, RecursionError):
            from tests.fuzz.mutate import replace_cells

            return replace_cells(p, rng)
    for _ in range(rng.randint(1, 6)):
        if docs:
            i = rng.randrange(len(docs))
            docs[i] = _odd_at(docs[i], rng, depth=0)
    text = "\n".join(json.dumps(d) for d in docs) if jsonl else json.dumps(docs[0])
    p.write_text(text, encoding="utf-8")


_ODD_VALUES = [
    [],
    {},
    "",
    "12",
    "abc",
    None,
    True,
    False,
    0,
    -1,
    10**30,
    1.5,
    [1, 2],
    {"a": 1},
    [[]],
    "NaN",
    [{"step": "x"}],
    {"rows": "many"},
    -(10**30),
    2**63,
    1e308,
]


def _odd_at(value, rng: random.Random, depth: int):
    """``value`` with one nested value replaced (or ``value`` itself, at the top or by chance)."""
    if isinstance(value, dict) and value and depth < 6 and rng.random() < 0.85:
        key = rng.choice(list(value))
        if rng.random() < 0.15:
            value.pop(key)
        else:
            value[key] = _odd_at(value[key], rng, depth + 1)
        return value
    if isinstance(value, list) and value and depth < 6 and rng.random() < 0.85:
        i = rng.randrange(len(value))
        value[i] = _odd_at(value[i], rng, depth + 1)
        return value
    return copy.deepcopy(rng.choice(_ODD_VALUES))


_RECORD_EDITS = [
    (("config",), [[], "x", 3, None]),
    (("config", "world"), [[], "256", None, 1]),
    (("config", "world", "n_eval"), ["256", True, 10**30, -1, 0, 2.5, None, [256], 10**400]),
    (("config", "model"), [[], "m", None]),
    (("config", "model", "model_name_or_path"), [[], 5, {"a": 1}, ""]),
    (("config", "data"), [[], "x"]),
    (("config", "data", "eval"), ["x.jsonl", 5, {"a": 1}, [[]], [None]]),
    (("config", "experiment", "arms"), ["sft", 5, [1, 2], {"a": 1}]),
    (("config", "experiment", "seeds"), ["3", -1, 10**30, None]),
    (("config", "train"), [[], "x"]),
    (("name",), [5, [], None, "a\nb", ""]),
    (("seeds",), ["3", 3, {"0": 1}]),
    (("arms",), [[], "sft", {"sft": 5}]),
    (("versions",), [[], "3.11", {"python": [1]}]),
    (("started",), [5, [], "not a date"]),
    (("eval:math_eval",), [[], "64", 64, None]),
    (("eval:math_eval", "rows"), ["64", True, 10**30, -3, 0, 1.5, None, [64]]),
    # tokens.jsonl records (one per evaluation)
    (("top_divergent",), ["x", [1, 2], [{"example": [], "position": "a"}], {}, None]),
    (("token_p",), ["x", [1], {"a": "b"}, [[None]], None]),
    (("hist_edges",), ["x", [1], [], {"a": 1}, None, [None, "x"], [3, 2, 1]]),
    (("hist_counts",), ["x", [1], [], None, ["x"] * 16, [-1] * 16, [10**30] * 16]),
    (("top_divergent", 0), ["x", None, {"token": 5, "context": [], "p": "x"}, {"p": -1}, {}]),
    (("top_divergent", 0, "p"), ["x", None, 10**400, -1, []]),
    (("step",), ["x", None, 10**30, -1, [1]]),
    (("class_p",), ["x", [1], {"digit": "x"}]),
]


def odd_record(p: Path, rng: random.Random) -> None:
    """experiment.json / data.json with fields of other types: a list where a table was, a string
    for a number, a number where a name was."""
    try:
        doc = json.loads(p.read_bytes())
    except (ValueError, RecursionError):
        return odd_types(p, rng)
    if not isinstance(doc, dict):
        return odd_types(p, rng)
    for _ in range(rng.randint(1, 3)):
        path, values = rng.choice(_RECORD_EDITS)
        _set(doc, path, copy.deepcopy(rng.choice(values)))
    p.write_text(json.dumps(doc), encoding="utf-8")


def _set(doc, path: tuple, value) -> None:
    node = doc
    for key in path[:-1]:
        ok = isinstance(node, dict) or (isinstance(node, list) and isinstance(key, int) and key < len(node))
        node = node[key] if ok and (isinstance(node, list) or key in node) else None
    last = path[-1]
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int) and last < len(node)):
        node[last] = value


def odd_jsonl_record(p: Path, rng: random.Random) -> None:
    """Some rows of a JSON-lines log (tokens.jsonl, metrics.jsonl) with fields of other types."""
    out = []
    for line in p.read_bytes().split(b"\n"):
        try:
            doc = json.loads(line) if line.strip() and rng.random() < 0.3 else None
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            path, values = rng.choice(_RECORD_EDITS)
            _set(doc, path, copy.deepcopy(rng.choice(values)))
            line = json.dumps(doc).encode()
        out.append(line)
    p.write_bytes(b"\n".join(out))


_TOML_VALUES = [
    '"x"',
    "-1",
    "0",
    "1e999",
    "nan",
    "inf",
    "9" * 40,
    "[]",
    "[1, 2]",
    "{}",
    "{a = 1}",
    "true",
    '""',
    "[" * 2000 + "]" * 2000,
    '"' + "x" * 10000 + '"',
    "1979-05-27",
    '"\\u0000"',
]


def toml_values(p: Path, rng: random.Random) -> None:
    """TOML values replaced by values of other types and sizes, or keys and tables added, repeated or
    renamed (a hand-edited config)."""
    lines = p.read_text(encoding="utf-8", errors="replace").split("\n")
    assigns = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
    for _ in range(rng.randint(1, 4)):
        how = rng.random()
        if assigns and how < 0.7:
            i = rng.choice(assigns)
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {rng.choice(_TOML_VALUES)}"
        elif assigns and how < 0.85:
            lines.insert(rng.randrange(len(lines) + 1), lines[rng.choice(assigns)])  # a repeated key
        else:
            lines.append(
                rng.choice(["[unknown]", "[train]", "x = 1", "[arms.new]", "[[train]]", "[arms]\nsft = 3"])
            )
    p.write_text("\n".join(lines), encoding="utf-8")
