"""Reports of an experiment: figures (``plots``) and the HTML/Markdown report (``report``).

    rep = build_report("runs/my_exp")      # writes runs/my_exp/analysis/report.html, report.md, figures/
    rep.figures["phases"], rep.compare["verdict"]

Never imports torch, so reports can be built wherever the logs are.
"""

from phasescope.report.report import Report, build_report, default_out

__all__ = ["Report", "build_report", "default_out"]
