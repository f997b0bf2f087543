"""Reading (prompt, answer, expert response) examples from JSONL files and Hugging Face datasets.

A *source* is one of
- a `.jsonl` / `.json` / `.parquet` / `.csv` file;
- a local folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`, or holding data files
  (with `configs` in its README, as on the Hub);
- a Hugging Face dataset id (`open-r1/OpenR1-Math-220k`), read with `datasets.load_dataset`
  (from the local HF cache when the machine is offline).
`source:split` picks a split; without it the caller's default applies (train, or test for eval sets).
Options follow a `?`, as in a URL: `name=` the dataset config (`openai/gsm8k:test?name=main` is
`load_dataset("openai/gsm8k", "main", split="test")`), `streaming=true` reads a source too large to
download whole as an `IterableDataset` (subsets then come from a shuffle buffer of `buffer_size`
rows, default 10000, so they are random but not uniform over the whole source).
Fields are looked up by name; `name.N` takes item N of a list field (OpenR1's `generations.0`),
and `a.b` descends into a nested dict.

A source stays a `datasets.Dataset` (memory-mapped Arrow) until examples are drawn: only the
columns the fields need are kept, a subset is the first `n` usable rows of `shuffle(seed)` (a
seeded permutation, as `Dataset.shuffle` draws it), and only those rows become Python objects.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from phasescope.errors import UsageError

FILE_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
OPTIONS = ("name", "streaming", "buffer_size")
BATCH = 1024
"""Rows converted to Python per step while drawing."""


@dataclass(frozen=True)
class Example:
    prompt: str
    """The problem text (before the prompt template and chat template)."""
    answer: str | None = None
    """Reference answer, checked with math-verify."""
    response: str | None = None
    """Expert response (the SFT target)."""


@dataclass(frozen=True)
class DataSource:
    """Where examples come from, as the arguments of `datasets.load_dataset`."""

    path: str
    """File, folder or Hub dataset id."""
    split: str
    name: str | None = None
    """Dataset config (`load_dataset(path, name)`), e.g. "main" for openai/gsm8k."""
    streaming: bool = False
    """Read as an `IterableDataset` instead of downloading the whole split."""
    buffer_size: int = 10_000
    """Shuffle buffer of a streamed source."""


def parse_source(source: str, default_split: str = "train") -> DataSource:
    """`path_or_id[:split][?name=...&streaming=true&buffer_size=N]` → DataSource."""
    base, options = source, {}
    if "?" in source and not Path(source).exists():
        base, query = source.split("?", 1)
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise UsageError(
                f"data source {source!r}: unknown option {unknown[0]!r}; options: {', '.join(OPTIONS)}"
            )
    path, split = split_source(base, default_split)
    streaming = options.get("streaming", "false").lower()
    if streaming not in ("true", "false", "1", "0"):
        raise UsageError(f"data source {source!r}: streaming must be true or false, got {streaming!r}")
    size = options.get("buffer_size", "10000")
    if not size.isdigit() or int(size) < 1:
        raise UsageError(f"data source {source!r}: buffer_size must be a positive integer, got {size!r}")
    return DataSource(path, split, options.get("name") or None, streaming in ("true", "1"), int(size))


def split_source(source: str, default_split: str) -> tuple[str, str]:
    """`path_or_id:split` → (path_or_id, split); a bare source gets `default_split`."""
    m = re.fullmatch(r"(.+):([A-Za-z0-9_.\-\[\]%]+)", source)
    if m and not Path(source).exists():
        return m.group(1), m.group(2)
    return source, default_split


def split_eval_label(item: str) -> tuple[str, str]:
    """`label=source` → (label, source); a bare `source` (whose options may hold `=`) → ("", source).
    A label is a plain word: letters, digits, `_`, `-`, `.`."""
    m = re.fullmatch(r"([\w.\-]+)=(.+)", item)
    if m and not Path(item).exists():
        return m.group(1), m.group(2)
    return "", item


def open_source(src: DataSource, label: str = ""):
    """The source as a `datasets.Dataset` (an `IterableDataset` when streaming); every failure is one
    UsageError line (a bad JSONL line by its number)."""
    label = label or src.path
    path = Path(src.path)
    import datasets

    saved = path.is_dir() and ((path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists())
    if src.name and (path.is_file() or saved):
        raise UsageError(
            f"data source {label!r}: name= picks a config of a Hub dataset or folder, not of a file"
        )
    try:
        if path.is_file():
            return _open_file(datasets, src, label)
        if saved:
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if src.split not in ds:
                    raise UsageError(f"data source {label!r} has no split {src.split!r}; splits: {list(ds)}")
                ds = ds[src.split]
            return ds
        return datasets.load_dataset(src.path, name=src.name, split=src.split, streaming=src.streaming)
    except UsageError:
        raise
    except Exception as exc:  # missing dataset or config, no network, bad split: one clear line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot read data source {label!r} (split {src.split!r}): {first}") from None


def _open_file(datasets, src: DataSource, label: str):
    path = Path(src.path)
    fmt = FILE_FORMATS.get(path.suffix)
    if fmt is None:
        raise UsageError(f"data source {label!r}: unknown file type {path.suffix!r}")
    try:
        return datasets.load_dataset(fmt, data_files=str(path), split="train", streaming=src.streaming)
    except Exception:
        if path.suffix == ".jsonl":
            _check_jsonl(path)  # names the first bad line, which Arrow's error does not
        raise


def _check_jsonl(path: Path) -> None:
    with path.open() as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{i} is not valid JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{i} is not a JSON object")


def get_field(row: dict[str, Any], name: str) -> Any:
    """`row[name]`, where `a.b` descends into dicts and `a.N` indexes lists; None when absent."""
    if name in row:
        return row[name]
    node: Any = row
    for part in name.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (
            isinstance(node, (list, tuple))
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return None
    return node


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass(frozen=True)
class Drawn:
    examples: list[Example]
    skipped: int
    """Rows read that lack a required field."""
    excluded: int
    """Rows read whose prompt is in `exclude`."""
    read: int
    """Rows read (every row without a limit)."""
    skipped_by: dict[str, int] = field(default_factory=dict)
    """Rows skipped, by the first required field they lack ("answer": 100)."""
    hints: tuple[str, ...] = ()
    """Why a skipped field gives no text, when a row says (a list: use `name.0`; a dict)."""
    total: int | None = None
    """Rows in the source (None for a streamed one)."""


def draw_examples(
    source: str,
    *,
    prompt_field: str,
    answer_field: str | None = None,
    response_field: str | None = None,
    default_split: str = "train",
    limit: int = 0,
    seed: int = 0,
    response_optional: bool = False,
    exclude: frozenset[str] | set[str] = frozenset(),
) -> Drawn:
    """Examples of `source` with the required fields, with counts of what was passed over.

    A field passed as None is not read; with `response_optional` a row without a response is kept.
    `limit` > 0 keeps the first `limit` usable rows of the source shuffled with `seed` (the same
    subset for every arm and seed of an experiment), reading no further; 0 keeps every usable row in
    the source's order. A row whose prompt (after `norm_prompt`) is in `exclude` is passed over, so
    two draws from one source with one seed can be kept disjoint. A source with no usable row is an
    error that names the fields it has (unless rows were excluded: then the result may be empty).
    """
    src = parse_source(source, default_split)
    table = open_source(src, source)
    fields = [f for f in (prompt_field, answer_field, response_field) if f]
    required = [f for f in (prompt_field, answer_field, None if response_optional else response_field) if f]
    table, all_columns = _keep_columns(table, fields, required, source)
    out: list[Example] = []
    skipped_by: Counter = Counter()
    hints: dict[str, str] = {}
    excluded = read = 0
    for row in _rows_in_draw_order(table, limit, seed, src.buffer_size):
        read += 1
        ex = _example(row, prompt_field, answer_field, response_field, response_optional)
        if ex is None:
            lacking = next(f for f in required if _text(get_field(row, f)) is None)
            skipped_by[lacking] += 1
            if lacking not in hints:
                hints[lacking] = field_hint(get_field(row, lacking), lacking)
        elif exclude and norm_prompt(ex.prompt) in exclude:
            excluded += 1
        else:
            out.append(ex)
            if len(out) == limit:
                break
    hint_list = tuple(h for h in hints.values() if h)
    if not out and not excluded:  # every usable row excluded: the caller says why
        _no_usable_row(source, required, read, all_columns, hint_list)
    total = len(table) if hasattr(table, "__len__") else None
    return Drawn(out, sum(skipped_by.values()), excluded, read, dict(skipped_by), hint_list, total)


def field_hint(value: Any, name: str) -> str:
    """Why a field's value is not text, when the value says: a list (use `name.0`) or a dict; else ""."""
    if isinstance(value, (list, tuple)):
        n = len(value)
        return (
            f"'{name}' is a list ({n} item{'s' * (n != 1)} in the first such row), not text; "
            f"use '{name}.0' for its first item"
        )
    if isinstance(value, dict):
        keys = ", ".join(sorted(map(str, value))[:6])
        return f"'{name}' is a dict (keys: {keys}), not text; use '{name}.<key>'"
    return ""


