"""One (arm, seed) on several processes: the entry point for `accelerate launch`.

    accelerate launch --config_file experiments/accelerate/deepspeed_zero3.yaml \\
        -m phasescope.train.launch experiments/chord-paper-qwen2.5-7b.toml --arm chord_phi [--seed 0] [--set k=v ...]

Every process resolves the same config and calls `train_one`; the main process creates the run
directory (`<out>/<name>/experiment.json`, kept when it exists so that arms can be launched one after
another into one experiment) and is the only one that writes to it. `phasescope run` stays the way
to train all arms on one device (one worker process per arm); this module is how one arm spans GPUs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from phasescope.errors import PhasescopeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m phasescope.train.launch", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("config", nargs="?", help="experiment TOML (default: the embedded world)")
    ap.add_argument("--arm", required=True, help="arm to train (one of the config's arms)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    args = ap.parse_args(argv)

    from phasescope.config import load_config
    from phasescope.train.distributed import is_main_process
    from phasescope.train.run import arm_dir, train_one, write_experiment_json

    cfg = load_config(args.config, args.overrides)
    if args.arm not in cfg.arms:
        raise PhasescopeError(f"unknown arm {args.arm!r}; defined arms: {', '.join(cfg.arms)}")
    exp_dir = Path(cfg.experiment.out) / cfg.experiment.name
    out = arm_dir(exp_dir, args.arm, args.seed)
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    if is_main_process():
        exp_dir.mkdir(parents=True, exist_ok=True)
        if not (exp_dir / "experiment.json").exists():
            write_experiment_json(exp_dir, cfg)
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.model.name_or_path:  # the embedded world's base model is built (cached) once
            from phasescope.world import build_world

            build_world(cfg.world)
    state.wait_for_everyone()
    train_one(cfg, args.arm, args.seed, out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PhasescopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
