"""The `phasescope` command line: parse, call the library, print. No science lives here.

The library never imports this module. Each command imports what it runs inside its body, so that
`phasescope --help` and a bad option answer without importing torch, transformers or pandas.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import typer

from phasescope.cli_options import Direction, WandbMode, _eval_n, _value, arm_list
from phasescope.cli_tune import tune
from phasescope.config import load_config
from phasescope.errors import PhasescopeError
from phasescope.version import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Train SFT/RL/CHORD arms, and read their learning curves as shift, readapt and overfit phases.",
)


_WANDB_HELP = "wandb:entity/project/run_id or wandb:entity/project/group"
_AXIS_HELP = (
    "Budget axis arms are matched and plotted on: updates (default), samples, tokens, selection or step."
)


def _print_version(flag: bool) -> None:
    if flag:
        typer.echo(f"phasescope {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (also PHASESCOPE_DEBUG=1); any position."
    ),
) -> None:
    """Train SFT/RL/CHORD arms, and read their learning curves as shift, readapt and overfit phases."""


@app.command()
def segment(
    path: str = typer.Argument(..., help=f"Run/experiment dir, log file, {_WANDB_HELP}."),
    metric: str = typer.Option(None, "--metric", "-m", help="Metric to segment; omit to list metrics."),
    json_out: str = typer.Option(None, "--json", help="Write the segment JSON here ('-' for stdout)."),
    direction: Direction = typer.Option(
        None, "--direction", help="Which way is better (default: from the name)."
    ),
    step_col: str = typer.Option(None, "--step-col", help="Step column of a CSV/JSONL, if not detected."),
    eval_n: str = typer.Option(
        None,
        "--eval-n",
        help="Problems in the eval set the metric is a rate on: changes within its binomial noise are "
        "not called phases (default: from the run's experiment.json / data.json).",
    ),
) -> None:
    """Read a learning curve as phases (shift, readapt, overfit, improve, plateau) with changepoint CIs.
    Stage switches logged by phasescope (SFT -> RL) are known changepoints: each stage is read on its own."""
    from phasescope.analysis import analyse, format_table, open_experiment
    from phasescope.analysis.jsonsafe import dumps
    from phasescope.errors import UsageError

    n_eval = _eval_n(eval_n)
    exp = open_experiment(path, step_col=step_col)
    for note in exp.notes:
        typer.echo(f"note: {note}", err=True)
    if metric is None:
        table = exp.metrics()
        typer.echo(f"{len(table)} metrics in {path} (pass one with --metric):")
        for row in table.itertuples():
            pts = row.min_points if row.min_points == row.max_points else f"{row.min_points}-{row.max_points}"
            typer.echo(f"  {row.metric:<40} {row.curves} curve(s), {pts} points")
        return
    result = analyse(exp, metric, direction=_value(direction), eval_n=n_eval)
    if result.phase_error:  # the curve itself cannot be read as phases (too few points): the input's
        raise UsageError(result.phase_error)
    results = result.phases
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if json_out != "-":
        typer.echo("\n\n".join(format_table(r) for r in results))
    if json_out is not None:
        text = dumps(results, indent=2)
        if json_out == "-":
            typer.echo(text)
        else:
            try:
                with open(json_out, "w", encoding="utf-8") as fh:
                    fh.write(text + "\n")
            except OSError as exc:
                raise UsageError(f"cannot write {json_out}: {exc.strerror}") from None


@app.command()
def run(
    config: str = typer.Argument(
        None, help="Experiment TOML (default: the embedded world, experiments/default.toml)."
    ),
    arms: str = typer.Option(
        None, "--arms", help="Comma-separated arms to run (default: all in the config)."
    ),
    seeds: int = typer.Option(None, "--seeds", help="Seeds per arm."),
    world_seeds: int = typer.Option(None, "--world-seeds", help="World draws (embedded world) per seed."),
    out: str = typer.Option(None, "--out", help="Parent folder of the run directory (default: runs)."),
    name: str = typer.Option(None, "--name", help="Experiment name (the run directory's name)."),
    overrides: list[str] = typer.Option(
        None, "--set", help="Override a field: --set train.learning_rate=1e-4 (repeatable)."
    ),
    workers: int = typer.Option(None, "--workers", help="Arms trained at once (one process each)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an interrupted run directory: finished arms are skipped, the others continue "
        "from their last checkpoint (the stored config is used).",
    ),
    wandb: WandbMode = typer.Option(
        None, "--wandb", help="Mirror to W&B (default: experiment.wandb, off; WANDB_MODE respected)."
    ),
) -> None:
    """Train the arms (sft, rl, sft_then_rl, chord_mu, chord_phi), print a per-arm summary and write
    the report (analysis/report.html)."""
    from phasescope.runlog.experiment import resume_config

    wandb = _value(wandb)
    chosen = arm_list(arms)
    # What to train (--arms, --seeds) and how (--workers, --wandb): not config values, never TOML text.
    selection = dict(arms=chosen, seeds=seeds, world_seeds=world_seeds, workers=workers, wandb=wandb)
    where = {"out": out, "name": name}
    if resume and not overwrite:
        # The stored config, with only the selection applied; a config file or --set may only repeat it.
        located = load_config(config, overrides, _experiment_values(where))
        exp_dir = Path(located.experiment.out) / located.experiment.name
        cfg = resume_config(exp_dir, config, overrides, selection)
    else:
        cfg = load_config(config, overrides, _experiment_values({**where, **selection}))
        exp_dir = Path(cfg.experiment.out) / cfg.experiment.name
    # Imported once the config is valid: training imports torch (seconds); a bad option answers first.
    from phasescope.train.runner import format_summary, run_experiment, summarize

    t0 = time.perf_counter()
    results = run_experiment(cfg, exp_dir, log=typer.echo, overwrite=overwrite, resume=resume)
    typer.echo("")
    for line in format_summary(summarize(results)):
        typer.echo(line)
    typer.echo(f"held-out accuracy (eval/accuracy); total wall time {time.perf_counter() - t0:.0f} s")
    typer.echo(f"run directory: {exp_dir}")
    _report_after_run(exp_dir, cfg.experiment.wandb, cfg.to_dict())
    if not all(r.ok for r in results):
        raise PhasescopeError("some arms failed; their train.log files say why")


def _experiment_values(options: dict) -> dict:
    """The given command-line options as typed [experiment] values for `load_config`."""
    return {f"experiment.{k}": v for k, v in options.items() if v is not None}


@app.command()
def launch(
    config: str = typer.Argument(None, help="Experiment TOML (default: the embedded world)."),
    arm: str = typer.Option(..., "--arm", help="Arm to train (one of the config's arms)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the arm."),
    overrides: list[str] = typer.Option(
        None, "--set", help="Override a field: --set train.learning_rate=1e-4 (repeatable)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the arm from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the arm's existing steps."),
) -> None:
    """Train one arm on every process of an `accelerate launch` (DDP, DeepSpeed ZeRO, FSDP):
    accelerate launch [...] -m phasescope.cli launch CONFIG.toml --arm chord_phi."""
    from phasescope.train.worker import launch as launch_arm

    # Only the launched arm is validated: another arm's settings must not stop this one.
    cfg = load_config(config, overrides, {"experiment.arms": [arm]})
    launch_arm(cfg, arm, seed, resume=resume, overwrite=overwrite)


@app.command()
def check(
    config: str = typer.Argument(None, help="Experiment TOML (default: the embedded world)."),
    arms: str = typer.Option(None, "--arms", help="Comma-separated arms to check (default: the config's)."),
    overrides: list[str] = typer.Option(
        None, "--set", help="Override a field: --set model.model_name_or_path=/models/qwen (repeatable)."
    ),
) -> None:
    """Check a config before the GPU hour: model and tokenizer resolve, data opens with its fields, the
    sets are disjoint, expert lengths fit, the evaluation cost. Prints a summary; trains nothing."""
    from phasescope.preflight import check_command

    chosen = arm_list(arms)
    code = check_command(config, overrides, chosen, out=typer.echo, err=lambda t: typer.echo(t, err=True))
    if code:
        sys.exit(
            code
        )  # the errors are printed already (typer.Exit's code is dropped outside standalone mode)


@app.command(hidden=True)
def worker(
    exp_dir: str = typer.Argument(..., help="Experiment directory (holds experiment.json)."),
    arm: str = typer.Argument(..., help="Arm to train."),
    seed: int = typer.Argument(..., help="Seed."),
    threads: int = typer.Argument(..., help="Torch threads."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
    world: int = typer.Option(0, "--world", help="World draw (experiment.world_seeds)."),
) -> None:
    """One (arm, seed, world draw) of `phasescope run`, in its own process (started by `run`)."""
    from phasescope.train.worker import run_worker

    run_worker(Path(exp_dir), arm, seed, threads, resume, world)


def _report_after_run(exp_dir, wandb_mode: str, config: dict) -> None:
    """The report for what `run` just trained. A failure here is one warning: the training data
    on disk is the record, and `phasescope report` can be rerun on it."""
    try:
        from phasescope.report import build_report
        from phasescope.report.wandb_upload import upload_analysis

        rep = build_report(exp_dir)
        typer.echo(f"report: {rep.html}")
        typer.echo(rep.compare["verdict"])
        first = next(iter(rep.analyses.values()))
        if upload_analysis(first, rep.figures, wandb_mode, group=exp_dir.name, config=config, dir=exp_dir):
            typer.echo("W&B: analysis run logged (tables, figures, phase spans)")
    except Exception as exc:  # noqa: BLE001 - never lose a finished training run to a report bug
        typer.echo(
            f"warning: report not written ({type(exc).__name__}: {exc}); "
            f"the runs are intact, retry with: phasescope report {exp_dir}",
            err=True,
        )


@app.command()
def compare(
    path: str = typer.Argument(..., help=f"Experiment directory, any log `segment` reads, or {_WANDB_HELP}."),
    metric: str = typer.Option("eval/accuracy", "--metric", "-m", help="Metric to compare arms on."),
    json_out: str = typer.Option(
        None,
        "--json",
        help="compare.json path ('-' for stdout; default <PATH>/analysis/<metric>/compare.json).",
    ),
    budget_axis: str = typer.Option("updates", "--budget-axis", help=_AXIS_HELP),
) -> None:
    """Compare arms over seeds: end points, phase statistics with CIs, pairwise tests and a verdict."""
    from pathlib import Path

    from phasescope.analysis import analyse, open_experiment
    from phasescope.analysis.jsonsafe import dumps
    from phasescope.analysis.tables import format_compare
    from phasescope.errors import UsageError
    from phasescope.report import compare_path, default_out
    from phasescope.report.matched import axis_name

    axis = axis_name(budget_axis)
    exp = open_experiment(path)
    analysis = analyse(exp, metric, budget_axis=axis)
    metric, result = analysis.metric, analysis.comparison
    for note in exp.notes + analysis.notes:
        typer.echo(f"note: {note}", err=True)
    text = dumps(result, indent=2)
    if json_out == "-":
        typer.echo(text)
        return
    typer.echo(format_compare(result))
    target = Path(json_out) if json_out else compare_path(default_out(path), metric)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    typer.echo(f"wrote {target}")


@app.command()
def report(
    path: str = typer.Argument(..., help=f"Experiment directory, any log `segment` reads, or {_WANDB_HELP}."),
    out: str = typer.Option(
        None, "--out", help="Output folder (default <PATH>/analysis; analysis/<entity-project-name> for W&B)."
    ),
    metric: list[str] = typer.Option(
        None,
        "--metric",
        "-m",
        help="Metric to read as phases (repeatable; default: eval/accuracy, eval/expert_nll and "
        "eval/general_accuracy, those logged). Each metric's compare.json goes to analysis/<metric>/.",
    ),
    wandb: WandbMode = typer.Option(WandbMode.off, "--wandb", help="Also log the analysis to W&B."),
    budget_axis: str = typer.Option(None, "--budget-axis", help=_AXIS_HELP),
) -> None:
    """Write report.html (self-contained), report.md and figures/*.png for an experiment: every
    phase-bearing metric segmented, a phase timeline, stage switches and base levels on the curves."""
    from phasescope.cli_report import run_report

    run_report(path, out, metric, _value(wandb), budget_axis)


@app.command()
def watch(
    path: str = typer.Argument(
        ..., help="Run/experiment dir, trainer_state.json, CSV/JSONL or TensorBoard dir."
    ),
    metric: str = typer.Option("eval_loss", "--metric", "-m", help="Metric to follow."),
    direction: str = typer.Option(None, "--direction", help="higher|lower is better (default: from name)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line per event."),
    until_idle: float = typer.Option(
        None, "--until-idle", help="Stop after this many seconds without growth."
    ),
    wait: bool = typer.Option(False, "--wait", help="PATH may not exist yet: wait for it."),
    poll: float = typer.Option(0.5, "--poll", help="Seconds between reads."),
    step_col: str = typer.Option(None, "--step-col", help="Step column of a CSV/JSONL, if not detected."),
    eval_n: int = typer.Option(
        None, "--eval-n", min=1, help="Eval-set size of a rate (default: from a phasescope run's files)."
    ),
) -> None:
    """Follow a log as it grows and print each confirmed phase change (shift, readapt, improve, overfit)."""
    from phasescope.watch import watch as follow_log

    code = follow_log(
        path,
        metric,
        direction,
        as_json=json_out,
        until_idle=until_idle,
        wait=wait,
        poll=poll,
        step_col=step_col,
        eval_n=eval_n,
    )
    raise typer.Exit(code)


app.command("tune")(tune)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: user errors become one line and an exit code, never a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PHASESCOPE_DEBUG") == "1"
    if "--debug" in args:
        args.remove("--debug")
    try:
        with warnings.catch_warnings():
            if not debug:  # numpy/scipy warnings on odd data are not the user's to read; notes say it
                warnings.simplefilter("ignore")
            app(args=args, standalone_mode=False)
    except PhasescopeError as exc:
        if debug:
            raise
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)  # one line, whatever it quotes
        sys.exit(exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        # Usage errors (unknown option, bad value) arrive here in non-standalone mode. typer may bundle
        # its own click, so match the exception's shape rather than click's class.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                exc.show()  # bare `phasescope`: the help, as click shows it
                sys.exit(exc.exit_code)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(exc, OSError):
            # The environment, not a bug: a path that cannot be read or written, a full disk.
            where = f": {exc.filename}" if exc.filename else ""
            typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
            sys.exit(2 if isinstance(exc, _PATH_ERRORS) else 1)
        # A bug: one line that says so (the traceback is one --debug away), exit 1.
        what = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        typer.echo(
            f"error: internal error ({what}); this is a bug in phasescope: rerun with --debug "
            "for the traceback and report it",
            err=True,
        )
        sys.exit(1)


_PATH_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


if __name__ == "__main__":
    main()
