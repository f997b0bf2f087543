"""Phase reading on curves the segmenter was not built from (``phasescope.analysis.curve_families``).

Every family (the segmenter's own generator is one of them) is drawn ``--cases`` times in each
direction (higher-is-better accuracy or reward, lower-is-better loss or NLL), read by a detector,
and scored against the curve's ground truth. Per family, direction and overall:

- F1: a found changepoint matches a true event (shift end = the clean curve's worst point,
  overfit start = its best point, the sharp corners of the planted family) within 5% of the span
  of the event's window (where the clean curve is within 3% of its range of the extreme: on a flat
  bottom or top any point is the event; a sharp turn's window is the point itself);
  adjacent phases with the same name are merged first (a boundary between two improves is not a
  phase change), and a found changepoint inside a neutral zone (the bend of a smooth transition,
  where a phase meets a plateau with no true corner) counts neither as a hit nor as a false alarm;
- presence: the share of curves whose set of named phases (shift, readapt, improve, overfit) is
  exactly right;
- coverage: the share of ALL true changepoints whose matched found changepoint's interval holds
  it; a missed changepoint counts as not covered;
- false phase: on the no-event families (flat, drifting, heavy-tailed, flat fixed eval set, flat
  rollouts), the share of curves given any named phase, with its Clopper-Pearson 95% upper bound.

The detector is a function ``curve -> phases`` (objects or dicts with ``label``, ``start_step``,
``ci``), so a modified segmenter plugs in (``score_families(my_detector, ...)``);
``offline_detector`` is today's ``PhaseSegmenter`` + ``label_phases``, told the eval set's size
where the curve has one (``--hide-eval-n``: never, as for a foreign log); ``--detector
module:function`` reads with another (a module-level function, so that ``--jobs`` can pickle it).
``--online N`` adds the online detector's lags against an oracle (``families_online``;
``--online-detector module:function`` for another).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/families_benchmark.py --cases 80 --seed 0 --jobs 2
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import beta

from phasescope.analysis.curve_families import EVENT_FAMILIES, FAMILIES, NO_EVENT, family_curve
from phasescope.analysis.phases import NAMED, label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.synthetic import f1_score

DIRECTIONS = ("higher", "lower")


def offline_detector(curve, use_eval_n: bool = True) -> list:
    """Today's offline reading: ``PhaseSegmenter`` (told ``eval_n`` when known) + ``label_phases``."""
    kw = {"eval_n": curve.eval_n} if use_eval_n and curve.eval_n else {}
    seg = PhaseSegmenter(**kw).fit(curve.steps, curve.values).predict()
    return label_phases(seg, curve.direction)


def truth_detector(curve) -> list[dict]:
    """The ground truth as a reading (intervals of ±1% of the span): the harness's known answer,
    it scores F1 = presence = coverage = 1 and no false phase."""
    phases, cps = list(curve.phases), list(curve.changepoints)
    if len(phases) != len(cps) + 1:  # smooth families list only the events; their plateaus are bends
        phases = [p for p in phases if p in NAMED] or ["plateau"]
    starts = [float(curve.steps[0]), *cps]
    w = 0.01 * curve.span
    return [
        {"label": lab, "start_step": s, "ci": (s - w, s + w)} for lab, s in zip(phases, starts, strict=True)
    ]


def _field(p, name):
    return p[name] if isinstance(p, dict) else getattr(p, name)


def merged(phases) -> list[tuple[str, float, tuple[float, float] | None]]:
    """(label, start, start interval) per phase, adjacent phases of the same label merged."""
    out: list = []
    for p in phases:
        label, start = _field(p, "label"), float(_field(p, "start_step"))
        ci = _field(p, "ci") if (isinstance(p, dict) and "ci" in p) or hasattr(p, "ci") else None
        if not out or out[-1][0] != label:
            out.append((label, start, None if ci is None else tuple(ci)))
    return out


def matched_pairs(windows: list[tuple[float, float]], found: list[float], tol: float) -> dict[int, int]:
    """{true index: found index}: nearest pairs first, each point used once, a found changepoint
    matching a true event within ``tol`` of its window; with point windows this is exactly the
    pairing ``synthetic.match_changepoints`` counts."""
    dist = [[max(lo - f, f - hi, 0.0) for f in found] for lo, hi in windows]
    pairs = sorted((dist[i][j], i, j) for i in range(len(windows)) for j in range(len(found)))
    out: dict[int, int] = {}
    for d, i, j in pairs:
        if d <= tol and i not in out and j not in out.values():
            out[i] = j
    return out


