"""`python -m phasescope.train.launch` = `phasescope launch`: one (arm, seed) on several processes.

    accelerate launch --config_file experiments/accelerate/deepspeed_zero3.yaml \\
        -m phasescope.train.launch experiments/chord-paper-qwen2.5-7b.toml --arm chord_phi [--seed 0] [--set k=v ...]

A thin wrapper kept for the command above: it runs the CLI's `launch` command (`train/worker.py`),
the same code path as `accelerate launch -m phasescope.cli launch ...`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from phasescope.cli import main as cli_main

    cli_main(["launch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
