"""The command line's own options: --version, -h, the choices of every enumerated option, --debug."""

from __future__ import annotations

import pytest

from phasescope import __version__


def test_version_exits_0(cli):
    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"phasescope {__version__}"


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["run", "-h"], ["segment", "-h"], ["report", "-h"]])
def test_h_is_help(cli, args):
    res = cli(*args)
    assert res.returncode == 0 and "Usage:" in res.stdout


def test_top_level_help_names_version_and_debug(cli):
    out = cli("-h").stdout
    assert "--version" in out and "--debug" in out


@pytest.mark.parametrize(
    "command, choices",
    [("run", "off|offline|online"), ("report", "off|offline|online"), ("segment", "higher|lower")],
)
def test_help_shows_the_choices(cli, command, choices):
    assert choices in cli(command, "-h").stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--wandb", "maybe"], "'maybe' is not one of 'off', 'offline', 'online'"),
        (["segment", "x.csv", "--direction", "up"], "'up' is not one of 'higher', 'lower'"),
    ],
)
def test_a_bad_choice_is_one_line_and_exit_2(cli, args, fragment):
    res = cli(*args)
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error:") and fragment in line


def test_a_world_whose_chain_of_thought_outgrows_the_completion_cap_is_refused_before_training(cli, tmp_path):
    # 3-digit chains of thought are up to 34 tokens ("|9+9+0=18|9+9+1=19|9+9+1=19|=1998;").
    res = cli(
        "run", "--out", str(tmp_path), "--set", "world.digits=3", "--set", "train.max_completion_length=33"
    )
    assert res.returncode == 2
    assert "cuts the expert's 3-digit chain of thought (34 tokens at most)" in res.stderr
    assert not any(tmp_path.iterdir())  # nothing written
