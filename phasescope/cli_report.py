"""The body of `phasescope report` (the command and its options are declared in cli.py, which is
near the module size limit): build the report, print where it went and the verdict, upload to W&B
when asked. Imports the library inside the function so that `phasescope --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer


def run_report(
    path: str, out: str | None, metric: list[str] | None, wandb: str | None, budget_axis: str | None
):
    """Write report.html, report.md and figures for ``path``; ``wandb`` is the resolved mode."""
    from phasescope.report import build_report
    from phasescope.report.wandb_upload import upload_analysis

    rep = build_report(path, out, metric or None, budget_axis=budget_axis)
    for note in rep.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(rep.compare["verdict"])
    typer.echo(
        f"wrote {rep.html}, {rep.markdown} and {len(rep.figures)} figures in {rep.out_dir / 'figures'}"
    )
    name = rep.experiment.get("name") or Path(path).name
    wdir = path if Path(path).is_dir() else rep.out_dir
    first = next(iter(rep.analyses.values()))
    if upload_analysis(first, rep.figures, wandb, group=name, config=rep.experiment.get("config"), dir=wdir):
        typer.echo("W&B: analysis run logged")
