"""The README's two commands are the project's contract: CI must run the test command verbatim."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    run_cmd, test_cmd = blocks[0], blocks[1]
    assert run_cmd.endswith("phasescope run")
    assert "pytest" in test_cmd
    # the test command starts after the venv is made: CI makes its own venv, then runs the rest verbatim
    test_tail = test_cmd.split("&& ", 2)[2]
    assert test_tail in (ROOT / ".ci" / "run").read_text()
