"""Turn any supported training log into one tidy frame: run, seed, world, step, metric, value (+ source).

Supported: phasescope run and experiment directories; CSV/TSV and JSONL with a step column (the
usual names are detected, ``step_col`` names any other), including sparse CSVs where each row fills
some columns (PyTorch Lightning's ``metrics.csv``) and LLaMA-Factory's ``trainer_log.jsonl``
(``current_steps``); Hugging Face ``trainer_state.json`` (``log_history``, where train and eval
rows alternate); TensorBoard event directories (needs the optional ``tensorboard`` package); W&B
CSV exports (run history, or a chart export with ``<run> - <metric>`` columns), and W&B runs and
grouped experiments via the public API (``wandb:entity/project/run_id`` or
``wandb:entity/project/group``, every row through ``scan_history``; see ``wandb_reader``).

``load_curves`` also cleans what it read and says what it did, as notes: values logged as NaN or
inf are dropped, duplicated steps keep the last value logged (a resumed run re-logs steps),
unsorted rows are sorted, and large gaps in the step sequence are pointed out. A metric absent from
a row is simply absent (never 0). Problems the user must fix raise ``UsageError`` with one line.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from phasescope.errors import UsageError
from phasescope.runlog.jsonio import MAX_ABS_STEP, MAX_ABS_VALUE, read_json, require_file
from phasescope.runlog.names import is_wandb_source
from phasescope.runlog.reader import find_run_dirs, is_phasescope_dir, read_jsonl, run_identity, world_of
from phasescope.runlog.reader import stages as read_stages
from phasescope.runlog.records import (  # noqa: F401 (re-exports: COLUMNS, STEP_COLUMNS)
    COLUMNS,
    STEP_COLUMNS,
    is_metric,
    listing,
    records_to_long,
    stamp,
    step_column,
)
from phasescope.runlog.wandb_reader import read_wandb

SUPPORTED = (
    "a phasescope run or experiment directory, CSV/TSV or JSONL with a step column, "
    "trainer_state.json, LLaMA-Factory trainer_log.jsonl, Lightning metrics.csv, "
    "a TensorBoard event directory, a W&B CSV export, wandb:entity/project/run_id "
    "or wandb:entity/project/group"
)


def load_curves(path: str | os.PathLike, step_col: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read every metric curve at ``path``; returns (tidy frame, notes about what was fixed)."""
    spec = str(path)
    if is_wandb_source(spec):
        long, notes = read_wandb(spec, step_col)
    else:
        p = Path(spec).expanduser()
        if not p.exists():
            raise UsageError(
                f"{p} does not exist; give a log file, a run directory or an experiment directory"
            )
        long, notes = _read_path(p, step_col)
    frame, more = clean_frame(long)
    for key in ("stages", "stage_starts"):
        frame.attrs[key] = long.attrs.get(key, {})
    return frame, notes + more


# ----------------------------------------------------------------------------------------------
# Dispatch


def _read_path(p: Path, step_col: str | None) -> tuple[pd.DataFrame, list[str]]:
    if p.is_dir():
        if is_phasescope_dir(p):
            return _read_phasescope(p, step_col)
        if any(p.rglob("*tfevents*")):
            return _read_tensorboard(p)
        if (p / "trainer_state.json").is_file():
            return _read_trainer_state(p / "trainer_state.json", step_col)
        if (p / "trainer_log.jsonl").is_file():
            return _read_jsonl_log(p / "trainer_log.jsonl", step_col, p.name)
        raise UsageError(f"no supported logs found in directory {p}; supported: {SUPPORTED}")
    require_file(p)
    if "tfevents" in p.name:
        return _read_tensorboard(p.parent)
    if p.name == "metrics.jsonl" and is_phasescope_dir(p.parent):
        return _read_phasescope(p.parent, step_col)
    head = _head(p)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".jsonl", ".csv", ".tsv") and re.search(
        r"^\{'(loss|eval_loss)'", head, flags=re.M
    ):
        raise UsageError(
            f"{p} is raw Hugging Face Trainer stdout (Python dicts without step numbers), which is not "
            "supported; point phasescope at the run's trainer_state.json instead"
        )
    if suffix == ".json" or (suffix not in (".jsonl", ".csv", ".tsv") and head.startswith(("{", "["))):
        if suffix != ".json" and "\n{" in head.strip():
            return _read_jsonl_log(p, step_col, _run_name(p))
        return _read_json(p, step_col)
    if suffix == ".jsonl":
        return _read_jsonl_log(p, step_col, _run_name(p))
    if suffix in (".csv", ".tsv") or (head and "," in head.splitlines()[0]):
        return _read_csv(p, step_col)
    raise UsageError(f"{p}: unknown log format; supported: {SUPPORTED}")


def _head(p: Path, n: int = 65536) -> str:
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            return fh.read(n).lstrip()
    except OSError as exc:
        raise UsageError(f"cannot read {p}: {exc.strerror}") from None


