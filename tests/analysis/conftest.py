from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
REAL_LOGS = REPO.parent / "shared" / "data" / "real-logs"


@pytest.fixture
def real_logs() -> Path:
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/data/real-logs is not beside this checkout")
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


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the console entry point `phasescope.cli:main` in-process (a subprocess per test costs
    seconds of imports); returns (returncode, stdout, stderr) like a finished process."""
    from phasescope.cli import main

    def invoke(*args: str) -> subprocess.CompletedProcess:
        monkeypatch.setattr(sys, "argv", ["phasescope", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return invoke
