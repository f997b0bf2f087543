from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
REAL_LOGS = FIXTURES / "real_logs"  # public logs, copied with their provenance


@pytest.fixture
def real_logs() -> Path:
    """Fourteen training logs from public repositories (tests/fixtures/real_logs/PROVENANCE.md)."""
    return REAL_LOGS


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m phasescope.cli ...` in a subprocess, exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "phasescope.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=120,
    )
