"""`python -m phasescope.world.build_base`: (re)build the base model that ships with the package.

How the shipped base (`phasescope/world/shipped/`) was made: this module, run with the built-in
default world config (`experiments/default.toml`), on one CPU thread, pre-trains the tiny GPT-2 as
`world/base.py` does for any world (direct addition and max, 2% of addition in the chain-of-thought
style, stopped at the first check where dev addition accuracy reaches `base_target_accuracy`), and
writes the weights (float32 safetensors), the model and tokenizer configs and phasescope_base.json:
the cache key the base is found by, its pre-training history, and where and with what it was built.

Rebuild it only when the default world or the pre-training recipe changes (the key then changes, and
`tests/test_shipped_base.py` fails until it is rebuilt): a rebuild on another machine can stop at a
different step and give another base, which is why the base ships instead of being built per machine.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import transformers

from phasescope.config import load_config
from phasescope.world import world_splits
from phasescope.world.base import SHIPPED_DIR, train_base


def build_shipped_base(dest: Path, log=print) -> dict:
    """Build the default world's base into `dest` (replaced) and return its phasescope_base.json."""
    world = load_config(None, []).world
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "base"
        # The shipped base's own rule (first single check at the target): a rebuild reproduces it.
        meta = train_base(world, world_splits(world), out, log, stop_window=1)
        meta["made_by"] = {
            "command": "python -m phasescope.world.build_base",
            "config": "built-in defaults ([world] of experiments/default.toml)",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, CPU, 1 torch thread",
        }
        (out / "phasescope_base.json").write_text(json.dumps(meta, indent=1))
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(out, dest)
    return meta


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else SHIPPED_DIR
    meta = build_shipped_base(dest)
    print(
        f"base {meta['key']}: {meta['steps']} steps, dev addition accuracy {meta['dev_accuracy']} -> {dest}"
    )


if __name__ == "__main__":
    main()
