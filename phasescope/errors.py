"""Errors a user can cause, and the exit codes the CLI maps them to.

Anything raised as a `PhasescopeError` is printed by the CLI as one line (`error: ...`) with no
traceback. Anything else is a bug: the CLI prints one `error: internal error (...)` line asking for a
rerun with `--debug` (which shows the traceback), and exits 1. Input read from outside (logs, run
directories, records, configs) is checked where it is read and raises `UsageError` (exit 2).
"""


class PhasescopeError(Exception):
    """A failure caused by input or environment, reported as one line. Exit code 1 (runtime)."""

    exit_code = 1


class UsageError(PhasescopeError):
    """The user asked for something malformed (bad config, bad option, missing file). Exit code 2."""

    exit_code = 2
