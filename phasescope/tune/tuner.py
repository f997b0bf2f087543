"""`phasescope tune` as a library call: one study per arm, then the table, the figures and best.toml.

    <out>/<name>/                 the tune directory (default name: "<experiment name>-tune")
    <out>/<name>/<arm>/study.db   the arm's Optuna study (SQLite): rerun the command to continue it
    <out>/<name>/<arm>/trials/<n>/  trial n's experiment directory (experiment.json, metrics, train.log)
    <out>/<name>/summary.{md,json}, <arm>/knobs.png, best.toml, <arm>/best.toml   (tune/outputs.py)

The tune directory is not a run directory (it holds no experiment.json of its own), so that `phasescope
run` never mistakes one for the other; the default name keeps it beside the experiment's run directory.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasescope.config import Config, load_config
from phasescope.errors import UsageError
from phasescope.tune.figure import knob_figure
from phasescope.tune.objective import check_dev_split, run_trial, with_values
from phasescope.tune.outputs import arm_summary, best_toml, chosen_values, write_summary
from phasescope.tune.space import Knob, centred_grid, config_values, search_space, shared_keys
from phasescope.tune.study import SAMPLERS, ArmPlan, tune_arm


@dataclass
class TuneRequest:
    """What `phasescope tune` was asked (its options, as given)."""

    config: str | None = None
    arms: list[str] | None = None
    trials: int = 20
    seeds: int = 2
    out: str | None = None
    name: str | None = None
    overrides: list[str] = field(default_factory=list)
    workers: int | None = None
    sampler: str = "tpe"
    command: str = "phasescope tune"
    grid_points: int | None = None
    """--grid-points: with the grid sampler, the N half-decades around each configured rate."""
    knobs: list[str] | None = None
    """--knobs: search only these (labels: learning_rate, sft_lr, mu, ...); the rest keep config values."""


@dataclass
class TuneResult:
    tune_dir: Path
    rows: list[dict[str, Any]]
    files: list[Path]


def check_request(req: TuneRequest) -> tuple[Config, Path]:
    """The tuned config and the tune directory; a one-line UsageError for a bad request."""
    if req.trials < 1:
        raise UsageError(f"--trials must be >= 1, got {req.trials}")
    if req.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {req.seeds}")
    if req.workers is not None and req.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {req.workers}")
    if req.sampler not in SAMPLERS:
        raise UsageError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {req.sampler!r}")
    if req.arms is not None and not req.arms:
        raise UsageError("--arms names no arm")
    if req.grid_points is not None and (req.sampler != "grid" or req.grid_points < 1):
        raise UsageError(f"--grid-points needs --sampler grid and a count >= 1, got {req.grid_points}")
    cfg = load_config(req.config, req.overrides, {"experiment.arms": req.arms} if req.arms else {})
    check_dev_split(cfg)
    for arm in cfg.experiment.arms:
        _knobs(req, cfg, arm)  # an arm left with no knob to search is refused before any trial runs
    tune_dir = Path(req.out or cfg.experiment.out) / (req.name or f"{cfg.experiment.name}-tune")
    if (tune_dir / "experiment.json").exists():
        raise UsageError(f"{tune_dir} is a run directory of phasescope run; give the tune another --name")
    return cfg, tune_dir


def tune(req: TuneRequest, log=print, train=run_trial) -> TuneResult:
    """Search every requested arm (one after another); the outputs are rewritten after each arm, so
    that an interruption in a later arm keeps the table of those done (see the module doc)."""
    cfg, tune_dir = check_request(req)
    rows, files, shared = [], [], []
    for arm in cfg.experiment.arms:
        plan = _plan(req, cfg, tune_dir, arm)
        trials = tune_arm(plan, log, train).get_trials(deepcopy=False)
        budget = {"max_steps": cfg.train.max_steps, "seeds": req.seeds}
        rows.append(arm_summary(arm, trials, plan.knobs, budget))
        fig = knob_figure(arm, trials, plan.knobs, plan.arm_dir / "knobs.png")
        files += [fig] if fig else []
        if "best" in rows[-1]:
            files.append(_write_best(req, cfg, [rows[-1]], plan.arm_dir / "best.toml"))
        shared = list(write_summary(tune_dir, rows, req.command))
        if any("best" in r for r in rows):
            shared.append(_write_best(req, cfg, rows, tune_dir / "best.toml"))
    return TuneResult(tune_dir, rows, files + shared)


def _knobs(req: TuneRequest, cfg: Config, arm: str) -> list[Knob]:
    """The arm's search space, cut to `--knobs` and its grid narrowed by `--grid-points`."""
    rollouts = cfg.train.prompts_per_step * cfg.train.num_generations
    knobs = search_space(arm, cfg.arms[arm], cfg.train.max_steps, rollouts)
    if req.knobs:
        knobs = [k for k in knobs if k.label in req.knobs]
        if req.sampler == "grid":  # a categorical knob asked for by name is walked over its choices
            knobs = [dataclasses.replace(k, grid=k.choices) if k.choices else k for k in knobs]
    on_grid = [k for k in knobs if k.grid] if req.sampler == "grid" else knobs
    if not on_grid:
        has = ", ".join(k.label for k in search_space(arm, cfg.arms[arm], cfg.train.max_steps, rollouts))
        raise UsageError(f"{arm}: nothing to search with these options (its knobs: {has or 'none'})")
    if req.grid_points:
        values = config_values(arm, cfg, knobs)
        knobs = [centred_grid(k, values[k.key], req.grid_points) if k.key in values else k for k in knobs]
    return knobs


def _plan(req: TuneRequest, cfg: Config, tune_dir: Path, arm: str) -> ArmPlan:
    knobs = _knobs(req, cfg, arm)
    return ArmPlan(
        arm,
        knobs,
        req.config,
        list(req.overrides),
        tune_dir / arm,
        req.trials,
        req.seeds,
        req.workers,
        cfg.train.max_steps,
        req.sampler,
        seed=zlib.crc32(arm.encode()) % 2**16,  # arms apart: not the same first proposal for every arm
        baseline=config_values(arm, cfg, knobs),
    )


def _write_best(req: TuneRequest, cfg: Config, rows: list[dict[str, Any]], path: Path) -> Path:
    """best.toml for `rows`' arms: the tuned config with their chosen values (tune/outputs.py)."""
    rows = [r for r in rows if "best" in r]  # an arm with no completed trial is not in the file
    users: dict[str, list[str]] = {}
    for r in rows:
        for key in sorted(shared_keys(cfg.arms[r["arm"]], cfg.train.max_steps)):
            users.setdefault(key, []).append(r["arm"])
    values, notes = chosen_values(rows, users)
    arms = [r["arm"] for r in rows]
    options = {"experiment.arms": arms, "experiment.name": f"{cfg.experiment.name}-tuned"}
    best = load_config(req.config, with_values(req.overrides, values), options)
    path.write_text(best_toml(best.to_dict(), values, notes, req.command), encoding="utf-8")
    return path