def _run_name(p: Path) -> str:
    """A readable run name for a foreign log file: its stem, or its directory for generic names."""
    generic = {"trainer_state", "trainer_log", "metrics", "log", "history", "progress"}
    stem = p.name.split(".")[0]
    return p.parent.name if stem in generic and p.parent.name else stem


# ----------------------------------------------------------------------------------------------
# Readers: each returns a long frame (run, seed, world, step, metric, value, source) and notes


def _read_phasescope(p: Path, step_col: str | None) -> tuple[pd.DataFrame, list[str]]:
    parts, notes, stages = [], [], {}
    for run_dir in find_run_dirs(p):
        rows, n = read_jsonl(run_dir / "metrics.jsonl")
        notes += n
        run, seed = run_identity(run_dir)
        stages.setdefault(run, read_stages(rows))  # seeds of an arm share its μ schedule
        source = str(run_dir / "metrics.jsonl")
        long, n = records_to_long(rows, step_col or "step", run, seed, source, world_of(run_dir))
        parts.append(long)
        notes += n
    if not parts:
        raise UsageError(f"{p} has no <arm>/seed<k>/metrics.jsonl files yet; has the run logged a step?")
    long = pd.concat(parts, ignore_index=True)
    # run -> [(first step, stage)], and run -> first steps of later stages (the fixed knots)
    long.attrs["stages"] = stages
    long.attrs["stage_starts"] = {r: [step for step, _ in s[1:]] for r, s in stages.items() if len(s) > 1}
    return long, notes


