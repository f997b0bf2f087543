"""Errors a user can cause, and the exit codes the CLI maps them to.

Anything raised as a `PhasescopeError` is printed by the CLI as one line (`error: ...`) with no
traceback; anything else is a bug and keeps its traceback.
"""


class PhasescopeError(Exception):
    """A failure caused by input or environment, reported as one line. Exit code 1 (runtime)."""

    exit_code = 1


class UsageError(PhasescopeError):
    """The user asked for something malformed (bad config, bad option, missing file). Exit code 2."""

    exit_code = 2
