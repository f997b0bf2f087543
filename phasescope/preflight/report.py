"""What a preflight found: errors that stop a run, notes that do not, and the summary `check` prints.

An error is one line that names the file (or setting), the count and the fix; the CLI prints each as
`error: ...` and exits 2. A note is printed as `note: ...` on stderr and the run goes on. The summary
is the human-readable account of everything checked, grouped under short headings; `facts` holds the
same numbers for machines (data.json, experiment.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from phasescope.errors import UsageError


class PreflightError(UsageError):
    """One or more preflight errors; its message puts each on its own `error:` line (exit 2)."""


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, text: str) -> None:
        self.errors.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def line(self, section: str, text: str) -> None:
        self.sections.setdefault(section, []).append(text)

    def summary(self) -> str:
        """Every section with its lines, then the count of errors and notes."""
        width = max((len(s) for s in self.sections), default=0) + 2
        out = []
        for section, lines in self.sections.items():
            out.append(f"{section:<{width}}{lines[0]}")
            out.extend(f"{'':<{width}}{text}" for text in lines[1:])
        verdict = "ready to run" if self.ok else "not ready: fix the errors below"
        n_err, n_note = len(self.errors), len(self.notes)
        out.append(
            f"{'result':<{width}}{n_err} error{'s' * (n_err != 1)}, {n_note} note{'s' * (n_note != 1)}: {verdict}"
        )
        return "\n".join(out)

    def raise_for_errors(self) -> None:
        """Raise a `PreflightError` (exit 2) whose message is every error, one `error:` line each."""
        if self.errors:
            raise PreflightError("\nerror: ".join(self.errors))


def count(n: int, what: str) -> str:
    """`1 row`, `3 rows`, `1,200 rows` (a plain English plural: what + s)."""
    return f"{n:,} {what}{'s' * (n != 1)}"


def share(part: int, whole: int) -> str:
    """`52% (520 of 1,000)`."""
    pct = 100.0 * part / whole if whole else 0.0
    return f"{pct:.0f}% ({part:,} of {whole:,})"
