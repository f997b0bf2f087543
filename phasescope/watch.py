"""Follow a training log as it grows and report each phase change once it is confirmed.

The library half of ``phasescope watch``; it sits above ``analysis`` (it runs the online detector,
through ``analysis.phase_tracker.PhaseTracker``) and reads logs through ``runlog``. Supported: a phasescope run or experiment directory
(every ``metrics.jsonl`` under it, one detector per run), a JSONL or CSV/TSV log with a step column,
a ``trainer_state.json`` and a TensorBoard event directory.

Every ``poll`` seconds the sources are looked at; one that changed is read again and the points
after the last step already fed go, in step order, to that run's ``PhaseTracker``. JSONL and CSV
are read only up to their last newline, so a line caught half-written is read on a later poll,
once complete (a half-written CSV row would otherwise parse as a wrong number, e.g. ``0.1`` for
``0.125``); a complete line that is not JSON is skipped. A ``trainer_state.json`` caught
mid-rewrite is retried on the next poll. TensorBoard directories are read with the importers'
reader. The eval-set size that sets a rate's noise floor is ``--eval-n`` or, for a phasescope run,
what its files record (``runlog.open.eval_sets_of``). Re-reading a whole log per change is simple and fast enough for logs of training runs
(thousands of rows); it is not meant for gigabyte logs.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from phasescope.analysis.curves import resolve_metric
from phasescope.analysis.jsonsafe import dumps
from phasescope.analysis.noise import eval_n_for
from phasescope.analysis.online import direction_for
from phasescope.analysis.phase_tracker import PhaseTracker
from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.importers import load_curves
from phasescope.runlog.jsonio import MAX_ABS_VALUE, parse_line
from phasescope.runlog.names import is_rate_name
from phasescope.runlog.open import eval_sets_of
from phasescope.runlog.reader import find_run_dirs, is_phasescope_dir, run_identity
from phasescope.runlog.records import STEP_COLUMNS, records_to_long


def _complete_text(p: Path) -> str:
    """The file's text up to and including its last newline."""
    data = p.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")


def _jsonl_frame(p: Path, run: str, step_col: str | None) -> pd.DataFrame:
    rows = []
    for line in _complete_text(p).splitlines():
        row = parse_line(line)
        if isinstance(row, dict):
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["run", "step", "metric", "value"])
    if step_col is None and not any(c in r for r in rows for c in STEP_COLUMNS):
        return pd.DataFrame(columns=["run", "step", "metric", "value"])  # no step column yet
    return records_to_long(rows, step_col, run, None, str(p))[0]


def _csv_frame(p: Path, run: str, step_col: str | None) -> pd.DataFrame:
    text = _complete_text(p)
    if text.count("\n") < 2:  # a header and at least one row
        return pd.DataFrame(columns=["run", "step", "metric", "value"])
    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    wide = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True)
    rows = [{k: v for k, v in r.items() if pd.notna(v)} for r in wide.to_dict("records")]
    return records_to_long(rows, step_col, run, None, str(p))[0]


def _sources(path: Path) -> list[tuple[str, Path, str]]:
    """(run name, file or directory to watch, kind) for everything under ``path`` right now."""
    if path.is_dir() and is_phasescope_dir(path):
        return [(_run_label(d), d / "metrics.jsonl", "jsonl") for d in find_run_dirs(path)]
    if path.is_dir():
        return [(path.name, path, "whole")]  # a TensorBoard directory
    if path.suffix.lower() in (".csv", ".tsv"):
        return [(path.stem, path, "csv")]
    if path.name.endswith(".json"):
        return [(path.parent.name or path.stem, path, "whole")]
    return [(path.stem, path, "jsonl")]


def _run_label(run_dir: Path) -> str:
    run, seed = run_identity(run_dir)
    return run if seed is None else f"{run}/seed{seed}"


def _read(run: str, p: Path, kind: str, step_col: str | None) -> pd.DataFrame | None:
    """The source's points as a frame (run, step, metric, value); None when it cannot be read yet."""
    if kind != "whole" and not p.is_file():
        return None  # not a regular file (yet): a named pipe would block the read
    try:
        if kind == "jsonl":
            return _jsonl_frame(p, run, step_col)
        if kind == "csv":
            return _csv_frame(p, run, step_col)
        frame, _ = load_curves(p, step_col)
        return frame.assign(run=run)
    except (PhasescopeError, ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # caught mid-write (or not a log yet): try again on the next poll


def _signature(p: Path) -> tuple:
    if p.is_dir():
        return tuple(
            sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in p.iterdir() if f.is_file())
        )
    st = p.stat()
    return (st.st_size, st.st_mtime_ns)


