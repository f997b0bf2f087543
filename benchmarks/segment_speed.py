"""Segmentation speed: 1,000 curves of 500 points, and one 100,000-point curve, both with bootstrap CIs
and phase labels (what ``phasescope segment`` does per curve).

The curves are the same every run: the planted generator (``synthetic.planted_curve``, the five
variants in turn, random step spacing) from ``numpy.random.default_rng(seed)``; they are made before
the clock starts. Goals (issue 22): 1,000 x 500 points <= 2 s and 100k points <= 0.5 s on 2 cores.
On a shared machine the CPU seconds are the number that says what it costs, so both are printed,
with the load average and the CPU model; ``--repeat N`` times everything N times and prints the
fastest (a loaded machine only ever adds time). ``segment_benchmark.py`` ends with the same timings.

    OMP_NUM_THREADS=1 python benchmarks/segment_speed.py [--seed 0] [--curves 1000] [--repeat 1] [--profile]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.synthetic import VARIANTS, planted_curve


def speed_curves(rng: np.random.Generator, n_curves: int = 1000):
    """The timed curves: ``n_curves`` of 500 points and one of 100,000 (drawn in this order)."""
    curves = [
        planted_curve(VARIANTS[i % 5], n_points=500, spacing="random", rng=rng) for i in range(n_curves)
    ]
    big = planted_curve("full", n_points=100_000, span=1e7, spacing="random", noise=0.04, ease=0.01, rng=rng)
    return curves, big


def _clock(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _big_curve(big):
    seg = PhaseSegmenter().fit(big.steps, big.values).predict()
    label_phases(seg)
    return seg


def timings(rng: np.random.Generator, n_curves: int = 1000, repeat: int = 1) -> dict:
    """Segment and label the speed curves; print and return wall and CPU seconds of both parts
    (the fastest of ``repeat`` runs, by CPU seconds)."""
    curves, big = speed_curves(rng, n_curves)
    load_before = os.getloadavg()[0]
    many, large = [], []
    for _ in range(max(1, repeat)):
        many.append(
            _clock(lambda: [label_phases(PhaseSegmenter().fit(c.steps, c.values).predict()) for c in curves])
        )
        large.append(_clock(lambda: _big_curve(big)))
    _, t_many, c_many = min(many, key=lambda r: r[2])
    seg, t_big, c_big = min(large, key=lambda r: r[2])
    best = f" (fastest of {repeat})" if repeat > 1 else ""
    print(
        f"speed: {n_curves:,} curves x 500 points in {t_many:.2f}s wall, {c_many:.2f}s CPU (goal 2s); "
        f"one {len(big.steps):,}-point curve in {t_big:.2f}s wall, {c_big:.2f}s CPU (goal 0.5s); "
        f"both with bootstrap CIs{best}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(
        f"  machine: {cpu_model()}, {os.cpu_count()} cores; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    print(f"  100k curve: true {np.round(big.changepoints)}, found {np.round(seg.changepoints)}")
    return {"many_wall": t_many, "many_cpu": c_many, "big_wall": t_big, "big_cpu": c_big}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--curves", type=int, default=1000)
    ap.add_argument(
        "--repeat", type=int, default=1, help="time everything this many times, print the fastest"
    )
    ap.add_argument("--profile", action="store_true", help="cProfile the run; print the top 25 by own time")
    args = ap.parse_args()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(timings, np.random.default_rng(args.seed), args.curves)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    else:
        timings(np.random.default_rng(args.seed), args.curves, args.repeat)


if __name__ == "__main__":
    main()
