"""Log the analysis of an experiment to W&B as one more run in its group (``job_type`` = "analysis"):
the phase, arm, pairwise and matched-budget ranking tables as W&B Tables, the report figures as images and the phase spans
as summary values (``phase/<arm>/<label>/start_step`` ...), so a dashboard can chart and filter them.

(Writing the spans into each training run's own summary would need resuming five-plus runs after the
fact; one analysis run keeps it to one extra init, and its tables carry the per-seed spans with arm
and seed columns to filter on.) Renders an ``Analysis`` (or its comparison dict); computes nothing.
Every W&B failure is one warning, as for the training mirror (``runlog.wandb_mirror``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasescope.analysis.pipeline import Analysis
from phasescope.analysis.tables import comparison_tables, span_table
from phasescope.report.matched import matched_table
from phasescope.runlog.wandb_mirror import WandbMirror, _warn


def summary_values(compare: dict) -> dict[str, Any]:
    """Flat summary keys: mean phase spans per arm (from the mean curve) and end points."""
    out: dict[str, Any] = {"verdict": compare["verdict"], "metric": compare["metric"]}
    for arm, a in compare["arms"].items():
        out[f"final/{arm}"] = a["final"]["mean"]
        out[f"best/{arm}"] = a["best"]["mean"]
        for p in (a.get("segmentation") or {}).get("phases", []):
            key = f"phase/{arm}/{p['label']}"
            if f"{key}/start_step" in out:
                continue  # a repeated label (e.g. two plateaus): keep the first span
            out[f"{key}/start_step"] = p["start_step"]
            out[f"{key}/end_step"] = p["end_step"]
            for k in ("depth", "decline", "gain", "recover_step"):
                if p.get(k) is not None:
                    out[f"{key}/{k}"] = p[k]
    return out


def upload_analysis(
    analysis: Analysis | dict,
    figures: dict[str, Path],
    mode: str | None,
    *,
    group: str,
    config: dict | None = None,
    dir=None,
    warn=_warn,
) -> bool:
    """Log the analysis of an experiment (an ``Analysis`` or its comparison) as one W&B run; True
    when it was written."""
    compare = analysis.comparison if isinstance(analysis, Analysis) else analysis
    mirror = WandbMirror(
        mode, group=group, job_type="analysis", name=f"{group}/analysis", config=config, dir=dir, warn=warn
    )
    if not mirror.active:
        return False
    try:
        import wandb

        run = mirror.run
        matched = matched_table(compare)  # None for a comparison written before budgets existed
        for t in [*comparison_tables(compare), span_table(compare), *([matched] if matched else [])]:
            run.log({f"tables/{t.name}": wandb.Table(columns=t.columns, data=t.values())})
        run.log({f"figures/{name}": wandb.Image(str(path), caption=name) for name, path in figures.items()})
        run.summary.update(summary_values(compare))
    except Exception as exc:  # noqa: BLE001
        mirror._fail(f"analysis upload failed ({type(exc).__name__}: {exc})")
        return False
    mirror.finish()
    return True
