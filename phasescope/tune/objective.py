"""One tuning trial: the arm trained by `phasescope run`'s own path at the trial's values, scored on dev.

A trial is an experiment directory of its own, `<tune dir>/<arm>/trials/<number>/` (experiment.json,
`<arm>/seed<k>/metrics.jsonl`, train.log), trained by `train.runner.run_experiment`: the preflight,
the cached world, and the worker pool with its single-thread processes, `experiment.workers` at a
time (the seeds of one trial run side by side). Three settings are the trial's own (`TRIAL_SETTINGS`):

- `train.eval_heldout = false`: the held-out sets are never evaluated, so nothing a trial logs or
  reads is a held-out number, and each evaluation costs the dev split instead (256 problems in the
  world, one greedy pass and one NLL);
- `train.probes = false` and `train.save_steps = 0`: no token probe and no checkpoint, which a score
  does not need (a killed trial is marked failed and a new one is drawn; it is not resumed).

The score is `dev/accuracy`, the mean of the last `LAST_EVALS` dev evaluations (the base model's
step-0 evaluation excluded), averaged over the trial's seeds. Every trial of an arm runs the same
budget (`train.max_steps`), so the end of the run is the matched budget; the mean of three
evaluations rather than the last one, because one evaluation of 256 problems carries a binomial
noise of about ±0.03 and a single lucky evaluation should not pick the values. A run still climbing
at its end scores lower than one on its plateau, which is what tuning at a fixed budget should reward.

`dev_curve` is the one place a trial's metrics are read (a test spies on it: no `eval/*` key is read).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasescope.config import Config, load_config
from phasescope.errors import UsageError

TRIAL_SETTINGS = ("train.eval_heldout=false", "train.probes=false", "train.save_steps=0")
SCORE_METRIC = "dev/accuracy"
LAST_EVALS = 3
SCORE_TEXT = f"{SCORE_METRIC}, mean of the last {LAST_EVALS} dev evaluations, mean over seeds"


@dataclass
class TrialResult:
    ok: bool
    score: float | None = None
    seed_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


def dev_curve(rows: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, dev/accuracy) of every dev evaluation after step 0: all a trial's score reads."""
    return [(row["step"], row[SCORE_METRIC]) for row in rows if SCORE_METRIC in row and row["step"] > 0]


def dev_score(rows: list[dict[str, Any]], last: int = LAST_EVALS) -> float | None:
    """The mean of the last `last` dev evaluations of one run (None: the run evaluated none)."""
    tail = [v for _, v in dev_curve(rows)[-last:]]
    return sum(tail) / len(tail) if tail else None


def trial_config(
    config: str | None,
    overrides: list[str],
    arm: str,
    values: dict[str, Any],
    exp_dir: Path,
    seeds: int,
    workers: int | None,
) -> Config:
    """The config of one trial: the tuned config, the trial's settings, then the trial's values."""
    sets = with_values([*overrides, *TRIAL_SETTINGS], values)
    options = {
        "experiment.arms": [arm],
        "experiment.seeds": seeds,
        "experiment.wandb": "off",  # trials are scratch work; the run with the chosen values is the record
        "experiment.name": exp_dir.name,
        "experiment.out": str(exp_dir.parent),
    }
    if workers is not None:
        options["experiment.workers"] = workers
    return load_config(config, sets, options)


def with_values(overrides: list[str], values: dict[str, Any]) -> list[str]:
    """`--set` texts: `overrides`, then `values`; a tuned expert ratio drops a given expert_batch_size
    (the ratio sets it, and the config refuses both)."""
    from phasescope.tune.space import as_overrides

    sets = list(overrides)
    if "train.expert_data_ratio" in values:
        sets = [s for s in sets if not s.replace(" ", "").startswith("train.expert_batch_size=")]
    return sets + as_overrides(values)


def run_trial(cfg: Config, exp_dir: Path, log=print) -> TrialResult:
    """Train the trial's arm over its seeds (`run_experiment`) and score it on the dev split."""
    from phasescope.train.runner import run_experiment  # torch: imported when a trial runs

    t0 = time.perf_counter()
    results = run_experiment(cfg, exp_dir, log=log, overwrite=True)
    seconds = time.perf_counter() - t0
    failed = [f"{r.arm}/seed{r.seed}" for r in results if not r.ok]
    if failed:
        return TrialResult(
            False, seconds=seconds, error=f"training failed: {', '.join(failed)} (see train.log)"
        )
    scores = [dev_score(r.rows) for r in sorted(results, key=lambda r: r.seed)]
    if any(s is None for s in scores):
        return TrialResult(False, seconds=seconds, error=f"no {SCORE_METRIC} after step 0 was logged")
    return TrialResult(True, sum(scores) / len(scores), scores, seconds)


def check_dev_split(cfg: Config) -> None:
    """A real model's trials need `data.dev` (the embedded world has its dev split)."""
    if cfg.model.model_name_or_path and not cfg.data.dev:
        raise UsageError(
            "phasescope tune scores trials on a dev split and never on the held-out set: set data.dev "
            "(a source disjoint from data.eval)"
        )
