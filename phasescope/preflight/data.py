"""Do the data sources open, have their fields, and give disjoint sets? Counted, never silently dropped.

Each subset is drawn by `data.selection.draw_set`, the function `train/real.load_data` draws with
(fields → usable rows → the first `n_*` of the source shuffled with `data.seed`, RL prompts from the
expert's source skipping the expert subset's problems), here without a model, so that each problem
is found before any worker starts and is reported with its count: rows skipped and why, a
list-valued field (use `name.0`), overlaps between the sets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasescope.data.selection import data_sources, draw_set, eval_sources
from phasescope.data.sources import Example, parse_source, prompt_overlap
from phasescope.errors import UsageError
from phasescope.preflight.model import hub_probe, looks_like_path, nearest_existing, offline

__all__ = ["SourceCheck", "check_source", "data_sources", "eval_sources", "overlap", "skip_note"]


@dataclass
class SourceCheck:
    role: str
    """rl_prompts, expert, dev or eval:<name>."""
    source: str
    rows: int = 0
    """Rows in the source (rows read, for a streamed one)."""
    skipped: Counter = field(default_factory=Counter)
    """Rows skipped, by the field they lack ("answer": 100)."""
    hints: list[str] = field(default_factory=list)
    """Why a field is missing, when the rows say (a list, a dict)."""
    used: list[Example] = field(default_factory=list)
    """The subset training will use."""
    left_to_expert: int = 0
    """RL rows not used because their problem is in the expert subset (one source for both)."""
    error: str | None = None


def check_source(dc: Any, role: str, source: str, expert: list[Example] | None = None) -> SourceCheck:
    """Draw `role`'s subset of `source` as training will (`draw_set`) and count what was passed over."""
    out = SourceCheck(role, source)
    kind = role.split(":")[0]
    try:
        out.error = _unreadable(source, {"eval": "test", "dev": "validation"}.get(kind, "train"))
        if out.error:
            return out
        drawn = draw_set(dc, kind, source, expert)
    except UsageError as exc:
        out.error = _one_line(str(exc))
        if not looks_like_path(parse_source(source).path) and "cannot read" in out.error:
            out.error += (
                "; without network, point it at a local copy (a JSONL/Parquet file or a save_to_disk folder)"
            )
        return out
    out.rows = drawn.total if drawn.total is not None else drawn.read
    out.skipped = Counter(drawn.skipped_by)
    out.hints = list(drawn.hints)
    out.used = drawn.examples
    out.left_to_expert = drawn.excluded
    return out


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unreadable(source: str, split: str) -> str | None:
    """A local path that does not exist, named as such (never tried as a hub dataset id); a hub id
    that one request cannot reach (datasets itself would retry for half a minute)."""
    path_or_id = parse_source(source, split).path
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
    return prompt_overlap(a, b)


def skip_note(check: SourceCheck, dc: Any) -> str:
    """One line: the file, how many rows were skipped for which field, and the fix."""
    why = ", ".join(f"{n:,} without '{f}'" for f, n in check.skipped.most_common())
    fix = "; ".join(check.hints) if check.hints else _fix(check, dc)
    return f"{check.source}: {sum(check.skipped.values()):,} of {check.rows:,} {check.role} rows skipped ({why}); {fix}"


def _fix(check: SourceCheck, dc: Any) -> str:
    if dc.answer_field in check.skipped and check.role == "rl_prompts":
        return f"RL rows need a reference answer to be rewarded: fill in '{dc.answer_field}' or set data.answer_field"
    return "fill in the fields or point data.prompt_field / data.answer_field / data.response_field at others"
