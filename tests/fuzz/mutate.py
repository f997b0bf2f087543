"""Seeded mutations of what users feed phasescope: each kind damages a copied file or directory the
way logs are damaged in the wild (cut off mid-write, hand-edited, re-encoded, exported by other tools,
copied between machines). ``mutate(kind, target, rng)`` changes ``target`` in place; every kind is a
plain function of (path, rng) so a case is reproduced from its seed alone.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import shutil
from pathlib import Path

_NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
ODD_CELLS = [
    b"abc",
    b"NaN",
    b"nan",
    b"Infinity",
    b"-Infinity",
    b"inf",
    b"1e999",
    b"-1e999",
    b"null",
    b"true",
    b'""',
    b"[]",
    b"{}",
    b'"0.5"',
    b"-0",
    b"1e-400",
    b"9" * 400,
    b"0x1F",
    b"1,5",
    b" ",
    b"",
    b"\\u0000",
    b'"\xff"',
    b"[1,2]",
    b'{"a":1}',
    b"-",
    b"--1",
    b"1.2.3",
    b"1e",
    b"\x00",
]
HUGE = [b"9" * 30, b"-" + b"9" * 30, b"1" + b"0" * 400, b"1e308", b"1.7976931348623157e309", b"2" * 5000]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def truncate(p: Path, rng: random.Random) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: rng.randrange(len(data) + 1)] if data else b"")


def truncate_last_line(p: Path, rng: random.Random) -> None:
    """A writer interrupted mid-line: the file ends inside its last line."""
    data = p.read_bytes().rstrip(b"\n")
    start = data.rfind(b"\n") + 1
    p.write_bytes(data[: start + rng.randrange(max(1, len(data) - start))])


def empty(p: Path, rng: random.Random) -> None:
    p.write_bytes(b"" if rng.random() < 0.7 else rng.choice([b"\n", b"   \n\n", b"{}", b"[]", b"null"]))


def _replace_numbers(p: Path, rng: random.Random, pool: list[bytes], share: float) -> None:
    data = p.read_bytes()
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return p.write_bytes(data + rng.choice(pool))
    chosen = sorted(rng.sample(spans, max(1, int(len(spans) * share * rng.random()))), reverse=True)
    for a, b in chosen:
        data = data[:a] + rng.choice(pool) + data[b:]
    p.write_bytes(data)


def replace_cells(p: Path, rng: random.Random) -> None:
    _replace_numbers(p, rng, ODD_CELLS, rng.choice([0.01, 0.2, 1.0]))


def huge_numbers(p: Path, rng: random.Random) -> None:
    _replace_numbers(p, rng, HUGE, rng.choice([0.01, 0.3]))


def all_same(p: Path, rng: random.Random) -> None:
    """Every number but the steps the same, or all missing: constant and empty curves."""
    data = p.read_bytes()
    fill = rng.choice([b"0.5", b"0", b"NaN", b"null", b'"x"'])
    p.write_bytes(
        re.sub(
            rb'("(?!step|global_step|_step|Step|current_steps)[^"]*":\s*)-?\d+\.\d+(?:[eE][-+]?\d+)?',
            rb"\g<1>" + fill,
            data,
        )
        if b'":' in data
        else re.sub(rb"(?<=,)-?\d+\.\d+", fill, data)
    )


def duplicate_lines(p: Path, rng: random.Random) -> None:
    lines = _lines(p.read_bytes())
    for _ in range(rng.randint(1, max(1, len(lines) // 3))):
        i = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    p.write_bytes(b"\n".join(lines))


def shuffle_lines(p: Path, rng: random.Random) -> None:
    lines = _lines(p.read_bytes())
    keep = 1 if rng.random() < 0.5 else 0  # keep a CSV header in place, or not
    body = lines[keep:]
    rng.shuffle(body)
    p.write_bytes(b"\n".join(lines[:keep] + body))


def delete_lines(p: Path, rng: random.Random) -> None:
    lines = _lines(p.read_bytes())
    n = rng.randint(1, max(1, len(lines) - 1))
    for _ in range(n):
        if lines:
            lines.pop(rng.randrange(len(lines)))
    p.write_bytes(b"\n".join(lines))


def reverse_steps(p: Path, rng: random.Random) -> None:
    """Decreasing steps (a log concatenated in the wrong order, or a clock reset)."""
    lines = _lines(p.read_bytes())
    head = lines[:1] if not lines[0].lstrip().startswith(b"{") else []
    p.write_bytes(b"\n".join(head + lines[len(head) :][::-1]))


def bom(p: Path, rng: random.Random) -> None:
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())


def reencode(p: Path, rng: random.Random) -> None:
    text = p.read_bytes().decode("utf-8", errors="replace")
    enc = rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"])
    p.write_bytes(text.encode(enc, errors="replace"))


def invalid_utf8(p: Path, rng: random.Random) -> None:
    data = bytearray(p.read_bytes())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data) + 1) : 0] = rng.choice([b"\xff", b"\xc3", b"\x80\x80", b"\xed\xa0\x80"])
    p.write_bytes(bytes(data))


def nul_bytes(p: Path, rng: random.Random) -> None:
    data = bytearray(p.read_bytes())
    for _ in range(rng.randint(1, 5)):
        data[rng.randrange(len(data) + 1) : 0] = b"\x00" * rng.randint(1, 64)
    p.write_bytes(bytes(data))


def line_endings(p: Path, rng: random.Random) -> None:
    p.write_bytes(p.read_bytes().replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\x85"])))


def flip_bytes(p: Path, rng: random.Random) -> None:
    data = bytearray(p.read_bytes())
    for _ in range(rng.randint(1, 20)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    p.write_bytes(bytes(data))


def garbage(p: Path, rng: random.Random) -> None:
    p.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))))


def deep_nesting(p: Path, rng: random.Random) -> None:
    """A value replaced by JSON nested deeper than any parser's recursion limit."""
    n = rng.choice([1_000, 10_000, 100_000])
    deep = rng.choice([b"[" * n + b"]" * n, b'{"a":' * n + b"1" + b"}" * n, b"[" * n])
    data = p.read_bytes()
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if spans and rng.random() < 0.8:
        a, b = rng.choice(spans)
        p.write_bytes(data[:a] + deep + data[b:])
    else:
        p.write_bytes(deep)


