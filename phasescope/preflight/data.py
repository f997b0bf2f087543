"""Do the data sources open, have their fields, and give disjoint sets? Counted, never silently dropped.

The same selection `train/real.py` makes (fields → usable rows → subsets drawn with `data.seed`,
RL prompts drawn from the problems the expert subset leaves when both come from one source), done
here without a model, so that each problem is found before any worker starts and is reported with
its count: rows skipped and why, a list-valued field (use `name.0`), overlaps between the sets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasescope.data.sources import Example, get_field, norm_prompt, read_rows, split_source, subset
from phasescope.errors import UsageError
from phasescope.preflight.model import hub_probe, looks_like_path, nearest_existing, offline
from phasescope.preflight.report import count


@dataclass
class SourceCheck:
    role: str
    """rl_prompts, expert or eval:<name>."""
    source: str
    rows: int = 0
    usable: list[Example] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    """Rows skipped, by the field they lack ("answer": 100)."""
    hints: list[str] = field(default_factory=list)
    """Why a field is missing, when the rows say (a list, a dict, a near name)."""
    used: list[Example] = field(default_factory=list)
    """The subset training will use."""
    left_to_expert: int = 0
    """RL rows not used because their problem is in the expert subset (one source for both)."""
    error: str | None = None


def eval_sources(eval_items: list[str]) -> list[tuple[str, str]]:
    """`data.eval` entries → (name, source): `name=source`, or the file stem of a bare source."""
    out = []
    for item in eval_items:
        head = item.split(":", 1)[0]
        name, src = item.split("=", 1) if "=" in head else ("", item)
        name = name or Path(src.split(":")[0]).stem.replace("-", "_").replace(".", "_") or f"set{len(out)}"
        out.append((name, src))
    return out


def as_text(value: Any) -> str | None:
    """A usable field value: a non-empty string or a number (as text); anything else is None."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def field_hint(rows: Any, name: str) -> str | None:
    """Why `name` gives no text in these rows, when the rows say: a list, a dict, or no row has it."""
    seen = False
    for row in rows:
        value = get_field(row, name)
        if isinstance(value, (list, tuple)):
            return (
                f"'{name}' is a list ({count(len(value), 'item')} in the first such row), not text; "
                f"use '{name}.0' for its first item"
            )
        if isinstance(value, dict):
            keys = ", ".join(sorted(map(str, value))[:6])
            return f"'{name}' is a dict (keys: {keys}), not text; use '{name}.<key>'"
        seen = seen or value is not None
    first = next(iter(rows), None)
    if first is not None and not seen:
        return f"no row has a field '{name}' (fields: {', '.join(sorted(map(str, first)))})"
    return None


def check_source(role: str, source: str, split: str, need: dict[str, str]) -> SourceCheck:
    """Read `source` and keep the rows where every needed field is text.

    `need` maps a Example attribute (prompt, answer, response) to its field name; a response under
    the key `response?` is optional (kept as None when missing).
    """
    out = SourceCheck(role, source)
    out.error = _unreadable(source, split)
    if out.error:
        return out
    try:
        rows = read_rows(source, split)
    except UsageError as exc:
        out.error = _one_line(str(exc))
        if not looks_like_path(split_source(source, split)[0]):
            out.error += (
                "; without network, point it at a local copy (a JSONL/Parquet file or a save_to_disk folder)"
            )
        return out
    out.rows = len(rows)
    for row in rows:
        values = {attr.rstrip("?"): as_text(get_field(row, name)) for attr, name in need.items()}
        lacking = [need[a] for a in need if not a.endswith("?") and values[a] is None]
        if lacking:
            out.skipped[lacking[0]] += 1
            continue
        out.usable.append(Example(values["prompt"], values.get("answer"), values.get("response")))
    for name in out.skipped:
        hint = field_hint(rows, name)
        if hint:
            out.hints.append(hint)
    return out


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unreadable(source: str, split: str) -> str | None:
    """A local path that does not exist, named as such (never tried as a hub dataset id); a hub id
    that one request cannot reach (datasets itself would retry for half a minute)."""
    path_or_id = split_source(source, split)[0]
    path = Path(path_or_id).expanduser()
    if path.exists():
        return None
    if not looks_like_path(path_or_id):
        err = None if offline() else hub_probe(path_or_id, "dataset")
        return f"dataset {path_or_id!r}: {err}, or point it at a local copy" if err else None
    near = nearest_existing(path.absolute())
    hint = f" (the nearest existing folder is {near})" if near is not None else ""
    return f"{path_or_id!r} does not exist{hint}; fix the path, or give a hub dataset id such as HuggingFaceH4/MATH-500"


def overlap(a: list[Example], b: list[Example]) -> int:
    """How many prompts of `a` also occur in `b` (after lower-casing and collapsing whitespace)."""
    seen = {norm_prompt(e.prompt) for e in b}
    return sum(norm_prompt(e.prompt) in seen for e in a)


def select(dc: Any, expert: SourceCheck | None, rl: SourceCheck | None, evals: list[SourceCheck]) -> None:
    """Fill `used` with the subsets training draws (see the module docstring)."""
    if expert is not None:
        expert.used = subset(expert.usable, dc.n_expert, dc.seed)
    if rl is not None:
        pool = rl.usable
        if expert is not None and dc.rl_prompts == dc.expert:
            taken = {norm_prompt(e.prompt) for e in expert.used}
            pool = [e for e in pool if norm_prompt(e.prompt) not in taken]
            rl.left_to_expert = len(rl.usable) - len(pool)
        rl.used = subset(pool, dc.n_rl_prompts, dc.seed)
    for ev in evals:
        ev.used = subset(ev.usable, dc.n_eval, dc.seed)
        if not all(e.response for e in ev.used):  # eval/expert_nll needs a response for every problem
            ev.used = [Example(e.prompt, e.answer, None) for e in ev.used]


def skip_note(check: SourceCheck, dc: Any) -> str:
    """One line: the file, how many rows were skipped for which field, and the fix."""
    why = ", ".join(f"{n:,} without '{f}'" for f, n in check.skipped.most_common())
    fix = "; ".join(check.hints) if check.hints else _fix(check, dc)
    return f"{check.source}: {sum(check.skipped.values()):,} of {check.rows:,} {check.role} rows skipped ({why}); {fix}"


def _fix(check: SourceCheck, dc: Any) -> str:
    if dc.answer_field in check.skipped and check.role == "rl_prompts":
        return f"RL rows need a reference answer to be rewarded: fill in '{dc.answer_field}' or set data.answer_field"
    return "fill in the fields or point data.prompt_field / data.answer_field / data.response_field at others"


def data_sources(dc: Any) -> dict[str, tuple[str, str]]:
    """Role → (source, default split) of every configured source (for provenance records)."""
    out = {}
    if dc.rl_prompts:
        out["rl_prompts"] = (dc.rl_prompts, "train")
    if dc.expert:
        out["expert"] = (dc.expert, "train")
    for name, src in eval_sources(dc.eval):
        out[f"eval:{name}"] = (src, "test")
    return out
