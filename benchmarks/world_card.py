"""The embedded world's card: which of the CHORD paper's findings this world reproduces, over seeds.

Reads an experiment directory that holds the default arms over several seeds (or runs one first) and
prints one markdown row per finding of the paper: what was measured (mean ± sd over seeds; for a
comparison the difference of means with its Welch 95% CI) and whether the world reproduces it.

    OMP_NUM_THREADS=1 python benchmarks/world_card.py --run --seeds 5   # about 5 × the default run
    python benchmarks/world_card.py runs/world-card                     # an existing experiment

Per seed, on the held-out `eval/accuracy` (the target skill) and `eval/general_accuracy` (the skill
nobody trains), with "final" the last evaluation of the run:
- shift: the SFT arm's minimum is ≥ 0.15 below the base (step 0);
- readapt: its best after that minimum is ≥ 0.10 above the base;
- overfit: its final is ≥ 0.05 below its best, or `eval/expert_nll` (held-out expert demonstrations)
  ends ≥ 20% above its minimum;
- SFT costs the general skill: the SFT arm's final general accuracy is ≥ 0.10 below the base's;
- RL alone plateaus: pure RL gains < 0.05 over the second half of its run and ends below the best arm
  that uses expert data;
- comparisons of final accuracy (or general accuracy): reproduced when the Welch 95% CI of the
  difference excludes 0 in the paper's direction.
A per-seed row is "yes" only when every seed shows it. Nothing here is tuned to an arm's win: the
card reports whatever ordering the world gives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from phasescope.analysis.compare import welch
from phasescope.runlog.reader import read_metrics

ACC, GEN, NLL = "eval/accuracy", "eval/general_accuracy", "eval/expert_nll"
EXPERT_ARMS = ("sft", "sft_then_rl", "sft_light_then_rl", "chord_mu", "chord_phi")


def series(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    if not pts:
        return np.array([]), np.array([])
    s, v = zip(*pts, strict=True)
    return np.asarray(s, float), np.asarray(v, float)


def load(exp: Path) -> dict[str, dict[int, list[dict]]]:
    """arm → seed → metrics rows."""
    out: dict[str, dict[int, list[dict]]] = {}
    for m in sorted(exp.glob("*/seed*/metrics.jsonl")):
        out.setdefault(m.parent.parent.name, {})[int(m.parent.name[4:])] = read_metrics(m)
    return out


def sft_phases(rows: list[dict]) -> dict[str, float]:
    """Per-seed shift, readapt and overfit measures of an SFT curve (see the module docstring)."""
    _, acc = series(rows, ACC)
    _, gen = series(rows, GEN)
    _, nll = series(rows, NLL)
    base, i_min = acc[0], int(np.argmin(acc))
    best = float(acc[i_min:].max())
    out = {
        "base": float(base),
        "min": float(acc.min()),
        "best": best,
        "final": float(acc[-1]),
        "shift": float(base - acc.min()),
        "readapt": float(best - base),
        "fall": float(best - acc[-1]),
        "gen_cost": float(gen[0] - gen[-1]) if len(gen) else float("nan"),
    }
    out["nll_rise"] = float(nll[-1] / nll[int(np.argmin(nll))] - 1) if len(nll) else float("nan")
    return out


def final(rows: list[dict], key: str = ACC) -> float:
    return float(series(rows, key)[1][-1])


def second_half_gain(rows: list[dict]) -> float:
    steps, acc = series(rows, ACC)
    mid = int(np.searchsorted(steps, steps[-1] / 2))
    return float(acc[-1] - acc[mid])


def pm(x) -> str:
    x = np.asarray(x, float)
    return f"{x.mean():.3f} ± {x.std(ddof=1):.3f}" if len(x) > 1 else f"{x.mean():.3f}"


def diff_cell(a, b) -> tuple[str, bool | None]:
    w = welch(a, b)
    if w["ci"] is None:
        return f"{w['diff']:+.3f} (no CI)", None
    lo, hi = w["ci"]
    return f"{w['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]", lo > 0


def per_seed_row(name: str, vals: list[float], ok: list[bool], fmt: str) -> str:
    seeds = ", ".join(fmt.format(v) for v in vals)
    verdict = "yes" if all(ok) else f"no ({sum(ok)}/{len(ok)} seeds)"
    return f"| {name} | {pm(vals)} (per seed: {seeds}) | {verdict} |"


def card(runs: dict[str, dict[int, list[dict]]]) -> list[str]:
    lines = [
        "| finding (paper) | this world: mean ± sd over seeds / difference [Welch 95% CI] | reproduced |"
    ]
    lines.append("|---|---|---|")
    sft = [sft_phases(r) for _, r in sorted(runs["sft"].items())]
    shift, readapt = [p["shift"] for p in sft], [p["readapt"] for p in sft]
    lines.append(
        per_seed_row(
            "SFT shifts: accuracy drops below the base (by ≥ 0.15)",
            shift,
            [v >= 0.15 for v in shift],
            "{:.3f}",
        )
    )
    lines.append(
        per_seed_row(
            "SFT readapts: recovers above the base (by ≥ 0.10)",
            readapt,
            [v >= 0.10 for v in readapt],
            "{:.3f}",
        )
    )
    ok = [p["fall"] >= 0.05 or p["nll_rise"] >= 0.20 for p in sft]
    falls = ", ".join(f"{p['fall']:.3f}/{p['nll_rise'] * 100:.0f}%" for p in sft)
    lines.append(
        f"| SFT overfits: accuracy falls ≥ 0.05 below its best, or held-out expert NLL rises ≥ 20% | "
        f"fall {pm([p['fall'] for p in sft])}, NLL rise {pm([p['nll_rise'] for p in sft])} "
        f"(per seed fall/rise: {falls}) | {'yes' if all(ok) else f'no ({sum(ok)}/{len(ok)} seeds)'} |"
    )
    cost = [p["gen_cost"] for p in sft]
    lines.append(
        per_seed_row("SFT costs the general skill (by ≥ 0.10)", cost, [v >= 0.10 for v in cost], "{:.3f}")
    )
    finals = {a: [final(r) for _, r in sorted(s.items())] for a, s in runs.items()}
    gens = {a: [final(r, GEN) for _, r in sorted(s.items())] for a, s in runs.items()}
    if "rl" in runs:
        gain = [second_half_gain(r) for _, r in sorted(runs["rl"].items())]
        best = max((a for a in EXPERT_ARMS if a in finals), key=lambda a: np.mean(finals[a]))
        cell, above = diff_cell(finals[best], finals["rl"])
        ok = np.mean(gain) < 0.05 and bool(above)
        lines.append(
            f"| RL alone plateaus below the expert's reach | RL final {pm(finals['rl'])}, gain over its "
            f"second half {pm(gain)}; best expert arm ({best}) − RL {cell} | {'yes' if ok else 'no'} |"
        )
    for a, b, what in (
        ("sft_then_rl", "rl", "SFT-then-RL beats RL"),
        ("sft_light_then_rl", "rl", "SFT-light-then-RL beats RL"),
        ("chord_mu", "sft_then_rl", "CHORD-μ beats SFT-then-RL"),
        ("chord_mu", "rl", "CHORD-μ beats RL"),
        ("chord_phi", "sft_then_rl", "CHORD-φ beats SFT-then-RL"),
        ("chord_phi", "rl", "CHORD-φ beats RL"),
    ):
        if a in finals and b in finals:
            cell, ok = diff_cell(finals[a], finals[b])
            lines.append(
                f"| {what} (final accuracy) | {a} {pm(finals[a])} vs {b} {pm(finals[b])}: {cell} | "
                f"{'yes' if ok else 'no'} |"
            )
    for b in ("sft_then_rl", "chord_mu"):
        if "chord_phi" in gens and b in gens:
            cell, ok = diff_cell(gens["chord_phi"], gens[b])
            lines.append(
                f"| CHORD-φ keeps the general skill better than {b} (final general accuracy) | "
                f"chord_phi {pm(gens['chord_phi'])} vs {b} {pm(gens[b])}: {cell} | {'yes' if ok else 'no'} |"
            )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("exp", nargs="?", default="runs/world-card", help="experiment directory")
    ap.add_argument("--run", action="store_true", help="run the default experiment into EXP first")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="also print the per-seed SFT measures as JSON")
    args = ap.parse_args()
    exp = Path(args.exp)
    if args.run:
        cmd = [
            sys.executable,
            "-m",
            "phasescope.cli",
            "run",
            "--seeds",
            str(args.seeds),
            "--out",
            str(exp.parent),
            "--name",
            exp.name,
            "--overwrite",
        ]
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    runs = load(exp)
    if "sft" not in runs:
        print(f"{exp}: no sft arm runs found", file=sys.stderr)
        return 2
    print(f"{exp}: arms {', '.join(sorted(runs))}; seeds {sorted(runs['sft'])}")
    print("\n".join(card(runs)))
    if args.json:
        print(json.dumps({s: sft_phases(r) for s, r in sorted(runs["sft"].items())}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
