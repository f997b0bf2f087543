"""Where does `sft_steps = "auto"` switch, against the phases the offline segmenter finds on the sft arm?

Usage: python benchmarks/switch_vs_phases.py RUN_DIR
  RUN_DIR: a `phasescope run --arms sft,sft_then_rl --seeds N --set arms.sft_then_rl.sft_steps=auto`
  experiment directory (optionally also an arm with sft_steps="best", named by --best ARM).

Per seed: the offline phases of the sft arm (eval/accuracy: end of the shift = start of readapt,
end of readapt; eval/expert_nll: start of overfit), the auto arm's switch step, the step at which
its detector stopped the SFT stage (and on which metric), and the SFT-best step of a `best` arm.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from phasescope.analysis.phases import label_phases
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.runlog.reader import read_metrics


def phases(rows, metric: str, direction: str):
    pts = [(r["step"], r[metric]) for r in rows if metric in r]
    seg = PhaseSegmenter().fit([p[0] for p in pts], [p[1] for p in pts]).predict()
    return label_phases(seg, direction=direction)


def first(phs, label: str, attr: str):
    hit = [getattr(p, attr) for p in phs if p.label == label]
    return (min(hit) if attr == "start_step" else max(hit)) if hit else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--auto", default="sft_then_rl")
    ap.add_argument("--best", default=None)
    a = ap.parse_args()
    print("seed | readapt (acc) | overfit onset (nll) | auto: switch, stopped at (by) | SFT-best")
    for sft in sorted((a.run_dir / "sft").glob("seed*")):
        if not (a.run_dir / a.auto / sft.name / "switch.json").exists():
            continue  # a seed the auto arm did not run
        rows = read_metrics(sft / "metrics.jsonl")
        acc = phases(rows, "eval/accuracy", "higher")
        nll = phases(rows, "eval/expert_nll", "lower")
        readapt = (first(acc, "readapt", "start_step"), first(acc, "readapt", "end_step"))
        onset = first(nll, "overfit", "start_step")
        sw = json.loads((a.run_dir / a.auto / sft.name / "switch.json").read_text())
        stop = sw.get("stopped_by") or {}
        by = (
            f"{stop['confirmed_step']:.0f} ({stop['metric']})" if stop else f"none in {sw['sft_stage_steps']}"
        )
        best = "-"
        if a.best and (a.run_dir / a.best / sft.name / "switch.json").exists():
            best = json.loads((a.run_dir / a.best / sft.name / "switch.json").read_text())["switch_step"]
        print(f"{sft.name} | {readapt[0]}–{readapt[1]} | {onset} | {sw['switch_step']}, {by} | {best}")
        print(f"   acc phases: {[(p.label, p.start_step, p.end_step) for p in acc]}")
        print(f"   nll phases: {[(p.label, p.start_step, p.end_step) for p in nll]}")


if __name__ == "__main__":
    main()