def score_reading(curve, phases) -> Counter:
    """Counts for one curve: tp, fp, fn, covered, n_true, presence, false_phase, n."""
    read = merged(phases)
    found = [s for _, s, _ in read[1:]]
    tol = 0.05 * curve.span
    pairs = matched_pairs(curve.windows, found, tol)
    spare = [f for j, f in enumerate(found) if j not in pairs.values()]
    fp = sum(not any(a - tol <= f <= b + tol for a, b in curve.neutral) for f in spare)
    covered = 0
    for i, j in pairs.items():  # a true changepoint with no match is not covered
        ci, (lo, hi) = read[1 + j][2], curve.windows[i]
        covered += ci is not None and ci[0] <= hi and lo <= ci[1]
    named = {lab for lab, _, _ in read} & set(NAMED)
    return Counter(
        tp=len(pairs),
        fp=fp,
        fn=len(curve.windows) - len(pairs),
        covered=covered,
        n_true=len(curve.windows),
        presence=int(named == set(curve.phases) & set(NAMED)),
        false_phase=int(bool(named) and curve.family in NO_EVENT),
        n=1,
    )


def _rng(seed: int, family: str, direction: str) -> np.random.Generator:
    """The same curves for a (seed, family, direction) whatever else is run, and however many jobs."""
    return np.random.default_rng([seed, zlib.crc32(family.encode()), DIRECTIONS.index(direction)])


def score_group(detector, family: str, direction: str, cases: int, seed: int) -> tuple[Counter, list]:
    """Summed counts over ``cases`` curves of one family and direction, and the misread ones."""
    rng = _rng(seed, family, direction)
    total, wrong = Counter(), []
    for i in range(cases):
        curve = family_curve(family, rng, direction)
        c = score_reading(curve, detector(curve))
        total.update(c)
        if not c["presence"]:
            wrong.append(
                (
                    family,
                    direction,
                    i,
                    "→".join(curve.phases),
                    "→".join(x[0] for x in merged(detector(curve))),
                )
            )
    return total, wrong


def score_families(
    detector=offline_detector, cases: int = 20, seed: int = 0, jobs: int = 1, families=FAMILIES
):
    """{(family, direction): Counter} with the pooled rows, and the misread curves."""
    tasks = [(f, d) for f in families for d in DIRECTIONS]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            results = list(ex.map(functools.partial(_group_task, detector, cases, seed), tasks))
    else:
        results = [_group_task(detector, cases, seed, t) for t in tasks]
    sums: dict = {}
    wrong: list = []
    for (family, direction), (c, w) in zip(tasks, results, strict=True):
        wrong += w
        pooled = "all events" if family in EVENT_FAMILIES else "all no-event"
        for key in (
            (family, direction),
            (pooled, direction),
            (pooled, "both"),
            ("all", direction),
            ("all", "both"),
        ):
            sums.setdefault(key, Counter()).update(c)
    return sums, wrong


def _group_task(detector, cases, seed, task):
    return score_group(detector, task[0], task[1], cases, seed)


def upper95(k: int, n: int) -> float:
    """Clopper-Pearson upper end of the two-sided 95% interval of a rate k/n."""
    return 1.0 if k >= n else float(beta.ppf(0.975, k + 1, n - k))


def rates(c: Counter) -> dict:
    return {
        "F1": f1_score(c["tp"], c["fp"], c["fn"]),
        "presence": c["presence"] / c["n"],
        "coverage": c["covered"] / c["n_true"] if c["n_true"] else float("nan"),
        "false phase": c["false_phase"] / c["n"],
        "fp/curve": c["fp"] / c["n"],
        "upper95": upper95(c["false_phase"], c["n"]),
    }


def table_rows(sums: dict) -> list[dict]:
    """One row per family and direction, then the pooled rows, in a fixed order."""
    families = [f for f in FAMILIES if any((f, d) in sums for d in DIRECTIONS)]
    keys = [(f, d) for f in families for d in DIRECTIONS]
    keys += [
        (g, d) for g in ("all events", "all no-event", "all") for d in (*DIRECTIONS, "both") if (g, d) in sums
    ]
    rows = []
    for key in keys:
        if key not in sums:
            continue
        r = rates(sums[key])
        no_event = key[0] in NO_EVENT or key[0] == "all no-event"
        rows.append(
            {"family": key[0], "direction": key[1], "curves": sums[key]["n"], **r, "no_event": no_event}
        )
    return rows