def load_examples(source: str, **kwargs) -> tuple[list[Example], int]:
    """`draw_examples` as (examples, rows skipped for lacking a required field)."""
    drawn = draw_examples(source, **kwargs)
    return drawn.examples, drawn.skipped


def _example(row, prompt_field, answer_field, response_field, response_optional) -> Example | None:
    prompt = _text(get_field(row, prompt_field))
    answer = _text(get_field(row, answer_field)) if answer_field else None
    response = _text(get_field(row, response_field)) if response_field else None
    if (
        prompt is None
        or (answer_field and answer is None)
        or (response_field and response is None and not response_optional)
    ):
        return None
    return Example(prompt, answer, response)


def _no_usable_row(
    source: str, required: list[str], read: int, columns: list[str], hints: tuple[str, ...] = ()
) -> None:
    fix = "; ".join(hints) or "set data.prompt_field / data.answer_field / data.response_field"
    raise UsageError(
        f"data source {source!r} has no row with the fields {required} ({read} rows; fields: {columns}); {fix}"
    )


def _keep_columns(table, fields: list[str], required: list[str], source: str):
    """The table cut to the columns `fields` read (`a.b` and `a.N` read column `a`), and all its
    column names. A required field with no column at all fails before any row is read."""
    columns = list(table.column_names or [])
    if not columns:  # a streamed source whose features are unknown until read
        return table, columns

    def column(f: str) -> str | None:
        top = f if f in columns else f.split(".")[0]
        return top if top in columns else None

    absent = [f for f in required if column(f) is None]
    if absent:
        n = len(table) if hasattr(table, "__len__") else 0
        _no_usable_row(source, required, n, columns, tuple(f"no row has a field '{f}'" for f in absent))
    keep = sorted({c for f in fields if (c := column(f))})
    return table.select_columns(keep), columns