def long_line(p: Path, rng: random.Random) -> None:
    p.write_bytes(p.read_bytes() + b"\n" + b'{"step": 1, "x": "' + b"a" * 2_000_000 + b'"}\n')


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


def csv_header(p: Path, rng: random.Random) -> None:
    lines = _lines(p.read_bytes())
    cells = lines[0].split(b",")
    i = rng.randrange(len(cells))
    cells[i] = rng.choice([b"", b"step", cells[0], b'"a,b"', b"\xff", b"x" * 1000, b"_step"])
    lines[0] = b",".join(cells)
    p.write_bytes(b"\n".join(lines))


def ragged_rows(p: Path, rng: random.Random) -> None:
    lines = _lines(p.read_bytes())
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(lines))
        lines[i] = (
            lines[i] + b"," * rng.randint(1, 5) if rng.random() < 0.5 else lines[i][: len(lines[i]) // 2]
        )
    p.write_bytes(b"\n".join(lines))


def odd_keys(p: Path, rng: random.Random) -> None:
    """JSON keys renamed to what other tools and hand edits produce: empty, numeric, very long, with
    a newline, or a copy of the step key."""
    data = p.read_bytes()
    keys = list(set(re.findall(rb'"([^"\\]{1,60})"\s*:', data)))
    if not keys:
        return csv_header(p, rng) if b"," in data else None
    for key in rng.sample(keys, min(len(keys), rng.randint(1, 3))):
        new = rng.choice(
            [b"", b"1", b"step", b"x" * 3000, b"a\\nb", b"\\u00e9t\\u00e9", b" ", b"eval/accuracy"]
        )
        data = data.replace(b'"' + key + b'":', b'"' + new + b'":')
    p.write_bytes(data)


def header_only(p: Path, rng: random.Random) -> None:
    """Only the first line (a CSV header, or one JSON row) is left: a log that has just started."""
    p.write_bytes(p.read_bytes().split(b"\n")[0] + rng.choice([b"", b"\n"]))


# Fields of experiment.json and data.json, and values of other types a hand edit or another tool leaves.
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


def csv_quotes(p: Path, rng: random.Random) -> None:
    """Quoting and delimiters other tools write: an unterminated quote, a newline inside a quoted
    cell, semicolons, or a header repeated mid-file (two exports concatenated)."""
    lines = _lines(p.read_bytes())
    how = rng.choice(["open_quote", "newline_cell", "semicolon", "repeat_header"])
    i = rng.randrange(1, len(lines)) if len(lines) > 1 else 0
    if how == "open_quote":
        lines[i] = b'"' + lines[i]
    elif how == "newline_cell":
        lines[i] = lines[i].replace(b",", b',"a\nb",', 1)
    elif how == "semicolon":
        lines = [line.replace(b",", b";") for line in lines]
    else:
        lines.insert(i, lines[0])
    p.write_bytes(b"\n".join(lines))


FILE_KINDS = {
    f.__name__: f
    for f in (
        truncate,
        truncate_last_line,
        empty,
        replace_cells,
        huge_numbers,
        all_same,
        duplicate_lines,
        shuffle_lines,
        delete_lines,
        reverse_steps,
        bom,
        reencode,
        invalid_utf8,
        nul_bytes,
        line_endings,
        flip_bytes,
        garbage,
        deep_nesting,
        long_line,
        odd_types,
        csv_header,
        ragged_rows,
        odd_keys,
        header_only,
        odd_record,
        toml_values,
        csv_quotes,
        odd_jsonl_record,
    )
}


# ---------------------------------------------------------------------------------------------
# Whole-path kinds: links, missing files, renamed folders


def symlink(p: Path, rng: random.Random) -> None:
    """The file replaced by a link: to itself (a loop), to nowhere, to a directory, or a valid link."""
    how = rng.choice(["loop", "dangling", "dir", "valid"])
    if how == "valid":
        real = p.with_name(p.name + ".real")
        p.rename(real)
        p.symlink_to(real.name)
        return
    p.unlink()
    p.symlink_to({"loop": p.name, "dangling": "missing-target", "dir": "."}[how])


def replace_by_dir(p: Path, rng: random.Random) -> None:
    p.unlink()
    p.mkdir()
    if rng.random() < 0.5:
        (p / "inner.txt").write_text("1,2\n")


def remove(p: Path, rng: random.Random) -> None:
    p.unlink()


def fifo(p: Path, rng: random.Random) -> None:
    """A named pipe where a file was: reading it would block forever."""
    p.unlink()
    os.mkfifo(p)


PATH_KINDS = {f.__name__: f for f in (symlink, replace_by_dir, remove, fifo)}


def rename_seed_dir(run_root: Path, rng: random.Random) -> None:
    """A seed folder renamed the way copies between machines rename them."""
    seeds = sorted(run_root.glob("*/seed*"))
    if not seeds:
        return
    d = rng.choice(seeds)
    name = rng.choice(
        [
            "seed" + "9" * 40,
            "seed-1",
            "seed",
            "seed_007",
            "seed0 copy",
            "séed1",
            "seed1e9",
            "seed" + "1" * 200,
        ]
    )
    target = d.with_name(name)
    if not target.exists():
        d.rename(target)


def arm_as_file(run_root: Path, rng: random.Random) -> None:
    """A stray file where an arm or a seed folder is expected, or an extra empty run."""
    arm = run_root / rng.choice(["junk", "sft", "seed0"])
    if arm.exists():
        shutil.rmtree(arm) if arm.is_dir() else arm.unlink()
    if rng.random() < 0.5:
        arm.write_text("not a folder")
    else:
        (arm / "seed0").mkdir(parents=True)
        (arm / "seed0" / "metrics.jsonl").write_text(rng.choice(["", "\n", "{}", '{"step": 0}']))


def self_link_dir(run_root: Path, rng: random.Random) -> None:
    """A folder linking to its parent: a crawler that follows links would never end."""
    d = rng.choice([run_root, *run_root.glob("*")])
    if d.is_dir():
        os.symlink("..", d / "loop")


def odd_dir_names(run_root: Path, rng: random.Random) -> None:
    """An arm folder renamed with a newline, spaces, non-ASCII or a very long name."""
    arms = sorted(d for d in run_root.iterdir() if d.is_dir() and not d.is_symlink())
    if arms:
        d = rng.choice(arms)
        d.rename(d.with_name(rng.choice(["a\nb", " sft ", "ümlaut→arm", "x" * 250, "-m", ".hidden"])))


DIR_KINDS = {f.__name__: f for f in (rename_seed_dir, arm_as_file, self_link_dir, odd_dir_names)}
