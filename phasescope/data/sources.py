"""Reading (prompt, answer, expert response) examples from JSONL files and Hugging Face datasets.

A *source* is one of
- a `.jsonl` / `.json` / `.parquet` / `.csv` file;
- a local folder written by `Dataset.save_to_disk` / `DatasetDict.save_to_disk`, or holding data files;
- a Hugging Face dataset id (`open-r1/OpenR1-Math-220k`), read with `datasets.load_dataset`
  (from the local HF cache when the machine is offline).
`source:split` picks a split; without it the caller's default applies (train, or test for eval sets).
Fields are looked up by name; `name.N` takes item N of a list field (OpenR1's `generations.0`),
and `a.b` descends into a nested dict.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasescope.errors import UsageError

FILE_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class Example:
    prompt: str
    """The problem text (before the prompt template and chat template)."""
    answer: str | None = None
    """Reference answer, checked with math-verify."""
    response: str | None = None
    """Expert response (the SFT target)."""


def split_source(source: str, default_split: str) -> tuple[str, str]:
    """`path_or_id:split` → (path_or_id, split); a bare source gets `default_split`."""
    m = re.fullmatch(r"(.+):([A-Za-z0-9_.\-\[\]%]+)", source)
    if m and not Path(source).exists():
        return m.group(1), m.group(2)
    return source, default_split


def read_rows(source: str, default_split: str = "train") -> list[dict[str, Any]]:
    """All rows of a source as dicts (see the module docstring for what a source may be)."""
    path_or_id, split = split_source(source, default_split)
    path = Path(path_or_id)
    if path.is_file() and path.suffix == ".jsonl":
        return _read_jsonl(path)
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise UsageError(f"reading {source!r} needs the `datasets` package") from exc
    try:
        if path.is_file():
            fmt = FILE_FORMATS.get(path.suffix)
            if fmt is None:
                raise UsageError(f"data source {source!r}: unknown file type {path.suffix!r}")
            ds = datasets.load_dataset(fmt, data_files=str(path), split="train")
        elif path.is_dir() and (
            (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()
        ):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise UsageError(f"data source {source!r} has no split {split!r}; splits: {list(ds)}")
                ds = ds[split]
        else:
            ds = datasets.load_dataset(path_or_id, split=split)
    except UsageError:
        raise
    except Exception as exc:  # missing dataset, no network, bad split: one clear line
        raise UsageError(f"cannot read data source {source!r} (split {split!r}): {exc}") from None
    return [dict(r) for r in ds]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
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
            rows.append(row)
    return rows


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


def load_examples(
    source: str,
    *,
    prompt_field: str,
    answer_field: str | None = None,
    response_field: str | None = None,
    default_split: str = "train",
    limit: int = 0,
    seed: int = 0,
    response_optional: bool = False,
) -> tuple[list[Example], int]:
    """Examples of `source` with the required fields, and how many rows were skipped for lacking one.

    A field passed as None is not read; with `response_optional` a row without a response is kept. `limit` > 0 keeps a random subset of that size, drawn with
    `seed` (the same subset for every arm and seed of an experiment). A source with no usable row is
    an error that names the fields it has.
    """
    rows = read_rows(source, default_split)
    out, skipped = [], 0
    for row in rows:
        prompt = _text(get_field(row, prompt_field))
        answer = _text(get_field(row, answer_field)) if answer_field else None
        response = _text(get_field(row, response_field)) if response_field else None
        if (
            prompt is None
            or (answer_field and answer is None)
            or (response_field and response is None and not response_optional)
        ):
            skipped += 1
            continue
        out.append(Example(prompt, answer, response))
    if not out:
        fields = sorted(rows[0]) if rows else []
        need = [f for f in (prompt_field, answer_field, None if response_optional else response_field) if f]
        raise UsageError(
            f"data source {source!r} has no row with the fields {need} ({len(rows)} rows; fields: {fields}); "
            "set data.prompt_field / data.answer_field / data.response_field"
        )
    return subset(out, limit, seed), skipped


def subset(examples: list[Example], n: int, seed: int) -> list[Example]:
    """`n` examples drawn with `seed`, in their original order (all of them when n is 0 or too large)."""
    if not n or n >= len(examples):
        return examples
    idx = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in idx]


def norm_prompt(text: str) -> str:
    return " ".join(text.lower().split())


def prompt_overlap(a: list[Example], b: list[Example]) -> int:
    """How many prompts of `a` also occur in `b` (compared after lower-casing and collapsing whitespace)."""
    seen = {norm_prompt(e.prompt) for e in b}
    return sum(norm_prompt(e.prompt) in seen for e in a)
