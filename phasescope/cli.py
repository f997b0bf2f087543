"""The `phasescope` command line: parse, call the library, print. No science lives here."""

from __future__ import annotations

import os
import sys

import typer

from phasescope.errors import PhasescopeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Train SFT/RL/CHORD arms, and read their learning curves as shift, readapt and overfit phases.",
)


@app.command()
def segment(
    path: str = typer.Argument(..., help="Run/experiment dir, log file, or wandb:entity/project/run_id."),
    metric: str = typer.Option(None, "--metric", "-m", help="Metric to segment; omit to list metrics."),
    json_out: str = typer.Option(None, "--json", help="Write the segment JSON here ('-' for stdout)."),
    direction: str = typer.Option(None, "--direction", help="higher|lower is better (default: from name)."),
    step_col: str = typer.Option(None, "--step-col", help="Step column of a CSV/JSONL, if not detected."),
) -> None:
    """Read a learning curve as phases (shift, readapt, overfit, rise, plateau) with changepoint CIs."""
    import json

    from phasescope.analysis import format_table, load_curves, metric_table, segment_frame
    from phasescope.errors import UsageError

    if direction is not None and direction not in ("higher", "lower"):
        raise UsageError(f"--direction must be 'higher' or 'lower', not {direction!r}")
    frame, notes = load_curves(path, step_col=step_col)
    if frame.empty:
        raise PhasescopeError(f"{path}: no finite metric values found")
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    if metric is None:
        table = metric_table(frame)
        typer.echo(f"{len(table)} metrics in {path} (pass one with --metric):")
        for row in table.itertuples():
            pts = row.min_points if row.min_points == row.max_points else f"{row.min_points}-{row.max_points}"
            typer.echo(f"  {row.metric:<40} {row.curves} curve(s), {pts} points")
        return
    results, notes = segment_frame(frame, metric, direction)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    if json_out != "-":
        typer.echo("\n\n".join(format_table(r) for r in results))
    if json_out is not None:
        text = json.dumps(results, indent=2)
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
    out: str = typer.Option(None, "--out", help="Parent folder of the run directory (default: runs)."),
    name: str = typer.Option(None, "--name", help="Experiment name (the run directory's name)."),
    overrides: list[str] = typer.Option(
        None, "--set", help="Override a field: --set train.lr=1e-4 (repeatable)."
    ),
    workers: int = typer.Option(None, "--workers", help="Arms trained at once (one process each)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run directory."),
) -> None:
    """Train the arms (sft, rl, sft_then_rl, chord_mu, chord_phi) and print a per-arm summary."""
    import time
    from pathlib import Path

    from phasescope.config import load_config

    sets = list(overrides or [])
    if arms is not None:
        names = [a.strip() for a in arms.split(",") if a.strip()]
        sets.append("experiment.arms=[" + ",".join(f'"{a}"' for a in names) + "]")
    for key, value in (("seeds", seeds), ("out", out), ("name", name), ("workers", workers)):
        if value is not None:
            sets.append(f"experiment.{key}={value!r}".replace("'", '"'))
    cfg = load_config(config, sets)
    from phasescope.train.run import run_experiment, summarize

    exp_dir = Path(cfg.experiment.out) / cfg.experiment.name
    t0 = time.perf_counter()
    results = run_experiment(cfg, exp_dir, log=typer.echo, overwrite=overwrite)
    table = summarize(results)
    typer.echo("")
    typer.echo(
        f"{'arm':<13}{'seed':>5}{'base':>7}{'min':>7}{'@step':>7}{'peak':>7}{'@step':>7}{'final':>7}"
        f"{'steps':>7}{'wall s':>8}"
    )
    for r in table:
        if "base" not in r:
            typer.echo(f"{r['arm']:<13}{r['seed']:>5}  failed (see its train.log)")
            continue
        typer.echo(
            f"{r['arm']:<13}{r['seed']:>5}{r['base']:>7.3f}{r['min']:>7.3f}{r['min_step']:>7}{r['peak']:>7.3f}"
            f"{r['peak_step']:>7}{r['final']:>7.3f}{r['steps']:>7}{r['seconds']:>8.0f}"
        )
    typer.echo(f"held-out accuracy (eval/accuracy); total wall time {time.perf_counter() - t0:.0f} s")
    typer.echo(f"run directory: {exp_dir}")
    if not all(r.ok for r in results):
        raise PhasescopeError("some arms failed; their train.log files say why")


def main() -> None:
    """Console-script entry: user errors become one line and an exit code, never a traceback."""
    debug = "--debug" in sys.argv or os.environ.get("PHASESCOPE_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    try:
        app(standalone_mode=False)
    except PhasescopeError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Usage errors (unknown option, bad value) arrive here in non-standalone mode. typer may bundle
        # its own click, so match the exception's shape rather than click's class.
        if hasattr(exc, "show") and hasattr(exc, "exit_code") and not debug:
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
