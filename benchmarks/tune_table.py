"""The learning-rate table behind the world card: every trial of one or more `phasescope tune` directories,
per arm, and the values chosen, stamped with where they come from.

    phasescope tune --arms sft,rl,chord_mu --sampler grid --grid-points 3 --trials 3 --name tune600
    python benchmarks/tune_table.py runs/tune600 runs/tune600-stage2 runs/tune600-edge
    python benchmarks/tune_table.py runs/tune600 ... --write docs/results.md    # the generated section

An arm may be tuned in several directories (a narrowed grid, then one more point past its edge): its
trials are pooled, and the chosen value is the best dev score over all of them. Per arm the table
lists every rate tried with its dev score (`phasescope tune`'s score: the mean of the last three dev
evaluations, averaged over the trial's seeds; the held-out set is never read), the chosen values, and
whether the best is still at an end of what was tried that is not an end of the searched range (then
the optimum may lie beyond). It also prints the chosen values as `--set` lines, which is how
`default_arms()` and experiments/default.toml take them. `--write` puts the table, stamped with the
commit, versions and CPU of the first trial, into the doc's `tune-table` section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import optuna
from world_card import markers, write_section

from phasescope.tune.space import LR_RANGE, SFT_LR_RANGE, half_decades


def trials_of(tune_dir: Path) -> dict[str, list[dict]]:
    """arm → its completed trials (values, dev score, per-seed scores, directory) in `tune_dir`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[str, list[dict]] = {}
    for db in sorted(tune_dir.glob("*/study.db")):
        arm = db.parent.name
        study = optuna.load_study(study_name=arm, storage=f"sqlite:///{db.resolve()}")
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            out.setdefault(arm, []).append(
                {
                    "values": dict(t.params),
                    "score": t.value,
                    "seeds": t.user_attrs.get("seed_scores", []),
                    "dir": t.user_attrs.get("dir"),
                    "given": _given_rates(t.user_attrs.get("dir"), arm, t.params),
                }
            )
    return out


def _given_rates(trial_dir: str | None, arm: str, params: dict) -> dict[str, float]:
    """The arm's rates the trial ran at without searching them (a --set, e.g. the SFT stage's rate
    of a two-stage arm), read from the trial's experiment.json."""
    path = Path(trial_dir or "") / "experiment.json"
    if not trial_dir or not path.is_file():
        return {}
    arm_cfg = json.loads(path.read_text())["config"]["arms"].get(arm, {})
    keys = {k: f"arms.{arm}.{k}" for k in ("lr", "sft_lr")}
    return {key: arm_cfg[k] for k, key in keys.items() if arm_cfg.get(k) is not None and key not in params}


def pooled(dirs: list[Path]) -> dict[str, list[dict]]:
    """Every arm's trials over all directories (a value tried twice keeps both trials)."""
    out: dict[str, list[dict]] = {}
    for d in dirs:
        for arm, trials in trials_of(d).items():
            out.setdefault(arm, []).extend(trials)
    return out


def _ladder(key: str) -> tuple[float, ...]:
    return half_decades(*(SFT_LR_RANGE if key.endswith(".sft_lr") else LR_RANGE))


def past_edge(trials: list[dict]) -> list[tuple[str, float, dict]]:
    """For each rate whose best value is the highest or lowest tried and not an end of its range: (key,
    the next half-decade beyond it, the best trial's values with the rates it was given). The recipe
    (tune_defaults.py) tries that value next; the table flags the rate."""
    top = max(trials, key=lambda t: t["score"])
    keep = {**top.get("given", {}), **top["values"]}  # a rate given to the best trial goes along
    out = []
    for key, v in top["values"].items():
        if not key.endswith("lr"):
            continue
        tried = {t["values"][key] for t in trials if key in t["values"]}
        ladder = _ladder(key)
        if v == max(tried) and v < max(ladder):
            out.append((key, min(x for x in ladder if x > v), keep))
        elif v == min(tried) and v > min(ladder):
            out.append((key, max(x for x in ladder if x < v), keep))
    return out


def _short(key: str, v) -> str:
    name = key.rsplit(".", 1)[-1]
    return f"{name} {v:.0e}" if isinstance(v, float) and name.endswith("lr") else f"{name} {v:g}"


def table(arms: dict[str, list[dict]]) -> tuple[list[str], list[str]]:
    """The Markdown table (one row per arm) and the chosen values as `--set` lines."""
    lines = [
        "| arm | trials | dev score per value tried | chosen | best dev score (per seed) | at an edge of what was tried |",
        "|---|---|---|---|---|---|",
    ]
    sets = []
    for arm, trials in arms.items():
        best = max(trials, key=lambda t: t["score"])
        tried = "; ".join(
            f"{', '.join(_short(k, v) for k, v in sorted(t['values'].items()))}: {t['score']:.3f}"
            for t in sorted(trials, key=lambda t: sorted(t["values"].items()))
        )
        chosen = ", ".join(_short(k, v) for k, v in sorted(best["values"].items()))
        if best.get("given"):
            chosen += " (given: " + ", ".join(_short(k, v) for k, v in sorted(best["given"].items())) + ")"
        seeds = ", ".join(f"{s:.3f}" for s in best["seeds"])
        at_edge = ", ".join(key.rsplit(".", 1)[-1] for key, _, _ in past_edge(trials)) or "no"
        lines.append(
            f"| {arm} | {len(trials)} | {tried} | {chosen} | {best['score']:.3f} ({seeds}) | {at_edge} |"
        )
        sets += [f"{k}={v!r}" for k, v in sorted({**best.get("given", {}), **best["values"]}.items())]
    return lines, sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+", help="tune directories (phasescope tune --out/--name)")
    ap.add_argument("--write", metavar="DOC.md", help="write the stamped table into DOC.md's section")
    ap.add_argument("--section", default="tune-table", help="the name of the section --write replaces")
    args = ap.parse_args(argv)
    dirs = [Path(d) for d in args.dirs]
    missing = [str(d) for d in dirs if not list(d.glob("*/study.db"))]
    if missing:
        print(f"error: no tune study found in {', '.join(missing)}", file=sys.stderr)
        return 2
    arms = pooled(dirs)
    lines, sets = table(arms)
    body = [f"Trials pooled from {', '.join(d.name for d in dirs)} (each trial's command and config: its",
            "experiment.json).", "", *lines, "", "Each arm's best values, as --set lines:", ""]  # fmt: skip
    body += [f"    --set {s}" for s in sets]
    print("\n".join(body))
    if args.write:
        first = next(t["dir"] for ts in arms.values() for t in ts if t.get("dir"))
        command = f"python benchmarks/tune_table.py {' '.join(args.dirs)} --write {args.write}"
        write_section(
            Path(args.write), Path(first), body, command, markers(args.section, "benchmarks/tune_table.py")
        )
        print(f"wrote the {args.section} section of {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
