"""Read phasescope run directories (the contract in docs/run-directory.md) and JSON-lines logs in general.

A run directory is ``<arm>/seed<k>/`` (world draw 0) or ``<arm>/world<w>-seed<k>/`` (world draw w >= 1,
``phasescope run --world-seeds``) holding ``metrics.jsonl``; an experiment directory is
``runs/<experiment>/`` holding ``experiment.json`` and many run directories. Writers append, so a
crash can leave a truncated final line: it is skipped and reported, never fatal.
"""

from __future__ import annotations

import re
from pathlib import Path

from phasescope.errors import UsageError
from phasescope.runlog.jsonio import as_step, parse_line, require_file

_SEED_DIR = re.compile(r"^(?:world(\d+)-)?seed[_-]?(\d+)$")


def read_jsonl(path: Path) -> tuple[list[dict], list[str]]:
    """Rows of a JSON-lines file, and notes about lines that could not be read."""
    rows: list[dict] = []
    bad: list[int] = []
    require_file(path)
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            lines = fh.read().split("\n")  # only newlines end a line (not the \r or \x85 a value may hold)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        row = parse_line(line)
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append(i)
    notes = []
    if bad and not rows:
        raise UsageError(
            f"{path} is not JSON lines (no line parses as a JSON object, e.g. line {bad[0] + 1}); "
            "fix or replace the file"
        )
    if bad == [last]:
        notes.append(f"{path}: skipped a truncated final line (line {last + 1}); a writer was interrupted")
    elif bad:
        shown = ", ".join(str(i + 1) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        notes.append(f"{path}: skipped {len(bad)} unreadable line(s) (line {shown})")
    return rows, notes


def run_dir_name(seed: int, world: int = 0) -> str:
    """The directory name of (world draw, seed): ``seed<k>`` for draw 0 (every run before world draws
    existed is one), ``world<w>-seed<k>`` for draw w >= 1."""
    return f"seed{seed}" if world == 0 else f"world{world}-seed{seed}"


def seed_of(run_dir: Path) -> int | None:
    """The seed encoded in a ``seed<k>`` or ``world<w>-seed<k>`` directory name, or None."""
    m = _SEED_DIR.match(Path(run_dir).name)
    if not m or len(m.group(2)) > 18 or len(m.group(1) or "") > 18:  # must fit the frame's 64-bit columns
        return None
    return int(m.group(2))


def world_of(run_dir: Path) -> int:
    """The world draw of a run directory: w for ``world<w>-seed<k>``, 0 for anything else (draw 0's
    ``seed<k>`` and every foreign log)."""
    m = _SEED_DIR.match(Path(run_dir).name)
    return int(m.group(1)) if m and m.group(1) and seed_of(run_dir) is not None else 0


def find_run_dirs(path: Path) -> list[Path]:
    """Run directories under a phasescope run or experiment directory (sorted; empty if none)."""
    path = Path(path)
    if (path / "metrics.jsonl").is_file():
        return [path]
    found = sorted(
        p.parent
        for pattern in ("*/seed*/metrics.jsonl", "*/world*-seed*/metrics.jsonl")
        for p in path.glob(pattern)
    )
    found += sorted(p.parent for p in path.glob("*/metrics.jsonl") if p.parent not in found)
    return found


def is_phasescope_dir(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and ((path / "experiment.json").is_file() or bool(find_run_dirs(path)))


def run_identity(run_dir: Path) -> tuple[str, int | None]:
    """(run name, seed) of a run directory: ``<arm>/seed<k>`` and ``<arm>/world<w>-seed<k>`` give
    (arm, k); ``world_of`` gives w."""
    seed = seed_of(run_dir)
    return (run_dir.parent.name if seed is not None else run_dir.name), seed


def stages(rows: list[dict]) -> list[tuple[float, str]]:
    """(first step, stage) of every stage (the ``stage`` column: sft, rl, mixed), in step order:
    where μ's regime changes, e.g. the SFT -> RL switch of ``sft_then_rl``. The step-0 row (the
    base, before any update) carries no regime of its own and is skipped."""
    out: list[tuple[float, str]] = []
    # Rows whose step is not a usable number, or whose stage is not a name, say nothing about stages.
    marked = [(as_step(r.get("step")), r["stage"]) for r in rows if isinstance(r.get("stage"), str)]
    for step, stage in sorted(((s, st) for s, st in marked if s is not None), key=lambda r: r[0]):
        if step != 0 and (not out or stage != out[-1][1]):
            out.append((step, stage))
    return out


def stage_starts(rows: list[dict]) -> list[float]:
    """First step of every stage after the first: the known changepoints of a run."""
    return [step for step, _ in stages(rows)[1:]]


def read_metrics(path: Path, notes: list[str] | None = None) -> list[dict]:
    """metrics.jsonl rows of a run that may still be writing: none when the file is missing or has
    no readable line yet; a truncated last line (a crash mid-write) is skipped and, when `notes` is
    given, reported there."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        rows, found = read_jsonl(path)
    except (UsageError, OSError) as exc:  # nothing readable yet (or at all)
        found, rows = [str(exc)], []
    if notes is not None:
        notes.extend(found)
    return rows
