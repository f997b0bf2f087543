"""How far each arm's numbers move when only the float kernels change: compare run directories of one
config trained under different CPU kernel paths (or on different machines), arm by arm.

    for cap in avx2 default; do
        ATEN_CPU_CAPABILITY=$cap phasescope run --set train.max_steps=200 --out runs/xm --name $cap
    done
    phasescope run --set train.max_steps=200 --out runs/xm --name native
    python benchmarks/machine_diff.py runs/xm/native runs/xm/avx2 runs/xm/default [--write docs/results.md]

Per arm (seed 0 of world draw 0): the final `eval/accuracy` in each directory, and against the first
directory the first step where any logged value differs (kernels change the last bits at once), the
largest relative difference of `train/loss` over its SFT and mixed updates before the runs part, and the first step where a discrete outcome
differs: the rollouts' mean reward (a sampled completion changed) or held-out accuracy. `--write`
puts the table, stamped with the first directory's commit, versions and CPU, into the doc's
`machine-diff` section.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from world_card import markers, write_section

from phasescope.runlog.reader import read_metrics

ARMS = ("sft", "rl", "sft_then_rl", "sft_light_then_rl", "chord_mu", "chord_phi")
NOT_NUMBERS = ("time/", "perf/")  # wall-clock readings differ on every run


def rows_by_step(run: Path, arm: str) -> dict[float, dict]:
    return {r["step"]: r for r in read_metrics(run / arm / "seed0" / "metrics.jsonl") if "step" in r}


def first_difference(a: dict, b: dict, keys: tuple[str, ...] | None = None) -> float | None:
    """The first step where a value of `keys` (every numeric key when None) differs between a and b."""
    for step in sorted(a.keys() & b.keys()):
        x, y = a[step], b[step]
        for k in keys or x.keys():
            if k.startswith(NOT_NUMBERS) or "seconds" in k:
                continue
            u, v = x.get(k), y.get(k)
            if isinstance(u, (int, float)) and isinstance(v, (int, float)) and u != v:
                return step
    return None


def largest_loss_gap(a: dict, b: dict, before: float | None = None) -> float | None:
    """The largest relative train/loss difference over updates with an SFT term (a GRPO loss is often
    exactly or nearly 0, where a relative gap means nothing) before step `before` (where the runs
    parted: past it they are two runs, and the gap is no longer float drift)."""
    gaps = [
        abs(a[s]["train/loss"] - b[s]["train/loss"]) / abs(a[s]["train/loss"])
        for s in a.keys() & b.keys()
        if (before is None or s < before)
        and a[s].get("stage") in ("sft", "mixed")
        and isinstance(a[s].get("train/loss"), float)
        and isinstance(b[s].get("train/loss"), float)
        and a[s]["train/loss"]
    ]
    return max(gaps, default=None)


def final_accuracy(rows: dict) -> str:
    accs = [r["eval/accuracy"] for _, r in sorted(rows.items()) if "eval/accuracy" in r]
    return f"{accs[-1]:.3f}" if accs else "-"


def table(runs: list[Path]) -> list[str]:
    names = [p.name for p in runs]
    head = "| arm | final accuracy (" + " / ".join(names) + ") | first step any value differs | "
    head += "largest relative train/loss gap before they part (SFT, mixed updates) | first step a sampled reward differs | first step accuracy differs |"
    lines = [head, "|---|---|---|---|---|---|"]
    step = lambda s: "never" if s is None else f"{s:g}"  # noqa: E731
    for arm in ARMS:
        data = [rows_by_step(r, arm) for r in runs]
        if not all(data):
            continue
        base, others = data[0], data[1:]
        firsts = [first_difference(base, o) for o in others]
        rewards = [first_difference(base, o, ("rollout/reward_mean",)) for o in others]
        accs = [first_difference(base, o, ("eval/accuracy",)) for o in others]
        parted = [min((s for s in (r, a) if s is not None), default=None) for r, a in zip(rewards, accs)]
        gaps = [largest_loss_gap(base, o, p) for o, p in zip(others, parted)]
        gap = ", ".join(f"{g:.1e}" for g in gaps) if all(g is not None for g in gaps) else "- (no SFT term)"
        lines.append(
            f"| {arm} | {' / '.join(final_accuracy(d) for d in data)} | {', '.join(map(step, firsts))} | "
            f"{gap} | {', '.join(map(step, rewards))} | {', '.join(map(step, accs))} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "runs", nargs="+", help="experiment directories of one config (the first is the reference)"
    )
    ap.add_argument("--write", metavar="DOC.md", help="write the stamped table into a section of DOC.md")
    ap.add_argument(
        "--section", default="machine-diff", help="the section's marker name (default: machine-diff)"
    )
    args = ap.parse_args(argv)
    runs = [Path(r) for r in args.runs]
    if len(runs) < 2:
        print("give at least two experiment directories", file=sys.stderr)
        return 2
    lines = table(runs)
    print("\n".join(lines))
    if args.write:
        command = f"python benchmarks/machine_diff.py {' '.join(args.runs)} --write {args.write}"
        command += f" --section {args.section}" if args.section != "machine-diff" else ""
        bounds = markers(args.section, "benchmarks/machine_diff.py")
        write_section(Path(args.write), runs[0], lines, command, bounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
