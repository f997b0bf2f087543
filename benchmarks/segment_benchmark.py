"""Planted-curve benchmark for the phase segmenter: accuracy against known answers, and speed.

Families (``phasescope.analysis.synthetic.FAMILIES``), each as drawn and as a lower-is-better copy:
exact piecewise-linear curves, eased (rounded) transitions, binomial noise on 300-1,000 problems,
dense-then-sparse evaluation, long flat starts, all of these at once, and curves with no phase.
Per family, direction and overall, averaged over several benchmark seeds (± the spread over seeds):

- changepoint F1: a found changepoint matches a true one within 5% of the step span (the true ones
  are the events the phases name: the curve's worst point ends a shift, its best point starts overfit);
- phase presence: the share of curves whose set of named phases (shift, readapt, overfit, improve)
  is exactly right; ``sequence`` is stricter: the whole label sequence, plateaus included;
- CI coverage: the share of matched true changepoints inside the reported 95% interval;
- uncertain: the share of reported changepoints flagged uncertain;
- false+/curve: found changepoints that match no true one, per curve (the ``no_phase`` family's
  measure: with nothing planted its F1 is 0 at the first false alarm, so it is not shown).

Then timings (1,000 curves of 500 points; one 100,000-point curve), both with bootstrap CIs, as
``segment_speed.py`` prints them.

    OMP_NUM_THREADS=1 python benchmarks/segment_benchmark.py [--curves 60] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from phasescope.analysis.phases import NAMED, label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.synthetic import FAMILIES, family_curve, match_changepoints


def score_curve(c, direction: str, segmenter: PhaseSegmenter) -> dict:
    """Counts for one planted curve: tp/fp/fn, CI hits among matches, presence and sequence right."""
    seg = segmenter.fit(c.steps, c.values).predict()
    phases = label_phases(seg, direction)
    found = [p.start_step for p in phases[1:]]
    cis = [p.ci for p in phases[1:]]
    tol = 0.05 * (c.steps[-1] - c.steps[0])
    tp, fp, fn = match_changepoints(c.changepoints, found, tol)
    covered = 0
    for t in c.changepoints:  # the nearest found changepoint within tolerance is its match
        d = [abs(t - f) for f in found]
        if d and min(d) <= tol:
            lo, hi = cis[int(np.argmin(d))]
            covered += lo <= t <= hi
    named = {p.label for p in phases} & set(NAMED)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "covered": covered,
        "uncertain": sum(bool(p.uncertain) for p in phases[1:]),
        "found": len(found),
        "presence": named == set(c.phases) & set(NAMED),
        "sequence": [p.label for p in phases] == c.phases,
        "error": None
        if named == set(c.phases) & set(NAMED)
        else ("→".join(c.phases), "→".join(p.label for p in phases)),
    }


def run_seed(seed: int, n_curves: int) -> tuple[dict, Counter]:
    """Per (family, direction) sums for one benchmark seed, and the phase-set errors seen."""
    rng = np.random.default_rng(seed)
    sums: dict = defaultdict(Counter)
    errors: Counter = Counter()
    for family in FAMILIES:
        for direction in ("higher", "lower"):
            for _ in range(n_curves):
                c = family_curve(family, rng, lower_is_better=direction == "lower")
                r = score_curve(c, direction, PhaseSegmenter())
                for key in ((family, direction), ("all", direction), ("all", "both")):
                    s = sums[key]
                    s.update({k: int(v) for k, v in r.items() if k != "error"})
                    s["n"] += 1
                if r["error"]:
                    errors[(family, direction, *r["error"])] += 1
    return sums, errors


def rates(s: Counter) -> dict:
    denom = 2 * s["tp"] + s["fp"] + s["fn"]
    return {
        "F1": 1.0 if denom == 0 else 2 * s["tp"] / denom,
        "presence": s["presence"] / s["n"],
        "sequence": s["sequence"] / s["n"],
        "coverage": s["covered"] / s["tp"] if s["tp"] else float("nan"),
        "uncertain": s["uncertain"] / s["found"] if s["found"] else 0.0,
    }


def print_table(per_seed: list[dict], n_curves: int) -> None:
    cols = ("F1", "presence", "sequence", "coverage", "uncertain")
    print(
        f"{'family':<13}{'direction':<10}{'curves':>7} "
        + " ".join(f"{c:>15}" for c in cols)
        + "  false+/curve"
    )
    keys = [(f, d) for f in FAMILIES for d in ("higher", "lower")] + [
        ("all", "higher"),
        ("all", "lower"),
        ("all", "both"),
    ]
    for key in keys:
        vals = [rates(s[key]) for s in per_seed]
        n = sum(s[key]["n"] for s in per_seed)
        cells = []
        for c in cols:
            v = np.array([x[c] for x in vals])
            if np.all(np.isnan(v)) or (c == "F1" and key[0] == "no_phase"):
                cells.append("-")  # nothing planted: F1 is 0 at the first false alarm; see false+
            else:
                cells.append(f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}")
        cells.append(f"{sum(s[key]['fp'] for s in per_seed) / n:.3f}")
        print(
            f"{key[0]:<13}{key[1]:<10}{n:>7} "
            + " ".join(f"{c:>15}" for c in cells[:-1])
            + f"  {cells[-1]:>12}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=int, default=60, help="curves per family and direction, per seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    print(
        f"{args.curves} curves per family and direction x {len(args.seeds)} seeds {args.seeds}; "
        "100-500 points; F1 tolerance 5% of the span; mean ± std over seeds\n"
    )
    t0 = time.perf_counter()
    runs = [run_seed(s, args.curves) for s in args.seeds]
    print_table([r[0] for r in runs], args.curves)
    errors = sum((r[1] for r in runs), Counter())
    if errors:
        print("\nmost common phase-set errors (family, direction: planted → found):")
        for (f, d, planted, found), n in errors.most_common(10):
            print(f"  {n:>3} × {f}, {d}: {planted} → {found}")
    print(f"\n(accuracy pass took {time.perf_counter() - t0:.1f}s)")
    if not args.no_speed:
        # The timings live in segment_speed.py (same curves, same rng stream as before).
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from segment_speed import timings

        timings(np.random.default_rng(args.seeds[0]))


if __name__ == "__main__":
    main()
