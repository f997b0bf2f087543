"""Fuzz phasescope's inputs: seeded mutations of every supported log format, run directories and
config files, fed in-process to segment, compare, report, watch, check and run --resume.

    python benchmarks/fuzz.py --cases 10000 --seed 0     # prints a summary by failure kind

Exit status 1 when any case failed (see tests/fuzz/harness.py for the failure kinds).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="first case number (cases are seed, seed+1, ...)")
    ap.add_argument("--corpus", default=None, help="folder for the unmutated inputs (default: a temp dir)")
    ap.add_argument("--show", action="store_true", help="print each failing case as it happens")
    args = ap.parse_args()
    from tests.fuzz.corpus import build
    from tests.fuzz.harness import known_metrics, run_case, summary

    tmp = Path(tempfile.mkdtemp(prefix="phasescope-fuzz-"))
    corpus = Path(args.corpus) if args.corpus else tmp / "corpus"
    seeds = build(corpus)
    metrics = known_metrics(seeds, corpus)
    t0, verdicts = time.perf_counter(), []
    for case in range(args.seed, args.seed + args.cases):
        v = run_case(case, seeds, corpus, tmp / "work", metrics)
        verdicts.append(v)
        if v.failure and args.show:
            print(f"case {case}: {v.failure} {v.detail} {v.seed} {v.mutations} {v.argv}", flush=True)
        if (case - args.seed + 1) % 500 == 0:
            print(f"... {case - args.seed + 1} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(
        f"python benchmarks/fuzz.py --cases {args.cases} --seed {args.seed}  ({time.perf_counter() - t0:.0f} s)"
    )
    print(summary(verdicts))
    return 1 if any(v.failure for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