class Follower:
    """The sources under one path, a phase tracker per run, and what has been read so far."""

    def __init__(
        self,
        path,
        metric: str = "eval_loss",
        direction: str | None = None,
        *,
        step_col=None,
        eval_n=None,
        **kw,
    ):
        self.path = Path(path).expanduser()
        self.metric = metric
        self.direction = direction_for(metric, direction)
        self.step_col = step_col
        self.eval_n = eval_n  # given; else read from a phasescope run's files once the metric is known
        self.detector_kwargs = kw
        self.trackers: dict[str, PhaseTracker] = {}
        self.seen: set[str] = set()
        self.resolved: str | None = None
        self._grown: dict[Path, tuple] = {}
        self._read_sig: dict[Path, tuple] = {}

    def poll(self) -> tuple[list[dict], bool]:
        """Read what changed since the last poll: (new event records, whether any source grew)."""
        grew, out = False, []
        for run, p, kind in _sources(self.path) if self.path.exists() else []:
            try:
                sig = _signature(p)
            except OSError:
                continue  # not there (yet, or any more)
            if self._grown.get(p) != sig:
                self._grown[p], grew = sig, True
            if self._read_sig.get(p) == sig:
                continue
            frame = _read(run, p, kind, self.step_col)
            if frame is not None:
                self._read_sig[p] = sig
                out += self._feed(frame)
        return out, grew

    def _feed(self, frame: pd.DataFrame) -> list[dict]:
        if frame.empty:
            return []
        self.seen.update(str(m) for m in frame["metric"].unique())
        if self.resolved is None:
            try:
                self.resolved = resolve_metric(pd.DataFrame({"metric": sorted(self.seen)}), self.metric)
            except UsageError:
                return []  # not logged yet; run() says so at the end if it never is
            self.eval_n = self._eval_n()
        out = []
        mine = frame[frame["metric"] == self.resolved]
        usable = np.isfinite(mine["value"].to_numpy(float)) & (mine["value"].abs() <= MAX_ABS_VALUE)
        mine = mine[usable]  # NaN, inf and absurd values are no points (as load_curves drops them)
        for run, g in mine.groupby("run", sort=False):
            tracker = self.trackers.get(run)
            if tracker is None:
                tracker = self.trackers[run] = PhaseTracker(
                    self.resolved, self.direction, eval_n=self.eval_n, **self.detector_kwargs
                )
            g = g.drop_duplicates("step", keep="last").sort_values("step")
            for step, value in zip(g["step"], g["value"], strict=True):
                tracker.update(step, value)
                out += [{"run": run, **ev.to_dict()} for ev in tracker.new]
        return out

    def run(self, until_idle: float | None = None, wait: bool = False, poll: float = 0.5, on_note=None):
        """Yield event records as they are confirmed, until ``until_idle`` seconds pass with no source
        growing (never, when None). ``wait``: the path may not exist yet."""
        if not self.path.exists() and not wait:
            raise UsageError(
                f"{self.path} does not exist (yet); give an existing log, or wait for it with --wait"
            )
        last_growth, noted = time.monotonic(), False
        while True:
            events, grew = self.poll()
            yield from events
            if self.resolved is None and self.seen and not noted and on_note:
                on_note(f"waiting for metric {self.metric!r}; logged so far: {self._listing()}")
                noted = True
            now = time.monotonic()
            last_growth = now if grew else last_growth
            if until_idle is not None and now - last_growth >= until_idle:
                break
            time.sleep(poll)
        if self.resolved is None:
            raise UsageError(
                f"metric {self.metric!r} was not logged in {self.path}; metrics seen: {self._listing() or 'none'}"
            )

    def _eval_n(self) -> int | None:
        """The eval-set size behind the resolved metric: the one given (for a rate), else the one a
        phasescope run's files record (experiment.json's ``world.n_eval``, or data.json's rows)."""
        if not is_rate_name(self.resolved or ""):
            return None
        if self.eval_n is not None:
            return int(self.eval_n)
        if not (self.path.is_dir() and is_phasescope_dir(self.path)):
            return None
        return eval_n_for(self.resolved, eval_sets_of(self.path))

    def _listing(self) -> str:
        return ", ".join(sorted(self.seen))


def follow(path, metric: str = "eval_loss", direction: str | None = None, **kw) -> Iterator[dict]:
    """Event records of ``path`` as they are confirmed; ``kw``: until_idle, wait, poll, step_col."""
    run_kw = {k: kw.pop(k) for k in ("until_idle", "wait", "poll") if k in kw}
    return Follower(path, metric, direction, **kw).run(**run_kw)


def format_event(rec: dict) -> str:
    """One line for a person: ``run  metric: label from step S (confirmed at step C, lag L), value V``."""
    return (
        f"{rec['run']}  {rec['metric']}: {rec['label']} from step {rec['start_step']:g} "
        f"(confirmed at step {rec['confirmed_step']:g}, lag {rec['lag']:g}), value {rec['value']:.4g}"
        + (f" — {rec['note']}" if rec.get("note") else "")
    )


def watch(
    path,
    metric: str = "eval_loss",
    direction: str | None = None,
    as_json: bool = False,
    until_idle: float | None = None,
    wait: bool = False,
    out=None,
    err=None,
    poll: float = 0.5,
    step_col: str | None = None,
    eval_n: int | None = None,
) -> int:
    """Print each confirmed phase change of ``path`` as it happens; the exit code (0, or 130 on
    Ctrl-C). Bad input raises ``UsageError`` (exit 2), which the CLI prints as one line."""
    out, err = out or sys.stdout, err or sys.stderr
    follower = Follower(path, metric, direction, step_col=step_col, eval_n=eval_n)
    events = follower.run(until_idle, wait, poll, on_note=lambda m: print(f"note: {m}", file=err, flush=True))
    try:
        for rec in events:
            print(dumps(rec) if as_json else format_event(rec), file=out, flush=True)
    except KeyboardInterrupt:
        return 130
    return 0
