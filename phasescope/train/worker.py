"""Training one (arm, seed) in this process, the two ways it is started; both end in `train_one`.

- `run_worker`: a worker of `phasescope run` (`phasescope worker EXP_DIR ARM SEED THREADS`), started
  by the pool; its config is the experiment's stored experiment.json.
- `launch`: one arm on several processes (`accelerate launch -m phasescope.cli launch ...`, or the
  `python -m phasescope.train.launch` wrapper). Every process resolves the same config; the main
  process creates the run directory (experiment.json is kept when it exists, so that arms can be
  launched one after another into one experiment) and is the only one that writes to it.
"""

from __future__ import annotations

from pathlib import Path

from phasescope.config import Config
from phasescope.errors import PhasescopeError
from phasescope.runlog.experiment import arm_dir, load_experiment_config, write_experiment_json


def run_worker(exp_dir: Path, arm: str, seed: int, threads: int, resume: bool = False) -> None:
    from phasescope.train.run import train_one

    cfg = load_experiment_config(exp_dir)
    train_one(cfg, arm, seed, arm_dir(exp_dir, arm, seed), threads=threads, resume=resume)


def launch(cfg: Config, arm: str, seed: int) -> None:
    import torch
    from accelerate import PartialState

    from phasescope.train.distributed import is_main_process
    from phasescope.train.run import train_one

    if arm not in cfg.arms:
        raise PhasescopeError(f"unknown arm {arm!r}; defined arms: {', '.join(cfg.arms)}")
    exp_dir = Path(cfg.experiment.out) / cfg.experiment.name
    out = arm_dir(exp_dir, arm, seed)
    state = PartialState(cpu=not torch.cuda.is_available())
    if is_main_process():
        exp_dir.mkdir(parents=True, exist_ok=True)
        if not (exp_dir / "experiment.json").exists():
            write_experiment_json(exp_dir, cfg)
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.model.model_name_or_path:  # the embedded world's base model is built (cached) once
            from phasescope.world import build_world

            build_world(cfg.world)
    state.wait_for_everyone()
    train_one(cfg, arm, seed, out)
