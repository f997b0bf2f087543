"""The online detector on the benchmark families, against an oracle and change-detector baselines.

Each curve is fed point by point to ``OnlineDetector`` (told the eval set's size when its
constructor takes ``eval_n`` and the curve has one). Two events are scored, as in
``online_benchmark``: the end of the shift (a ``readapt`` event) and overfit onset (``overfit``).
On a curve with the event the lag is the confirmation step minus the true change, as a share of
the run (never confirmed: infinite; confirmed more than 5% of the run before the change: early);
on a curve without it, confirming it is a false alarm.

The yardstick is ``phasescope.analysis.oracle``: a sequential test told the true means before and
after the change and the noise (an SPRT/CUSUM on the true levels, alpha 2%). ``ratio`` is the
online detector's median lag over the oracle's median lag on the same curves (1.0 = as fast as a
detector that knows everything but the noise's draw). River's ADWIN and Page-Hinkley, if river can
be imported (``--river DIR`` adds a folder holding it; it is no dependency of phasescope), are
scored the same way with "the first drift flagged at or after the change" as their alarm (one
flagged before it belongs to another change), and any drift flagged on a no-event curve as a
false alarm: they name no phase, so this is generous to them. Page-Hinkley is fed the curve in
noise units (told the noise, as the oracle is), with threshold 25 and delta 0.5: on no-event
curves of another seed (123) that alarms on 1.7% of them (threshold 8: 26%); ADWIN (default delta
0.002) alarms on none.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/families_benchmark.py --cases 0 --online 10 --jobs 2

``online_detector_glr`` is the detector with ``confirm="glr"`` (``--online-detector
families_online:online_detector_glr``). ``python benchmarks/families_online.py --calibrate-glr``
calibrates its thresholds (``online_rules.GLR_THRESHOLDS``): on no-event curves of seed 7 (the
benchmark draws seed 0), the largest GLR statistic each curve reaches over the detector's looks
(each refit), on the whole prefix with the detector's noise; the threshold is the 98% quantile of
those maxima. Conservative: the detector only tests the points since the phase before began, and
only after that phase is confirmed. Measured (8 curves per family and direction, seed 0, all
families, both directions; lag and oracle in % of the run, median; false: on curves without it):

    event    confirm             lag  oracle  ratio  missed  false
    readapt  refit (default)     9.2    2.6    3.54   11.8    1.9
    readapt  glr, h 53.1        13.4    2.6    5.17   14.1    0.6
    readapt  glr, h 15          10.1    2.6    3.88   12.9    2.6
    overfit  refit (default)    15.7    9.0    1.74   20.0    8.0
    overfit  glr, h 42.0        36.9    9.0    4.09   34.4    4.7
    overfit  glr, h 15          19.1    9.0    2.12   17.8    6.0

The GLR is slower at every threshold tried, so "refit" stays the default. The calibrated thresholds
are set by the heavy-tailed and the correlated (fixed eval set, no eval_n) flat curves, whose
maxima reach 40-90 where the Gaussian flat curves stay under 17; and its null ("never declines",
any non-decreasing curve) is flexible enough that a decline must go on for a while to beat it.

    python benchmarks/families_online.py [--glr 15] --cases 8 --river /tmp/river_pkgs
"""

from __future__ import annotations

import functools
import inspect
import math
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from phasescope.analysis.curve_families import EVENT_FAMILIES, NO_EVENT, family_curve
from phasescope.analysis.glr import threshold_for
from phasescope.analysis.online import OnlineDetector
from phasescope.analysis.oracle import oracle_lag
from phasescope.analysis.phases import NAMED

EVENTS = ("readapt", "overfit")
DIRECTIONS = ("higher", "lower")


def online_detector(curve, use_eval_n: bool = True) -> list:
    """Today's online detector, fed the whole curve point by point (told ``eval_n`` where it
    takes one and the curve has one)."""
    kw = {"direction": curve.direction}
    takes = "eval_n" in inspect.signature(OnlineDetector.__init__).parameters
    if use_eval_n and curve.eval_n and takes:
        kw["eval_n"] = curve.eval_n
    return OnlineDetector(**kw).run(curve.steps, curve.values)


def online_detector_glr(curve, use_eval_n: bool = True, glr_threshold: float | None = None) -> list:
    """The online detector with the GLR confirmation step (``OnlineDetector(confirm="glr")``)."""
    kw = {"direction": curve.direction, "confirm": "glr", "glr_threshold": glr_threshold}
    if use_eval_n and curve.eval_n:
        kw["eval_n"] = curve.eval_n
    return OnlineDetector(**kw).run(curve.steps, curve.values)


