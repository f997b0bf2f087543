"""`python -m phasescope.train.launch` = `phasescope launch`: one (arm, seed) on several processes.

    accelerate launch --config_file experiments/accelerate/deepspeed_zero3.yaml \\
        -m phasescope.train.launch experiments/chord-paper-qwen2.5-7b.toml --arm chord_phi [--seed 0] [--set k=v ...]

A thin wrapper kept for the command above, with the options of `phasescope launch`; both call
`train/worker.launch`. It parses its own arguments (the library never imports the CLI); like the CLI,
a user error is one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import sys

from phasescope.config import load_config
from phasescope.errors import PhasescopeError
from phasescope.train.worker import launch


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m phasescope.train.launch",
        description="Train one arm on every process of an `accelerate launch` (= `phasescope launch`).",
    )
    p.add_argument("config", nargs="?", default=None, help="Experiment TOML (default: the embedded world).")
    p.add_argument("--arm", required=True, help="Arm to train (one of the config's arms).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the arm.")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="Override a field: k=v.")
    p.add_argument("--resume", action="store_true", help="Continue the arm from its last checkpoint.")
    p.add_argument("--overwrite", action="store_true", help="Replace the arm's existing steps.")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)  # a usage error exits 2
    try:
        # Only the launched arm is validated: another arm's settings must not stop this one.
        cfg = load_config(args.config, args.overrides, {"experiment.arms": [args.arm]})
        launch(cfg, args.arm, args.seed, resume=args.resume, overwrite=args.overwrite)
    except PhasescopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