def _read_json(p: Path, step_col: str | None) -> tuple[pd.DataFrame, list[str]]:
    data = read_json(p)
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        return _read_trainer_state(p, step_col, data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return records_to_long(data, step_col, _run_name(p), None, str(p))
    raise UsageError(f"{p}: JSON that is neither a trainer_state.json (log_history) nor a list of rows")


def _read_trainer_state(p: Path, step_col: str | None, data: dict | None = None):
    if data is None:
        return _read_json(p, step_col)
    rows = [r for r in data["log_history"] if isinstance(r, dict)]
    if not rows:
        raise UsageError(f"{p}: log_history holds no rows; the trainer logged nothing")
    return records_to_long(rows, step_col or "step", _run_name(p), None, str(p))


def _read_jsonl_log(p: Path, step_col: str | None, run: str) -> tuple[pd.DataFrame, list[str]]:
    rows, notes = read_jsonl(p)
    long, more = records_to_long(rows, step_col, run, None, str(p))
    return long, notes + more


_WANDB_CHART = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")


def _read_csv(p: Path, step_col: str | None) -> tuple[pd.DataFrame, list[str]]:
    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        wide = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p} is not a readable CSV ({str(exc).splitlines()[0]})") from None
    wide.columns = _unique([str(c).strip() for c in wide.columns])
    step = step_column(wide.columns, step_col, str(p))
    step_values = pd.to_numeric(wide[step], errors="coerce")
    notes = []
    keep = step_values.notna()
    if (~keep).any():
        notes.append(f"{p}: {int((~keep).sum())} row(s) without a numeric {step!r} were skipped")
    chart = [c for c in wide.columns if c != step and _WANDB_CHART.match(c)]
    is_chart = step == "Step" and chart and len(chart) == len(wide.columns) - 1
    parts, skipped, odd = [], [], Counter()
    for col in wide.columns:
        if col == step or not is_metric(col, step):
            continue
        run, metric = _run_name(p), col
        if is_chart:
            m = _WANDB_CHART.match(col)
            if m.group("agg"):  # W&B's min/max band around a smoothed line; the line itself is kept
                continue
            run, metric = m.group("run"), m.group("metric")
        raw = wide[col][keep]
        present = raw.str.strip() != ""
        if not present.any():
            continue
        num = pd.to_numeric(raw[present], errors="coerce")
        bad_text = num.isna() & ~raw[present].str.strip().str.lower().isin(["nan", "inf", "-inf", "+inf"])
        if bad_text.mean() > 0.5:
            skipped.append(col)
            continue
        ok = ~bad_text  # cells reading nan/inf stay, as logged non-finite values
        if bad_text.any():
            odd[metric] += int(bad_text.sum())
        part = pd.DataFrame(
            {
                "step": step_values[keep][present][ok].to_numpy(float),
                "metric": metric,
                "value": num[ok].to_numpy(float),
            }
        )
        parts.append(stamp(part.reset_index(drop=True), run, None, str(p)))
    if skipped:
        notes.append(f"{p}: ignored non-numeric column(s) {listing(skipped, 6)}")
    if odd:
        what = ", ".join(f"{m} ({n})" for m, n in odd.most_common(6))
        notes.append(f"{p}: dropped {sum(odd.values())} non-numeric cell(s): {what}")
    if not parts:
        raise UsageError(f"{p}: no numeric metric columns besides the step column {step!r}")
    return pd.concat(parts, ignore_index=True), notes


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (``a``, ``a.1``): stripping spaces can make two headers one."""
    seen: Counter = Counter()
    out = []
    for n in names:
        out.append(n if not seen[n] else f"{n}.{seen[n]}")
        seen[n] += 1
    return out


def _read_tensorboard(d: Path) -> tuple[pd.DataFrame, list[str]]:
    try:
        from tensorboard.backend.event_processing import event_accumulator
        from tensorboard.util import tensor_util
    except ImportError:
        raise UsageError(
            "reading TensorBoard logs needs the tensorboard package: pip install 'phasescope[tensorboard]'"
        ) from None
    parts = []
    run_dirs = sorted({f.parent for f in d.rglob("*tfevents*") if f.is_file()})
    for rd in run_dirs:
        ea = event_accumulator.EventAccumulator(str(rd), size_guidance={"scalars": 0, "tensors": 0})
        try:
            ea.Reload()
        except Exception as exc:  # noqa: BLE001 - corrupt event files raise assorted errors
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise UsageError(f"cannot read TensorBoard events in {rd}: {why}") from None
        run = d.name if rd == d else str(rd.relative_to(d))
        steps, metrics, values = [], [], []
        tags = ea.Tags()
        for tag in tags.get("scalars", []):
            for ev in ea.Scalars(tag):
                steps.append(ev.step)
                metrics.append(tag)
                values.append(ev.value)
        for tag in tags.get("tensors", []):  # TF2-style scalar summaries arrive as 0-d tensors
            for ev in ea.Tensors(tag):
                arr = tensor_util.make_ndarray(ev.tensor_proto)
                if arr.ndim == 0 and np.issubdtype(arr.dtype, np.number):
                    steps.append(ev.step)
                    metrics.append(tag)
                    values.append(float(arr))
        long = pd.DataFrame({"step": np.asarray(steps, float), "metric": metrics, "value": values})
        parts.append(stamp(long, run, None, str(rd)))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return frame, []


# ----------------------------------------------------------------------------------------------
# Cleaning


def clean_frame(long: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Sort, de-duplicate and check a long frame; returns it with notes on what was changed."""
    notes: list[str] = []
    if long.empty:
        return long.reindex(columns=COLUMNS), notes
    long = long.reset_index(drop=True)
    far = np.abs(long["step"].to_numpy(float)) > MAX_ABS_STEP
    if far.any():
        notes.append(
            f"dropped {int(far.sum())} value(s) at steps beyond ±{MAX_ABS_STEP:g} (not usable steps)"
        )
        long = long[~far].reset_index(drop=True)
    values = long["value"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (np.abs(values) > MAX_ABS_VALUE)
    empty: dict[str, int] = {}
    if bad.any():
        counts = Counter(long.loc[bad, "metric"])
        what = ", ".join(f"{m} ({n})" for m, n in counts.most_common(6))
        huge = " or beyond ±1e150" if (np.abs(values[bad]) > MAX_ABS_VALUE).any() else ""
        notes.append(f"dropped {int(bad.sum())} NaN/inf{huge} value(s): {what}")
        finite_metrics = set(long.loc[~bad, "metric"])
        empty = {m: n for m, n in counts.items() if m not in finite_metrics}
        long = long[~bad]
    if "world" not in long.columns:  # a reader that predates world draws
        long.insert(2, "world", np.zeros(len(long), dtype=np.int64))
    keys = ["run", "world", "seed", "metric"]
    order = long.groupby(keys, dropna=False, sort=False)["step"].transform(lambda s: s.diff().lt(0).any())
    unsorted = sorted(long.loc[order.astype(bool), "run"].astype(str).unique())
    if unsorted:
        notes.append(f"rows were not in step order in {listing(unsorted, 4)}; sorted by step")
    long = long.sort_values([*keys, "step"], kind="stable")
    dup = long.duplicated([*keys, "step"], keep="last")
    if dup.any():
        # Count steps, not values: a re-logged step repeats every metric of its row.
        steps = long.loc[dup, ["run", "world", "seed", "step"]].drop_duplicates()
        where = Counter(steps["run"].astype(str))
        what = ", ".join(f"{r} ({n})" for r, n in where.most_common(4))
        notes.append(
            f"{len(steps)} duplicated step(s) in {what}; kept the last value logged at each step "
            "(a resumed run re-logs steps)"
        )
        long = long[~dup]
    notes += _gap_notes(long, keys)
    frame = long.reset_index(drop=True)[COLUMNS]
    frame.attrs["all_nonfinite"] = empty  # metrics logged only as NaN/inf, for a clear error later
    return frame, notes


def _gap_notes(long: pd.DataFrame, keys: list[str]) -> list[str]:
    worst: dict[str, tuple[float, float, float]] = {}
    for (run, *_), g in long.groupby(keys, dropna=False, sort=False):
        s = g["step"].to_numpy()
        if len(s) < 10:
            continue
        d = np.diff(s)
        med = float(np.median(d))
        i = int(np.argmax(d))
        if med > 0 and d[i] > 10 * med and d[i] / med > worst.get(str(run), (0.0,))[0]:
            worst[str(run)] = (d[i] / med, s[i], s[i + 1])
    return [
        f"{run}: a gap in the steps from {_fmt(a)} to {_fmt(b)} ({ratio:.0f}x the usual spacing)"
        for run, (ratio, a, b) in worst.items()
    ]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
