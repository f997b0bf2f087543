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