class _GLRProbe(OnlineDetector):
    """The refit detector, recording at each fit the GLR statistics on the whole prefix with the
    noise it would use (so calibration sees the same sigma as the detector)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.max_stats = {"overfit": 0.0, "readapt": 0.0}

    def _fit_phases(self):
        phases = super()._fit_phases()
        for label in self.max_stats:
            stat = self._glr(label, self.steps[0]).stat
            self.max_stats[label] = max(self.max_stats[label], stat)
        return phases


def glr_max_stats(curve, use_eval_n: bool = True) -> dict[str, float]:
    """The largest GLR statistic per label ("overfit", "readapt") over the detector's looks at a
    curve (each refit, the whole prefix, the detector's noise)."""
    kw = {"direction": curve.direction}
    if use_eval_n and curve.eval_n:
        kw["eval_n"] = curve.eval_n
    probe = _GLRProbe(**kw)
    probe.run(curve.steps, curve.values)
    return probe.max_stats


def calibrate_glr(cases: int = 40, seed: int = 7, alpha: float = 0.02) -> dict[str, float]:
    """GLR thresholds at false-alarm rate ``alpha`` from ``cases`` no-event curves per family and
    direction of ``seed``; prints the per-family maxima's quantiles."""
    stats = {"overfit": [], "readapt": []}
    for family in NO_EVENT:
        for direction in DIRECTIONS:
            rng = np.random.default_rng([seed, zlib.crc32(family.encode()), DIRECTIONS.index(direction), 2])
            fam = [glr_max_stats(family_curve(family, rng, direction)) for _ in range(cases)]
            for label in stats:
                stats[label] += [m[label] for m in fam]
            q = {k: np.quantile([m[k] for m in fam], 1 - alpha) for k in stats}
            print(f"{family:<14}{direction:<7}" + "  ".join(f"{k} {v:6.2f}" for k, v in q.items()))
    return {k: threshold_for(v, alpha) for k, v in stats.items()}


def true_onset(curve, label: str) -> float | None:
    """Where ``label`` truly begins, or None when the curve has no such phase."""
    if label not in curve.phases:
        return None
    if len(curve.phases) == len(curve.changepoints) + 1:  # every boundary is listed (planted)
        return curve.changepoints[curve.phases.index(label) - 1]
    named = [p for p in curve.phases if p in NAMED]
    return curve.changepoints[named.index(label) - 1]


def baseline_alarms(curve, river_path: str | None) -> dict[str, list[float]]:
    """Steps at which river's ADWIN and Page-Hinkley flag a drift ({} without river)."""
    if river_path and river_path not in sys.path:
        sys.path.append(river_path)
    try:
        from river import drift  # noqa: PLC0415 - optional, for the baselines only
    except ImportError:
        return {}
    out = {}
    z = (np.asarray(curve.values) - curve.values[0]) / max(curve.noise, 1e-12)
    for name, det, series in (
        ("ADWIN", drift.ADWIN(), curve.values),
        ("PageHinkley", drift.PageHinkley(min_instances=10, delta=0.5, threshold=25.0), z),
    ):
        hits = []
        for s, v in zip(curve.steps, series, strict=True):
            det.update(float(v))
            if det.drift_detected:
                hits.append(float(s))
        out[name] = hits
    return out


def score_online(curve, events, baselines: dict) -> dict:
    """Per event: ('lag'|'miss'|'early', my lag, oracle lag, {baseline: lag}) on a curve with it,
    ('false'|'clean', {baseline: alarmed}) on one without; 'any': a no-event curve's verdict."""
    span = curve.span
    out = {}
    for label in EVENTS:
        true = true_onset(curve, label)
        mine = [e for e in events if e.label == label]
        if true is None:
            base = {b: bool(h) if curve.family in NO_EVENT else None for b, h in baselines.items()}
            out[label] = ("false" if mine else "clean", base)
            continue
        orc = oracle_lag(curve.steps, curve.values, curve.clean, true, curve.noise)
        base = {}
        for b, hits in baselines.items():
            after = [h for h in hits if h >= true]  # they name no event: one before the change is another's
            base[b] = (after[0] - true) / span if after else math.inf
        if not mine:
            out[label] = ("miss", math.inf, orc, base)
        elif mine[0].confirmed_step < true - 0.05 * span:
            out[label] = ("early", math.inf, orc, base)
        else:
            out[label] = ("lag", (mine[0].confirmed_step - true) / span, orc, base)
    out["any"] = ("false" if events else "clean", {}) if curve.family in NO_EVENT else ("n/a", {})
    return out


def _task(cases, seed, river_path, use_eval_n, detector, task):
    family, direction = task
    rng = np.random.default_rng([seed, zlib.crc32(family.encode()), DIRECTIONS.index(direction), 1])
    rows = []
    for _ in range(cases):
        curve = family_curve(family, rng, direction)
        events = detector(curve, use_eval_n)
        rows.append(((family, direction), score_online(curve, events, baseline_alarms(curve, river_path))))
    return rows


def run_online(
    cases: int, seed: int, jobs: int, families, river_path=None, use_eval_n: bool = True, detector=None
) -> list:
    """[((family, direction), scores of one curve)] for ``cases`` curves per family and direction.
    ``detector(curve, use_eval_n) -> events`` (objects with ``label`` and ``confirmed_step``;
    ``online_detector`` by default; a module-level function when ``jobs`` > 1)."""
    tasks = [(f, d) for f in families for d in DIRECTIONS]
    run = functools.partial(_task, cases, seed, river_path, use_eval_n, detector or online_detector)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            return [r for rows in ex.map(run, tasks) for r in rows]
    return [r for t in tasks for r in run(t)]


def summarise(scores: list) -> dict:
    """Lags (median, share of the run), the ratio to the oracle, misses, early and false alarms."""
    pos = [s for s in scores if s[0] in ("lag", "miss", "early")]
    neg = [s for s in scores if s[0] in ("false", "clean")]
    mine = float(np.median([s[1] for s in pos])) if pos else math.nan
    orc = float(np.median([s[2] for s in pos])) if pos else math.nan
    out = {
        "n+": len(pos),
        "n-": len(neg),
        "lag": mine,
        "oracle": orc,
        "ratio": mine / orc if pos and orc > 0 else math.nan,
        "miss": np.mean([s[0] == "miss" for s in pos]) if pos else math.nan,
        "early": np.mean([s[0] == "early" for s in pos]) if pos else math.nan,
        "false": np.mean([s[0] == "false" for s in neg]) if neg else math.nan,
    }
    for b in sorted({b for s in pos for b in s[3]}):
        out[f"{b} lag"] = float(np.median([s[3][b] for s in pos]))
        out[f"{b} ratio"] = out[f"{b} lag"] / orc if orc > 0 else math.nan
    for b in sorted({b for s in neg for b in s[1]}):
        flags = [s[1][b] for s in neg if s[1].get(b) is not None]
        out[f"{b} false"] = float(np.mean(flags)) if flags else math.nan
    return out


def main_online(
    cases: int, seed: int, jobs: int, families, river_path=None, use_eval_n: bool = True, detector=None
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from families_benchmark import upper95  # noqa: PLC0415 - sibling script

    rows = run_online(cases, seed, jobs, families, river_path, use_eval_n, detector)
    print(f"\nonline: {cases} curves per family and direction, seed {seed}; lags in % of the run (median)")
    head = f"{'event':<8}{'family':<14}{'dir':<7}{'n+/n-':>9}{'lag':>7}{'oracle':>7}{'ratio':>7}"
    print(head + f"{'missed':>7}{'early':>6}{'false':>6}   baselines: lag % / ratio / false on no-event %")
    groups = [(f, d) for f in families if f in EVENT_FAMILIES for d in DIRECTIONS]
    groups += [("all", d) for d in (*DIRECTIONS, "both")]
    for label in EVENTS:
        for fam, d in groups:
            s = summarise([sc[label] for (f, dd), sc in rows if fam in ("all", f) and d in ("both", dd)])
            if s["n+"]:
                print(f"{label:<8}{fam:<14}{d:<7}{_cells(s)}")
        print()
    for d in (*DIRECTIONS, "both"):
        anyev = [sc["any"][0] for (f, dd), sc in rows if f in NO_EVENT and d in ("both", dd)]
        if anyev:
            k = sum(a == "false" for a in anyev)
            print(
                f"no-event curves ({d}) with any confirmed phase: {k}/{len(anyev)} = {k / len(anyev):.3f} "
                f"(95% upper bound {upper95(k, len(anyev)):.3f})"
            )


def _cells(s: dict) -> str:
    base = "  ".join(
        f"{b}: {100 * s[f'{b} lag']:.1f}/{s[f'{b} ratio']:.2f}/{100 * s.get(f'{b} false', math.nan):.1f}"
        for b in ("ADWIN", "PageHinkley")
        if f"{b} lag" in s
    )
    return (
        f"{s['n+']:>4}/{s['n-']:<4}{100 * s['lag']:>7.1f}{100 * s['oracle']:>7.1f}{s['ratio']:>7.2f}"
        f"{100 * s['miss']:>7.1f}{100 * s['early']:>6.1f}{100 * s['false']:>6.1f}   {base}"
    )


if __name__ == "__main__":
    import argparse

    from phasescope.analysis.curve_families import FAMILIES

    ap = argparse.ArgumentParser(description="calibrate the GLR confirmation, or score it on the families")
    ap.add_argument("--calibrate-glr", action="store_true", help="thresholds from no-event curves")
    ap.add_argument("--glr", type=float, default=None, help="score confirm='glr' at this threshold")
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--seed", type=int, default=None, help="7 to calibrate, 0 to score")
    ap.add_argument("--alpha", type=float, default=0.02)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--river", default=None)
    args = ap.parse_args()
    if args.calibrate_glr:
        print(calibrate_glr(args.cases, 7 if args.seed is None else args.seed, args.alpha))
    else:
        det = functools.partial(online_detector_glr, glr_threshold=args.glr)
        main_online(args.cases, args.seed or 0, args.jobs, list(FAMILIES), args.river, True, det)
