"""How the default experiment's learning rates were chosen: `phasescope tune` on the dev split, arm by
arm, at the comparison's budget (600 updates, 2 seeds per trial), then the table.

    OMP_NUM_THREADS=1 python benchmarks/tune_defaults.py --out runs          # about 70 min on 2 cores
    python benchmarks/tune_table.py runs/tune600 runs/tune600-edge* runs/tune600-stage2 --write docs/results.md

1. Single-stage arms (sft, dft: `sft_lr`; rl, chord_mu, chord_phi, luffy, srft, hpt: `lr`): the three
   half-decades around the configured rate (`--sampler grid --grid-points 3`).
2. Widen: an arm whose best is at an end of what it tried (not an end of the range) tries the next
   half-decade, one value (`--grid-points 1`, its other values at their best), until it is not.
3. Two-stage arms and ReLIFT (sft_then_rl, sft_light_then_rl, dft_then_rl, relift): their SFT updates
   at the rate SFT (DFT for dft_then_rl) chose in 1-2, their RL rate on the three half-decades around
   the rl arm's chosen one; then widened as in 2. Coordinate-wise rather than the 3 × 3 grid, which
   would triple this stage's cost: an SFT stage is SFT, and its rate was tuned on SFT alone.
4. The expert ratio at the tuned rates, for CHORD-μ and CHORD-φ (`--knobs expert_data_ratio`, each of
   0.125, 0.25, 0.5, 1.0). The ratio is run-wide (it also sets SFT's batch), so it is reported, not
   applied, unless both CHORD arms prefer the same one.

The controls (sft_scaled, chord_phi_mu03) take CHORD-φ's rate and chord_phi_mu1 SFT's: a control
changes one thing. Nothing here reads the held-out set (tune's trials never evaluate it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import tune_table  # noqa: E402

STAGE1 = ("sft", "dft", "rl", "chord_mu", "chord_phi", "luffy", "srft", "hpt")
STAGE2 = ("sft_then_rl", "sft_light_then_rl", "dft_then_rl", "relift")


class Recipe:
    def __init__(self, out: Path, prefix: str, extra: list[str]):
        self.out, self.prefix, self.extra = out, prefix, extra
        self.dirs = [out / prefix]
        self.rounds = 0

    def tune(self, name: str, *args: str) -> None:
        cmd = [sys.executable, "-m", "phasescope.cli", "tune", *args, *self.extra]
        cmd += ["--out", str(self.out), "--name", name]
        print("$ phasescope", " ".join(cmd[3:]), flush=True)
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})

    def best(self, arm: str) -> dict:
        trials = tune_table.pooled([d for d in self.dirs if d.exists()])[arm]
        return max(trials, key=lambda t: t["score"])["values"]

    def widen(self, arms) -> None:
        """Step 2: one half-decade past an edge per round, until no arm's best is at one."""
        while True:
            pooled = tune_table.pooled([d for d in self.dirs if d.exists()])
            todo = [(arm, *step) for arm in arms for step in next_steps(pooled[arm])]
            if not todo:
                return
            self.rounds += 1
            name = f"{self.prefix}-edge{self.rounds}"
            for arm, key, value, best in todo:
                sets = [f"{k}={value if k == key else v!r}" for k, v in best.items()]
                label = "learning_rate" if key.endswith(".lr") else "sft_lr"
                self.tune(name, "--arms", arm, "--sampler", "grid", "--grid-points", "1", "--knobs", label,
                          "--trials", "1", *(a for s in sets for a in ("--set", s)))  # fmt: skip
            self.dirs.append(self.out / name)


next_steps = tune_table.past_edge  # (key, the next value to try, the values that go along)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs", help="parent folder of the tune directories")
    ap.add_argument("--prefix", default="tune600", help="tune directory names: PREFIX, PREFIX-edgeN, ...")
    ap.add_argument("--set", action="append", default=[], help="extra --set for every trial")
    args = ap.parse_args(argv)
    r = Recipe(Path(args.out), args.prefix, [a for s in args.set for a in ("--set", s)])
    r.tune(
        args.prefix, "--arms", ",".join(STAGE1), "--sampler", "grid", "--grid-points", "3", "--trials", "3"
    )
    r.widen(STAGE1)
    rl, sft, dft = (
        r.best("rl")["arms.rl.lr"],
        r.best("sft")["arms.sft.sft_lr"],
        r.best("dft")["arms.dft.sft_lr"],
    )
    sets = [f"train.learning_rate={rl!r}"] + [
        f"arms.{arm}.sft_lr={(dft if arm == 'dft_then_rl' else sft)!r}" for arm in STAGE2
    ]
    stage2 = f"{args.prefix}-stage2"
    r.tune(stage2, "--arms", ",".join(STAGE2), "--sampler", "grid", "--grid-points", "3",
           "--knobs", "learning_rate", "--trials", "3", *(a for s in sets for a in ("--set", s)))  # fmt: skip
    r.dirs.append(r.out / stage2)
    r.widen(STAGE2)
    lrs = [f"arms.{a}.lr={r.best(a)[f'arms.{a}.lr']!r}" for a in ("chord_mu", "chord_phi")]
    r.tune(f"{args.prefix}-ratio", "--arms", "chord_mu,chord_phi", "--sampler", "grid",
           "--knobs", "expert_data_ratio", "--trials", "4", *(a for s in lrs for a in ("--set", s)))  # fmt: skip
    lines, chosen = tune_table.table(tune_table.pooled([d for d in r.dirs if d.exists()]))
    print("\n".join(lines), "", *(f"--set {s}" for s in chosen), sep="\n")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except subprocess.CalledProcessError as exc:  # the tune command printed its own one-line error
        print(
            f"error: {' '.join(map(str, exc.cmd[3:6]))} ... stopped with exit {exc.returncode}",
            file=sys.stderr,
        )
        raise SystemExit(exc.returncode) from None