def _rows_in_draw_order(table, limit: int, seed: int, buffer_size: int) -> Iterator[dict[str, Any]]:
    """Rows as dicts: shuffled with `seed` when `limit` > 0, converted a batch at a time."""
    import datasets

    if isinstance(table, datasets.IterableDataset):
        yield from table.shuffle(seed=seed, buffer_size=buffer_size) if limit else table
        return
    if limit:
        # Indices only (8 bytes a row), in memory rather than a cache file next to the data.
        table = table.shuffle(seed=seed, keep_in_memory=True)
    for batch in table.iter(batch_size=BATCH):
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            yield dict(zip(keys, values))


def _permutation(n: int, seed: int) -> np.ndarray:
    """The permutation `datasets.Dataset.shuffle(seed=seed)` applies, so lists subset as sources draw."""
    return np.random.default_rng(seed).permutation(n)


def subset(examples: list[Example], n: int, seed: int) -> list[Example]:
    """`n` examples drawn with `seed` by the rule `draw_examples` uses (all of them when n is 0 or
    too large, in their order)."""
    if not n or n >= len(examples):
        return examples
    return [examples[i] for i in _permutation(len(examples), seed)[:n]]


def norm_prompt(text: str) -> str:
    return " ".join(text.lower().split())


def prompt_overlap(a: list[Example], b: list[Example]) -> int:
    """How many prompts of `a` also occur in `b` (compared after lower-casing and collapsing whitespace)."""
    seen = {norm_prompt(e.prompt) for e in b}
    return sum(norm_prompt(e.prompt) in seen for e in a)
