"""What a run directory, an experiment directory, a foreign log or a W&B source holds, read once.

    exp = open_experiment("runs/default")   # or a <arm>/seed<k> dir, trainer_state.json, wandb:e/p/g
    exp.frame          # tidy curves: run, seed, world, step, metric, value, source (``load_curves``)
    exp.worlds         # the world draws the source holds ([0] for one world and every foreign log)
    exp.stage_starts   # run -> first steps of its later stages (the SFT -> RL switch)
    exp.eval_sets      # eval-set name -> problems ("" = the main set)
    exp.config, exp.experiment, exp.tokens

Pure reading: nothing here analyses a curve (that is ``phasescope.analysis.analyse``). The eval-set
size sets the binomial noise of a rate: the embedded world's is ``world.n_eval`` in experiment.json;
a real run's is the row count of each eval set it wrote to ``<arm>/seed<k>/data.json`` (the first set
gives ``eval/accuracy``, a set named ``x`` gives ``eval/x_accuracy``); a W&B group mirrored by
phasescope carries experiment.json's config (a real run's data.json stays on the training machine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from phasescope.errors import UsageError
from phasescope.runlog.experiment import is_world_run, read_experiment
from phasescope.runlog.importers import load_curves
from phasescope.runlog.jsonio import as_count, read_json
from phasescope.runlog.names import is_wandb_source
from phasescope.runlog.reader import find_run_dirs, read_jsonl, run_identity, world_of
from phasescope.runlog.records import metric_table
from phasescope.runlog.wandb_reader import experiment_config

KINDS = ("run", "experiment", "log", "wandb")


@dataclass
class Experiment:
    """Everything a source holds that an analysis or a report reads. ``kind``: "run" (one
    <arm>/seed<k> dir), "experiment" (a phasescope experiment dir), "log" (a foreign log file or
    dir), "wandb" (a W&B run or group)."""

    path: str
    kind: str
    name: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    stage_starts: dict[str, list[float]] = field(default_factory=dict)
    eval_sets: dict[str, int] = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    experiment: dict = field(default_factory=dict)

    @property
    def is_wandb(self) -> bool:
        return self.kind == "wandb"

    @property
    def worlds(self) -> list[int]:
        """The world draws in the frame (``world`` column: 0 for draw 0 and for every foreign log).
        A replicate is (world, seed): draws share seed numbers, not problems."""
        return sorted(int(w) for w in pd.unique(self.frame["world"])) if "world" in self.frame else [0]

    def metrics(self) -> pd.DataFrame:
        """One row per metric: how many runs log it, and the fewest and most points per curve."""
        return metric_table(self.frame)

    @cached_property
    def tokens(self) -> dict[tuple[str, int | None], list[dict]]:
        """(arm, seed) -> rows of its tokens.jsonl, for runs that have one (read when first asked:
        the files can be large and only the report draws them)."""
        return token_snapshots(self.path) if self.kind in ("run", "experiment") else {}


def open_experiment(path, step_col: str | None = None) -> Experiment:
    """Read ``path`` once: its curves (``load_curves``), stage starts, eval-set sizes, config and
    experiment record. A source without one finite metric value is a one-line UsageError."""
    spec = str(path)
    frame, notes = load_curves(spec, step_col=step_col)
    if frame.empty:
        raise UsageError(
            f"{spec}: no finite metric values found (every value is missing, not a number, NaN or inf); "
            "check that the file is the training log"
        )
    kind = _kind(spec)
    if kind == "wandb":
        record = {"config": experiment_config(spec) or {}}
    else:
        record = read_experiment(
            spec, levels=2, notes=notes
        )  # a run dir (or its metrics.jsonl) is <exp>/<arm>/seed<k>
    config = record.get("config") or {}
    return Experiment(
        path=spec,
        kind=kind,
        name=str(record.get("name") or Path(spec).name),
        frame=frame,
        notes=notes,
        stage_starts=dict(frame.attrs.get("stage_starts") or {}),
        eval_sets=_eval_sets(spec, config, kind),
        config=config,
        experiment=record if kind != "wandb" else {},
    )


def eval_sets_of(path) -> dict[str, int]:
    """``Experiment.eval_sets`` of a run or experiment directory, without reading its curves."""
    spec = str(path)
    return _eval_sets(spec, read_experiment(spec, levels=2).get("config") or {}, _kind(spec))


def _kind(spec: str) -> str:
    if is_wandb_source(spec):
        return "wandb"
    p = Path(spec).expanduser()
    if p.name == "metrics.jsonl":  # a run's own log names its run
        p = p.parent
    if p.is_dir() and (p / "metrics.jsonl").is_file():
        return "run"
    if p.is_dir() and ((p / "experiment.json").is_file() or find_run_dirs(p)):
        return "experiment"
    return "log"


def is_real_run(config: dict) -> bool:
    """Whether a config is a real model's run (its eval sets are data files), not the world's."""
    return not is_world_run({"config": config}) or bool((config.get("data") or {}).get("eval"))


def _eval_sets(spec: str, config: dict, kind: str) -> dict[str, int]:
    """Eval-set name -> problems: data.json rows for a real run (none from W&B: that file is on
    the training machine), ``world.n_eval`` for the embedded world."""
    if is_real_run(config):
        return {} if kind == "wandb" else data_json_sizes(Path(spec))
    world = config.get("world")
    n = as_count(world.get("n_eval")) if isinstance(world, dict) else None
    return {"": n} if n else {}


def data_json_sizes(path: Path) -> dict[str, int]:
    """Eval-set name -> rows, from the first data.json of a real run ("" = the first set)."""
    base = path if path.is_dir() else path.parent
    dirs = find_run_dirs(base) or find_run_dirs(base.parent)
    for d in dirs:
        try:
            data = read_json(d / "data.json")
        except UsageError:  # absent or unreadable: the eval-set noise falls back to the residuals
            continue
        sizes: dict[str, int] = {}
        for key, val in data.items() if isinstance(data, dict) else ():
            rows = as_count(val.get("rows")) if isinstance(val, dict) else None
            if key.startswith("eval:") and rows:
                sizes.setdefault("", rows)  # the first set: eval/accuracy, eval/format_rate ...
                sizes[key.removeprefix("eval:")] = rows
        if sizes:
            return sizes
    return {}


def token_snapshots(path) -> dict[tuple[str, int | None], list[dict]]:
    """(arm, seed) -> rows of its tokens.jsonl, for runs under ``path`` that have one. World draw 0
    only: the report draws the token probe of one world (other draws probe other expert problems)."""
    out = {}
    p = Path(path)
    if not p.is_dir():
        return out
    for run_dir in find_run_dirs(p):
        if world_of(run_dir):
            continue
        f = run_dir / "tokens.jsonl"
        if f.is_file():
            try:
                rows, _ = read_jsonl(f)
            except UsageError:
                continue
            out[run_identity(run_dir)] = rows
    return out
