"""Wall time of `phasescope run` with no arguments (all five arms, one seed) on this machine.

Usage: python benchmarks/default_run.py [--cold] [--out DIR]

--cold starts from an empty base-model cache (what a new user's first run costs: the default world's
base ships with the package, so nothing is built; a world config of your own builds its base then);
without it the cache is left as it is. Prints the total wall time, each arm's wall time and
its step rate, and whether the run fits the 10-minute budget of the default experiment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 600


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", action="store_true", help="start from an empty base-model cache")
    ap.add_argument("--out", default=None, help="parent of the run directory (default: a temp dir)")
    ap.add_argument("extra", nargs="*", help="extra arguments for phasescope run")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="phasescope-bench-"))
    env = dict(os.environ)
    if args.cold:
        env["PHASESCOPE_CACHE"] = tempfile.mkdtemp(prefix="phasescope-cache-")
    cmd = [
        sys.executable,
        "-m",
        "phasescope.cli",
        "run",
        "--out",
        str(out),
        "--name",
        "bench",
        "--overwrite",
        *args.extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print(f"phasescope run failed with exit code {proc.returncode}")
        return 1
    print(proc.stdout.strip().split("\n\n")[-1])
    print()
    exp = out / "bench"
    for metrics in sorted(exp.glob("*/seed*/metrics.jsonl")):
        rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        step_s = [r["time/step_s"] for r in rows if "time/step_s" in r]
        eval_s = [r["time/eval_s"] for r in rows if "time/eval_s" in r]
        arm = metrics.parent.parent.name
        print(
            f"{arm:<13} {len(step_s)} updates, mean {sum(step_s) / max(len(step_s), 1):.3f} s/update; "
            f"{len(eval_s)} evals, mean {sum(eval_s) / max(len(eval_s), 1):.2f} s/eval"
        )
    print()
    print(
        f"phasescope run ({'cold: empty base-model cache' if args.cold else 'warm: cache as it was'}): "
        f"{wall:.0f} s wall on {os.cpu_count()} CPUs; budget {BUDGET_S} s: {'OK' if wall <= BUDGET_S else 'OVER'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
