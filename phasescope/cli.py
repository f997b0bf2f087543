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
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