def format_table(rows: list[dict]) -> str:
    head = f"{'family':<14}{'dir':<7}{'curves':>7}{'F1':>8}{'presence':>10}{'coverage':>10}"
    head += f"{'false ph':>10}{'≤ (95%)':>9}{'fp/curve':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = (
            ["-", "-", "-"]
            if r["no_event"]
            else [f"{r['F1']:.3f}", f"{r['presence']:.3f}", f"{r['coverage']:.3f}"]
        )
        if r["family"] == "all events" or r["family"] in EVENT_FAMILIES:
            fph = ["-", "-"]
        else:
            fph = [f"{r['false phase']:.3f}", f"{r['upper95']:.3f}"]
        lines.append(
            f"{r['family']:<14}{r['direction']:<7}{r['curves']:>7}{cells[0]:>8}{cells[1]:>10}{cells[2]:>10}"
            f"{fph[0]:>10}{fph[1]:>9}{r['fp/curve']:>10.3f}"
        )
    return "\n".join(lines)


def write_table(doc: Path, rows: list[dict], argv) -> None:
    """The offline table as the stamped ``families`` section of ``doc`` (``world_card.write_section``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from world_card import code_stamp_line, markers, write_section  # noqa: PLC0415 - a sibling script

    lines = [
        "| family | direction | curves | F1 | presence | coverage | false phase | ≤ (95%) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ev = "-" if r["no_event"] else None
        cells = [ev or f"{r[k]:.3f}" for k in ("F1", "presence", "coverage")]
        fp = (
            [f"{r['false phase']:.3f}", f"{r['upper95']:.3f}"]
            if r["no_event"] or r["family"] in ("all", "all no-event")
            else ["-", "-"]
        )
        bold = "**" if r["family"].startswith("all") else ""
        lines.append(
            f"| {bold}{r['family']}{bold} | {r['direction']} | {r['curves']} | "
            + " | ".join(cells + fp)
            + " |"
        )
    args = " ".join(a for a in (sys.argv[1:] if argv is None else argv) if not a.endswith(".md"))
    command = f"python benchmarks/families_benchmark.py {args.replace('--write', '').strip()} --write DOC.md"
    write_section(
        doc,
        None,
        lines,
        " ".join(command.split()),
        markers("families", "benchmarks/families_benchmark.py"),
        code_stamp_line(),
    )


def load_function(spec: str):
    """``package.module:function`` -> the function (a detector another branch provides)."""
    module, _, name = spec.partition(":")
    if not name:
        raise SystemExit(f"--detector takes module:function, got {spec!r}")
    return getattr(importlib.import_module(module), name)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=80, help="curves per family and direction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--hide-eval-n", action="store_true", help="never tell the segmenter the eval set's size")
    ap.add_argument(
        "--online", type=int, default=0, help="also score the online detector on N curves per group"
    )
    ap.add_argument(
        "--river", default=None, help="a folder holding the river package (ADWIN, Page-Hinkley baselines)"
    )
    ap.add_argument("--errors", type=int, default=15, help="misread curves to list")
    ap.add_argument(
        "--detector", default=None, help="module:function reading a curve (default: offline_detector)"
    )
    ap.add_argument("--online-detector", default=None, help="module:function (curve, use_eval_n) -> events")
    ap.add_argument(
        "--write", metavar="DOC.md", help="write the offline table into DOC.md's families section"
    )
    args = ap.parse_args(argv)
    detector = functools.partial(offline_detector, use_eval_n=not args.hide_eval_n)
    if args.detector:
        detector = load_function(args.detector)
    if args.cases:
        t0 = time.perf_counter()
        sums, wrong = score_families(detector, args.cases, args.seed, args.jobs, args.families)
        print(
            f"offline: {args.cases} curves per family and direction, seed {args.seed}; eval_n "
            f"{'hidden' if args.hide_eval_n else 'given where known'}; F1 tolerance 5% of the span\n"
        )
        print(format_table(table_rows(sums)))
        if wrong:
            print(
                f"\nmisread phase sets ({len(wrong)}; first {args.errors}: "
                "family, direction, case: truth → read)"
            )
            for w in wrong[: args.errors]:
                print(f"  {w[0]}, {w[1]}, #{w[2]}: {w[3]} → {w[4]}")
        print(f"\n({time.perf_counter() - t0:.0f}s)")
        if args.write:
            write_table(Path(args.write), table_rows(sums), argv)
    if args.online:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from families_online import main_online  # noqa: PLC0415 - a sibling script

        online = load_function(args.online_detector) if args.online_detector else None
        main_online(
            args.online, args.seed, args.jobs, args.families, args.river, not args.hide_eval_n, online
        )


if __name__ == "__main__":
    main()
