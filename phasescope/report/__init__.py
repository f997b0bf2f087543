"""Reports of an experiment: figures (``plots``, ``phasefigs``, ``marks``), the report's text
(``render``), the report itself (``report``) and the W&B analysis run (``wandb_upload``). Each renders
what ``phasescope.analyse`` found; none computes phases of its own.

    rep = build_report("runs/my_exp")      # writes runs/my_exp/analysis/report.html, report.md, figures/
    rep.figures["timeline"], rep.analyses["eval/expert_nll"].verdict

Never imports torch, so reports can be built wherever the logs are.
"""

from phasescope.report.report import (
    PHASE_METRICS,
    Report,
    build_report,
    compare_path,
    default_out,
    metric_slug,
    read_compare,
)

__all__ = [
    "PHASE_METRICS",
    "Report",
    "build_report",
    "compare_path",
    "default_out",
    "metric_slug",
    "read_compare",
]
