"""Seeded mutations of what users feed phasescope: each kind damages a copied file or directory the
way logs are damaged in the wild (cut off mid-write, hand-edited, re-encoded, exported by other tools,
copied between machines). ``mutate(kind, target, rng)`` changes ``target`` in place; every kind is a
plain function of (path, rng) so a case is reproduced from its seed alone.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from tests.fuzz.paths import DIR_KINDS, PATH_KINDS  # noqa: F401 (the kinds, in one place)
from tests.fuzz.typed import odd_jsonl_record, odd_record, odd_types, toml_values

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
