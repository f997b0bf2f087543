"""What the token-divergence probes cost: one short run with probes off and on, in one invocation.

Trains the same (arm, seed) twice in this process with one torch thread — `train.probes=false`, then
`train.probes=true` (alternating when --repeats > 1) — and prints both wall times, their ratio, and the
probe's own measured share of the run (the sum of `time/probe_s` over the evaluations divided by the
wall time of the run with probes). The wall-time ratio carries the machine's noise (other work on a
shared CPU moves it by several per cent); the measured share is the probe's cost alone.
The short run evaluates at the default config's `eval_every`, so evaluations per step are at least
as frequent as in the default run, and the share it reports is an upper bound for the default run.

    OMP_NUM_THREADS=1 python benchmarks/probe_overhead.py [--steps 50] [--arm sft_then_rl]
        [--repeats 1] [--set world.n_pretrain=500 ...]

Builds (or loads from PHASESCOPE_CACHE) the configured world's base model first; that time is not
counted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="training steps per run")
    ap.add_argument("--arm", default="sft_then_rl", help="arm to train (sft_then_rl: SFT for half the steps)")
    ap.add_argument("--repeats", type=int, default=1, help="off/on pairs (alternating order)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    args = ap.parse_args()
    torch.set_num_threads(1)

    from phasescope.config import load_config
    from phasescope.runlog.reader import read_metrics as read_rows
    from phasescope.train.train_one import train_one
    from phasescope.world import build_world

    sets = [f"train.max_steps={args.steps}", f'experiment.arms=["{args.arm}"]', *args.overrides]
    if args.arm == "sft_then_rl" and not any(s.startswith("arms.sft_then_rl.sft_steps") for s in sets):
        sets.append(f"arms.sft_then_rl.sft_steps={args.steps // 2}")
    base_cfg = load_config(None, sets)
    build_world(base_cfg.world)  # build or load the base outside the timed runs

    walls: dict[bool, list[float]] = {False: [], True: []}
    probe_s: list[float] = []
    n_evals = 0
    tmp = Path(tempfile.mkdtemp(prefix="probe_overhead_"))
    try:
        for r in range(args.repeats):
            order = (False, True) if r % 2 == 0 else (True, False)
            for on in order:
                cfg = load_config(None, [*sets, f"train.probes={'true' if on else 'false'}"])
                out = tmp / f"{'on' if on else 'off'}{r}"
                t0 = time.perf_counter()
                train_one(cfg, args.arm, 0, out, threads=1)
                walls[on].append(time.perf_counter() - t0)
                if on:
                    rows = read_rows(out / "metrics.jsonl")
                    probe_s.append(sum(row.get("time/probe_s", 0.0) for row in rows))
                    n_evals = sum("time/probe_s" in row for row in rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    off, on = min(walls[False]), min(walls[True])  # the least-disturbed run of each kind
    share = sum(probe_s) / sum(walls[True])
    result = {
        "arm": args.arm,
        "steps": args.steps,
        "eval_every": base_cfg.train.eval_steps,
        "probe_size": base_cfg.train.probe_size,
        "evals_per_run": n_evals,
        "wall_off_s": [round(w, 2) for w in walls[False]],
        "wall_on_s": [round(w, 2) for w in walls[True]],
        "ratio_on_off": round(on / off, 4),
        "probe_s_per_eval": round(sum(probe_s) / max(1, n_evals * len(probe_s)), 4),
        "probe_share_of_wall": round(share, 4),
    }
    print(json.dumps(result, indent=1))
    print(
        f"probes on/off wall time: {on:.1f} s / {off:.1f} s = {on / off:.3f}; "
        f"measured probe share {100 * share:.2f}% ({result['probe_s_per_eval'] * 1000:.1f} ms per evaluation)"
    )


if __name__ == "__main__":
    main()
