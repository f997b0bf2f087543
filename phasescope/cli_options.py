"""Typed option values shared by the `phasescope` commands: choices `--help` shows, and parsers whose bad
input is a one-line usage error."""

from __future__ import annotations

from enum import Enum


def _eval_n(text: str | None) -> int | None:
    """--eval-n as a positive integer (a one-line usage error otherwise)."""
    from phasescope.errors import UsageError

    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"--eval-n must be a whole number of problems >= 1, not {text!r}")
    return n


class Direction(str, Enum):
    """Which way a metric is better (the choices `--help` shows)."""

    higher = "higher"
    lower = "lower"


class WandbMode(str, Enum):
    """`--wandb` choices (see runlog/wandb_mirror.py)."""

    off = "off"
    offline = "offline"
    online = "online"


def _value(choice: Enum | None) -> str | None:
    return None if choice is None else choice.value


def arm_list(text: str | None) -> list[str] | None:
    """--arms a,b as a list of names (None: the config's arms)."""
    return [a.strip() for a in text.split(",") if a.strip()] if text is not None else None
