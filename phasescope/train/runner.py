"""`phasescope run`: one experiment directory, the shared base model built once, every (arm, seed) trained.

    runs/<experiment>/experiment.json              resolved config, versions, git commit, start time
    runs/<experiment>/<arm>/seed<k>/metrics.jsonl  one row per optimizer step (append-only)
    runs/<experiment>/<arm>/seed<k>/tokens.jsonl   token-divergence probe, one record per evaluation
    runs/<experiment>/<arm>/seed<k>/train.log      the worker's own output
    runs/<experiment>/<arm>/world<w>-seed<k>/...    the same for world draw w >= 1 (--world-seeds)

The parent prepares the directory (`runlog/experiment.py`), builds (or loads) the embedded world's
base model once per world draw, and hands the (arm, seed, world draw) jobs to the worker pool
(`train/pool.py`); each worker calls `train_one` (`train/train_one.py`). `summarize` and
`format_summary` make the table the CLI prints.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from phasescope.arms import is_two_stage, run_length
from phasescope.config import Config
from phasescope.errors import UsageError
from phasescope.preflight import run_preflight
from phasescope.runlog.experiment import arm_dir, note_resumed, write_experiment_json
from phasescope.runlog.reader import read_metrics
from phasescope.train.args import check_trl_fields
from phasescope.train.pool import ArmResult, run_pool
from phasescope.train.stages import sft_stage_length
from phasescope.world import build_world, draw_world


def prepare_dir(cfg: Config, exp_dir: Path, overwrite: bool, resume: bool) -> None:
    """Create the run directory and its experiment.json, or (with `resume`) note the resumption."""
    if resume:
        if overwrite:
            raise UsageError("--resume continues a run and --overwrite deletes it: pass one of them")
        note_resumed(cfg, exp_dir)
        return
    if exp_dir.exists() and any(exp_dir.iterdir()):
        if not overwrite:
            raise UsageError(
                f"run directory {exp_dir} already exists; continue it with --resume, "
                "replace it with --overwrite, or choose another --out/--name"
            )
        shutil.rmtree(exp_dir)
    try:
        exp_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the run directory {exp_dir}: {exc.strerror}; choose another --out"
        ) from None
    write_experiment_json(exp_dir, cfg)


def run_experiment(
    cfg: Config, exp_dir: Path, log=print, overwrite: bool = False, resume: bool = False
) -> list[ArmResult]:
    """Build the base once per world draw, then train every (arm, seed, world draw) in worker processes;
    return their results.

    With `resume`, runs that finished (a DONE file) are skipped, the others continue from
    their last checkpoint (`train_one(resume=True)`). SIGINT/SIGTERM stop every worker, then raise
    `pool.Interrupted`.
    """
    if cfg.experiment.world_seeds > 1 and cfg.model.model_name_or_path:
        raise UsageError(
            f"experiment.world_seeds = {cfg.experiment.world_seeds} redraws the embedded world, but this run "
            "uses model.model_name_or_path; drop --world-seeds (use --seeds for replicates)"
        )
    run_preflight(cfg)  # model, data, overlaps, lengths: a usage error before anything is written
    if cfg.trl:  # a typo in [trl] is one error here, not a failure in every worker
        check_trl_fields(cfg.trl)
    prepare_dir(cfg, exp_dir, overwrite, resume)
    draws = range(cfg.experiment.world_seeds)
    if not cfg.model.model_name_or_path:
        for w in draws:  # every draw's base is built (or found in the cache) before any worker starts
            build_world(draw_world(cfg.world, w), log=log)
    jobs = [(a, s, w) for w in draws for s in range(cfg.experiment.seeds) for a in cfg.experiment.arms]
    results = []
    if resume:
        for arm, seed, w in list(jobs):
            out = arm_dir(exp_dir, arm, seed, w)
            if (out / "DONE").exists():
                jobs.remove((arm, seed, w))
                results.append(ArmResult(arm, seed, True, 0.0, read_metrics(out / "metrics.jsonl"), w))
                log(f"skipped {arm}/{out.name} (finished before)")
    # A two-stage arm's axis is its SFT stage plus an RL stage as long as the rl arm's (at most, for best/auto).
    lengths = {a: _axis_length(cfg, a) for a in cfg.experiment.arms}
    world = not cfg.model.model_name_or_path
    return results + run_pool(jobs, exp_dir, cfg.experiment.workers, lengths, resume, log, world=world)


def _axis_length(cfg: Config, arm: str) -> int:
    """The arm's step axis for the progress bars; one pass over the expert set ("epoch") is known
    before training when the expert set's size is (the world's, or data.n_expert as an upper bound)."""
    a, steps = cfg.arms[arm], cfg.train.max_steps
    n_expert = cfg.data.n_expert if cfg.model.model_name_or_path else cfg.world.n_expert
    if cfg.train.stage_budget == "within":
        return steps  # the SFT stage's updates come out of the arm's budget
    if is_two_stage(a) and a.sft_steps == "epoch" and n_expert > 0:
        return steps + sft_stage_length("epoch", n_expert, cfg.train.expert_batch_size, steps)
    return run_length(a, steps)


def summarize(results: list[ArmResult], metric: str = "eval/accuracy") -> list[dict[str, Any]]:
    """Per (arm, seed): base, minimum, peak and final of `metric`, steps and wall time."""
    table = []
    for r in results:
        pts = [(row["step"], row[metric]) for row in r.rows if metric in row]
        entry = {
            "arm": r.arm,
            "seed": r.seed,
            "world": r.world,
            "ok": r.ok,
            "steps": r.rows[-1]["step"] if r.rows else 0,
            "seconds": round(r.seconds, 1),
        }
        if pts:
            vals = [v for _, v in pts]
            lo = min(range(len(vals)), key=vals.__getitem__)
            hi = max(range(len(vals)), key=vals.__getitem__)
            entry.update(
                base=vals[0],
                min=vals[lo],
                min_step=pts[lo][0],
                peak=vals[hi],
                peak_step=pts[hi][0],
                final=vals[-1],
            )
        table.append(entry)
    return table


def format_summary(table: list[dict[str, Any]]) -> list[str]:
    """The lines of the per-arm table `phasescope run` prints (the arm column fits the longest name;
    a run of world draw w >= 1 reads `<arm> w<w>`)."""
    names = [r["arm"] + (f" w{r['world']}" if r.get("world") else "") for r in table]
    w = max([13, *(len(n) + 2 for n in names)])
    lines = [
        f"{'arm':<{w}}{'seed':>5}{'base':>7}{'min':>7}{'@step':>7}{'peak':>7}{'@step':>7}{'final':>7}"
        f"{'steps':>7}{'wall s':>8}"
    ]
    for name, r in zip(names, table):
        if "base" not in r:
            lines.append(f"{name:<{w}}{r['seed']:>5}  failed (see its train.log)")
            continue
        lines.append(
            f"{name:<{w}}{r['seed']:>5}{r['base']:>7.3f}{r['min']:>7.3f}{r['min_step']:>7}{r['peak']:>7.3f}"
            f"{r['peak_step']:>7}{r['final']:>7.3f}{r['steps']:>7}{r['seconds']:>8.0f}"
        )
    return lines
