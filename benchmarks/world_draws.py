"""The default world's draws side by side: each draw's base (built and cached on first use), where its
pre-training stopped, and what it scores at step 0. The table in docs/world.md#world-draws.

    OMP_NUM_THREADS=1 python benchmarks/world_draws.py --world-seeds 3
"""

from __future__ import annotations

import argparse
import json

import torch

from phasescope.config import load_config
from phasescope.world import build_world, draw_world
from phasescope.world.base import load_base
from phasescope.world.pretrain import greedy_accuracy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world-seeds", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(None, [])
    n = cfg.train.max_completion_length
    print(
        "| draw | base | pre-training steps | last three dev checks | held-out accuracy at step 0 | general skill at step 0 |"
    )
    print("|---|---|---|---|---|---|")
    for w in range(args.world_seeds):
        world = build_world(draw_world(cfg.world, w))
        meta = json.loads((world.base_path / "phasescope_base.json").read_text())
        model, tok = load_base(world.base_path)
        acc, gen = (greedy_accuracy(model, tok, s, n) for s in (world.splits.eval, world.splits.eval_general))
        rule = "single-check rule" if meta.get("stop_window", 1) == 1 else "two-in-three rule"
        checks = ", ".join(f"{a:.3f}" for _, a in meta["history"][-3:])
        print(f"| {w} | `{meta['key']}` ({rule}) | {meta['steps']} | {checks} | {acc:.3f} | {gen:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
