"""Preflight: the checks that make a real run fail before the GPU hour, not after.

`preflight(cfg, arms)` returns a `Report` (errors, notes, a summary); `check_command` is what
`phasescope check CONFIG` runs. Nothing here loads weights, generates or trains.
"""

from phasescope.preflight.checks import preflight
from phasescope.preflight.command import check_command, run_preflight
from phasescope.preflight.report import PreflightError, Report

__all__ = ["PreflightError", "Report", "check_command", "preflight", "run_preflight"]
