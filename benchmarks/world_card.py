"""The embedded world's card: which of the CHORD paper's findings this world reproduces, over replicates.

Reads an experiment directory (or runs the default one first) and prints one markdown row per finding
of the paper: what kind of finding it is here, what was measured and whether the world reproduces it.

    OMP_NUM_THREADS=1 python benchmarks/world_card.py --run --seeds 3 --world-seeds 3   # 9 replicates
    python benchmarks/world_card.py runs/world-card                     # an existing experiment
    python benchmarks/world_card.py runs/world-card --write docs/results.md   # the generated section

A replicate is (world draw, seed): runs live in `<arm>/seed<k>` (draw 0) and `<arm>/world<w>-seed<k>`
(docs/world.md#world-draws), and every statement below is over all replicates. `--write` replaces the
section between the `world-card` markers of a markdown file (appended when absent) with a stamp (the
commit, package versions and CPU model of the run, and the commit the card was written at), a per-arm
table of every arm present, the spread between world draws on its own line, and the card: tables in
the docs come from this code, not from hand copies.

**Kind.** Each row says whether the finding was a *selection criterion* of the world or an
*independent result*. The world's base, expert set, slip rate and task were chosen so that the `sft`
arm shows shift, readapt and overfit, that SFT costs a general skill, and that RL in the base's style
plateaus (docs/design.md#why-the-world-looks-like-this): those rows restate how the world was chosen
and are no evidence for the paper. The arm comparisons were never tuned for; they are the results.

Per replicate, on the held-out `eval/accuracy` (the target skill) and `eval/general_accuracy` (the
skill nobody trains), "final" the last evaluation of the run:
- shift: the SFT arm's minimum is ≥ 0.15 below the base (step 0);
- readapt: its best after that minimum is ≥ 0.10 above the base;
- overfit: `eval/expert_nll` (held-out expert demonstrations) ends ≥ 20% above its minimum, or the
  accuracy falls ≥ 0.05 below its best. The row says on which metric it shows, and whether the
  accuracy fall (best − final of one curve) exceeds the eval set's noise: two evaluations of a rate
  near the best on the same `world.n_eval` problems, treated as independent, differ by √2·se with
  se = √(p(1−p)/n) (`noise.binomial_se`); a fall counts as beyond noise above 1.96·√2·se
  (`noise.SEPARABLE_Z`). Scoring the same problems makes the real noise of the difference smaller,
  picking the best evaluation makes the fall larger: the band is a yardstick, not a test;
- SFT costs the general skill: the SFT arm's final general accuracy is ≥ 0.10 below the base's;
- RL alone plateaus: pure RL gains < 0.05 over the second half of its run, and the best arm that uses
  expert data ends above it (its Holm interval, below, excludes 0).
A per-replicate row is "yes" only when every replicate shows it.

Comparisons use the project's own comparison (`phasescope.analyse`, docs/statistics.md), not a test
of their own: per pair the paired two-level bootstrap over (world, seed) replicates and problems where
per-problem results exist (the row names the test used otherwise), with Holm's correction over every
pair × quantity of the metric. A comparison is reproduced only when the **Holm-corrected** interval
(`ci_holm`) excludes 0 in the paper's direction; the uncorrected paired 95% interval and P(a > b)
are printed beside it as description. Each is ranked twice: at the matched budget (every arm read at
the largest `budget/updates` all arms reached, quantity `at_matched`) and at each arm's own end
(`final`). Rows that need an arm the experiment lacks are skipped. Nothing here is tuned to an arm's
win: the card reports whatever ordering the world gives.

**Families.** The tests form three families, each Holm-corrected on its own (`FAMILIES`): the paper's
six arms (the rows above; any arm no family names joins them), CHORD-φ's controls (`sft_scaled`,
`chord_phi_mu03`, `chord_phi_mu1` against `chord_phi` and RL: does φ's token shape matter, or its
size?), and the other published mixes (LUFFY, SRFT, HPT, ReLIFT, DFT, DFT-then-RL, each against RL,
SFT-best + RL and CHORD-μ). Each family answers its own question, so running more arms does not
loosen or tighten another family's correction; within a family every pair × quantity is corrected,
including the pairs no row prints. The per-arm table lists every arm of the experiment once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import phasescope
from phasescope.analysis.noise import SEPARABLE_Z, binomial_se
from phasescope.errors import PhasescopeError
from phasescope.runlog.experiment import cpu_model, read_experiment
from phasescope.runlog.provenance import package_versions
from phasescope.runlog.reader import find_run_dirs, read_metrics, run_identity, world_of

ACC, GEN, NLL = "eval/accuracy", "eval/general_accuracy", "eval/expert_nll"
EXPERT_ARMS = ("sft", "sft_then_rl", "sft_light_then_rl", "chord_mu", "chord_phi")
STAMP_PACKAGES = ("torch", "transformers", "trl", "numpy", "phasescope")
BEGIN, END = "<!-- world-card: begin (generated by benchmarks/world_card.py) -->", "<!-- world-card: end -->"
SELECTION, INDEPENDENT = "selection criterion", "independent result"
RANKS = (("at_matched", "matched budget"), ("final", "end"))
COMPARISONS = (
    (ACC, "sft_then_rl", "rl", "SFT-then-RL beats RL"),
    (ACC, "sft_light_then_rl", "rl", "SFT-light-then-RL beats RL"),
    (ACC, "chord_mu", "sft_then_rl", "CHORD-μ beats SFT-then-RL"),
    (ACC, "chord_mu", "rl", "CHORD-μ beats RL"),
    (ACC, "chord_phi", "sft_then_rl", "CHORD-φ beats SFT-then-RL"),
    (ACC, "chord_phi", "rl", "CHORD-φ beats RL"),
    (GEN, "chord_phi", "sft_then_rl", "CHORD-φ keeps the general skill better than sft_then_rl"),
    (GEN, "chord_phi", "chord_mu", "CHORD-φ keeps the general skill better than chord_mu"),
)
"""(metric, a, b, finding): the paper says a is better than b on the metric."""

PAPER_ARMS = ("sft", "rl", "sft_then_rl", "sft_light_then_rl", "chord_mu", "chord_phi")
PHI_ARMS = ("rl", "chord_phi", "sft_scaled", "chord_phi_mu03", "chord_phi_mu1")
PHI_COMPARISONS = (
    (
        ACC,
        "chord_phi",
        "sft_scaled",
        "φ's token shape beats a flat weight of φ's mean size (same μ, same lr)",
    ),
    (ACC, "sft_scaled", "rl", "A flat expert term of φ's mean size beats RL"),
    (ACC, "chord_phi_mu03", "chord_phi", "CHORD-φ at μ = 0.3 beats μ = 0.1"),
    (ACC, "chord_phi_mu1", "chord_phi", "CHORD-φ at μ = 1 beats μ = 0.1"),
    (ACC, "chord_phi_mu03", "rl", "CHORD-φ at μ = 0.3 beats RL"),
    (ACC, "chord_phi_mu1", "rl", "CHORD-φ at μ = 1 beats RL"),
)
"""CHORD-φ's controls (docs/arms.md): does φ's shape over tokens matter, or only its overall size?"""
MIX_NEW = (("luffy", "LUFFY"), ("srft", "SRFT"), ("hpt", "HPT"), ("relift", "ReLIFT"), ("dft", "DFT"))
MIX_NEW += (("dft_then_rl", "DFT-then-RL"),)
MIX_ARMS = ("rl", "sft_then_rl", "chord_mu", *(a for a, _ in MIX_NEW))
MIX_COMPARISONS = tuple(
    (ACC, arm, ref, f"{name} beats {ref_name}")
    for arm, name in MIX_NEW
    for ref, ref_name in (("rl", "RL"), ("sft_then_rl", "SFT-best + RL"), ("chord_mu", "CHORD-μ"))
)
"""Each other published mix against RL, SFT-best + RL and CHORD-μ (its paper claims the first two)."""
FAMILIES = (
    ("paper", "The CHORD paper's arms", PAPER_ARMS, COMPARISONS),
    ("phi_controls", "CHORD-φ's controls: its token shape or its size?", PHI_ARMS, PHI_COMPARISONS),
    ("mixes", "The other published mixes", MIX_ARMS, MIX_COMPARISONS),
)
"""(name, title, arms, comparisons): each a family of tests with its own Holm correction. The paper
family also takes any arm no other family names."""


def markers(name: str, script: str) -> tuple[str, str]:
    """The begin and end lines of a generated section of a markdown file."""
    return f"<!-- {name}: begin (generated by {script}) -->", f"<!-- {name}: end -->"


def series(rows: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    if not pts:
        return np.array([]), np.array([])
    s, v = zip(*pts, strict=True)
    return np.asarray(s, float), np.asarray(v, float)


def load(exp: Path) -> dict[str, dict[tuple[int, int], list[dict]]]:
    """arm → (world draw, seed) → metrics rows."""
    out: dict[str, dict[tuple[int, int], list[dict]]] = {}
    for run_dir in find_run_dirs(exp):
        arm, seed = run_identity(run_dir)
        if seed is not None:
            out.setdefault(arm, {})[(world_of(run_dir), seed)] = read_metrics(run_dir / "metrics.jsonl")
    return out


def analyses(exp: Path, arms: tuple[str, ...] | None = None, opened=None) -> dict:
    """metric → the project's ``Analysis`` (phases, comparison) for the card's two metrics, over
    `arms` only when given; a metric the experiment does not log is left out."""
    opened = opened or phasescope.open_experiment(exp)
    if arms is not None:
        opened = dataclasses.replace(opened, frame=opened.frame[opened.frame["run"].isin(arms)])
    out = {}
    for metric in (ACC, GEN):
        try:
            out[metric] = phasescope.analyse(opened, metric)
        except PhasescopeError as exc:
            print(f"{exp}: {metric} not compared ({exc})", file=sys.stderr)
    return out


def family_analyses(exp: Path, present: set[str]) -> dict[str, dict]:
    """family name → ``analyses`` over the family's arms that the experiment holds (two at least).
    A family is its own Holm family: the paper's 6 arms keep their 45 tests per metric however many
    other arms the experiment also ran."""
    opened = phasescope.open_experiment(exp)
    named = {a for _, _, arms, _ in FAMILIES for a in arms}
    out = {}
    for name, _, arms, _ in FAMILIES:
        chosen = [a for a in arms if a in present]
        if name == "paper":
            chosen += sorted(present - named)
        if len(chosen) >= 2 and (name == "paper" or any(a not in PAPER_ARMS for a in chosen)):
            out[name] = analyses(exp, tuple(chosen), opened)
    return out


def code_stamp_line() -> str:
    """Where numbers computed here and now come from (no run behind them): this commit, whether the
    tree had changes, the versions and the CPU."""
    head = _git_head()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    versions = ", ".join(f"{k} {v}" for k, v in package_versions(("numpy", "scipy", "phasescope")).items())
    return (
        f"Computed at commit `{(head or 'unknown')[:10]}`{' (with uncommitted changes)' if dirty else ''}; "
        f"{versions}; CPU: {cpu_model()}, {os.cpu_count()} cores."
    )


def _git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def stamp(exp: Path) -> dict:
    """Where the numbers come from: the run's commit, versions and CPU (experiment.json; this machine's
    when the record lacks them) and the commit the card is written at."""
    rec = read_experiment(exp)
    versions = {**package_versions(STAMP_PACKAGES), **(rec.get("versions") or {})}
    host = rec.get("host") or {}
    return {
        "run_commit": rec.get("git_commit"),
        "card_commit": _git_head(),
        "versions": {k: versions.get(k) for k in ("python", *STAMP_PACKAGES)},
        "cpu": host.get("cpu") or f"{cpu_model()} (this machine; the run's record names none)",
        "cpus": host.get("cpus"),
        "started": rec.get("started"),
    }


def stamp_line(st: dict) -> str:
    short = lambda c: (c or "unknown")[:10]  # noqa: E731
    versions = ", ".join(f"{k} {v}" for k, v in st["versions"].items())
    cores = f", {st['cpus']} cores" if st.get("cpus") else ""
    return (
        f"Run at commit `{short(st['run_commit'])}` ({st.get('started') or 'start unknown'}); {versions}; "
        f"CPU: {st['cpu']}{cores}. Written at commit `{short(st['card_commit'])}`."
    )


def write_section(
    doc: Path,
    exp: Path | None,
    body: list[str],
    command: str,
    bounds: tuple[str, str] = (BEGIN, END),
    stamped: str | None = None,
) -> None:
    """Replace the section of `doc` between `bounds` (appended when it has none) with `body`, stamped
    with where the numbers of the experiment `exp` come from (or with the line `stamped`, for numbers
    that no experiment holds)."""
    begin, end = bounds
    line = stamped if stamped is not None else stamp_line(stamp(exp))
    section = [begin, f"Generated by `{command}`.", "", line, "", *body, end]
    text = doc.read_text(encoding="utf-8") if doc.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + "\n".join(section) + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + "\n".join(section) + "\n"
    doc.write_text(text, encoding="utf-8")


def arm_table(*comparisons: dict) -> list[str]:
    """Every arm the comparisons hold (each once, from the first that has it): replicates, final and
    matched-budget accuracy over them, the interquartile mean (≥ 4 replicates), the mean final per
    world draw with their spread, and how many replicates were still rising at their end."""
    lines = [
        "| arm | replicates | final accuracy | at matched budget | IQM final | per world draw (mean final) "
        "| sd between draws | still rising at its end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    seen = {}
    for comparison in comparisons:
        worlds = (comparison.get("worlds") or {}).get("arms", {})
        for arm, entry in comparison["arms"].items():
            seen.setdefault(arm, (entry, worlds.get(arm, {})))
    for arm, (entry, by_world) in sorted(seen.items(), key=lambda kv: -kv[1][0]["final"]["mean"]):
        fin = entry["final"]
        by = by_world.get("final", {})
        per = ", ".join(f"w{w} {m:.3f}" for w, m in by.get("by_world", {}).items()) or "one draw"
        between = f"{by['sd']:.3f}" if by.get("sd") is not None else "one draw"
        iqm = f"{fin['iqm']:.3f}" if fin.get("iqm") is not None else "–"
        rising = f"{entry.get('rising_seeds', 0)}/{fin['n']}" + (
            " (flagged)" if entry.get("still_rising") else ""
        )
        lines.append(
            f"| {arm} | {fin['n']} | {pm(fin['values'])} | {pm(entry['at_matched']['values'])} | {iqm} "
            f"| {per} | {between} | {rising} |"
        )
    return lines


def worlds_line(comparison: dict) -> str:
    """The spread between world draws, on a line of its own."""
    w = comparison.get("worlds")
    if not w:
        return "World draws: one; every statement below is conditional on that draw."
    sds = ", ".join(
        f"{arm} {e['final']['sd']:.3f}" for arm, e in w["arms"].items() if e["final"].get("sd") is not None
    )
    return f"Between world draws ({w['n']} draws; sd of each arm's per-world mean final accuracy): {sds}."


def sft_phases(rows: list[dict]) -> dict[str, float]:
    """Per-replicate shift, readapt and overfit measures of an SFT curve (see the module docstring)."""
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


def second_half_gain(rows: list[dict]) -> float:
    steps, acc = series(rows, ACC)
    mid = int(np.searchsorted(steps, steps[-1] / 2))
    return float(acc[-1] - acc[mid])


def pm(x) -> str:
    x = np.asarray(x, float)
    if not len(x):
        return "–"
    return f"{x.mean():.3f} ± {x.std(ddof=1):.3f}" if len(x) > 1 else f"{x.mean():.3f}"


def pct(x) -> str:
    x = 100 * np.asarray(x, float)
    return f"{x.mean():.0f}% ± {x.std(ddof=1):.0f}%" if len(x) > 1 else f"{x.mean():.0f}%"


def pair(comparison: dict, a: str, b: str, quantity: str) -> dict | None:
    """The comparison's entry for a − b on ``quantity``, turned round when it holds b − a."""
    for p in comparison.get("pairwise", []):
        if p["quantity"] != quantity or {p["a"], p["b"]} != {a, b}:
            continue
        if p["a"] == a:
            return p
        neg = lambda ci: None if ci is None else [-ci[1], -ci[0]]  # noqa: E731
        poi = p.get("prob_improvement")
        return {
            **p,
            "a": a,
            "b": b,
            "diff": -p["diff"],
            **{k: neg(p.get(k)) for k in ("ci", "ci_paired", "ci_holm")},
            "prob_improvement": None if poi is None else 1 - poi,
        }
    return None


def _ci(ci) -> str:
    return "none" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def pair_cell(p: dict, label: str, direction: str = "higher") -> tuple[str, bool]:
    """One ranking of a − b: the difference, the test's 95% interval, the Holm-corrected interval and
    p, P(a > b); reproduced when the Holm interval excludes 0 on a's side."""
    ci_holm = p.get("ci_holm")
    ok = ci_holm is not None and (ci_holm[0] > 0 if direction == "higher" else ci_holm[1] < 0)
    paired = "paired " if p.get("ci_paired") is not None else ""
    p_holm = "–" if p.get("p_holm") is None else f"{p['p_holm']:.2g}"
    poi = "" if p.get("prob_improvement") is None else f", P(a > b) {p['prob_improvement']:.2f}"
    text = f"{label}: {p['diff']:+.3f}, {paired}95% {_ci(p.get('ci'))}, Holm {_ci(ci_holm)} (p {p_holm}){poi}"
    return text, ok


def _reversed(p: dict, direction: str, b: str) -> str:
    """ " (b better)" when the Holm interval excludes 0 on b's side: the opposite of the finding holds."""
    ci = p.get("ci_holm")
    if ci is None:
        return ""
    return f" ({b} better)" if (ci[1] < 0 if direction == "higher" else ci[0] > 0) else ""


def comparison_row(analysis, a: str, b: str, what: str, kind: str = INDEPENDENT) -> str | None:
    """A finding "a beats b" ranked at the matched budget and at each arm's end; None when either arm
    is absent."""
    comp = analysis.comparison
    cells, verdicts, tests = [], [], []
    for q, label in RANKS:
        p = pair(comp, a, b, q)
        if p is None:
            continue
        text, ok = pair_cell(p, label, analysis.direction)
        cells.append(text)
        verdicts.append(f"{label}: {'yes' if ok else '**no**'}{_reversed(p, analysis.direction, b)}")
        tests.append(p.get("test") or "none")
    if not cells:
        return None
    test = "; ".join(sorted(set(tests)))
    return (
        f"| {what} ({analysis.metric}) | {kind} | {a} − {b}: {'; '.join(cells)}. Test: {test} "
        f"| {'; '.join(verdicts)} |"
    )


def per_seed_row(name: str, vals: list[float], ok: list[bool], fmt: str, kind: str = SELECTION) -> str:
    seeds = ", ".join(fmt.format(v) for v in vals)
    verdict = "yes" if all(ok) else f"no ({sum(ok)}/{len(ok)} replicates)"
    return f"| {name} | {kind} | {pm(vals)} (per replicate: {seeds}) | {verdict} |"


def overfit_row(sft: list[dict], eval_n: int | None) -> str:
    """Where the SFT arm's overfit shows: the NLL rise, and the accuracy fall against the eval set's
    noise (√2·se at the best, n = the eval set; see the module docstring)."""
    falls, rises = [p["fall"] for p in sft], [p["nll_rise"] for p in sft]
    on_nll = [r >= 0.20 for r in rises]
    on_acc = [f >= 0.05 for f in falls]
    if eval_n:
        bands = [SEPARABLE_Z * binomial_se(p["best"], eval_n) for p in sft]
        beyond = [f > b for f, b in zip(falls, bands, strict=True)]
        noise = (
            f"noise of a best − final difference at n = {eval_n}: 1.96·√2·se = {np.mean(bands):.3f} "
            f"(se = √(p(1−p)/n) at the best); the fall exceeds it in {sum(beyond)}/{len(beyond)} replicates"
        )
    else:
        beyond, noise = [False] * len(falls), "eval-set size unknown: the fall's noise is not known"
    shows = [m for m, ok in ((NLL, all(on_nll)), (ACC, all(on_acc) and all(beyond))) if ok]
    verdict = f"yes, on {' and '.join(shows)}" if shows else "no"
    if all(on_nll) and not (all(on_acc) and all(beyond)):
        verdict += f"; not on {ACC}" + (" (within noise)" if not all(beyond) else "")
    return (
        f"| SFT overfits: {NLL} ends ≥ 20% above its minimum, or {ACC} falls ≥ 0.05 below its best "
        f"| {SELECTION} | {NLL} rise {pct(rises)} (≥ 20% in {sum(on_nll)}/{len(rises)}); "
        f"{ACC} fall {pm(falls)} (≥ 0.05 in {sum(on_acc)}/{len(falls)}); {noise} | {verdict} |"
    )


def sft_rows(runs: dict, eval_n: int | None) -> list[str]:
    sft = [sft_phases(r) for _, r in sorted(runs["sft"].items())]
    shift, readapt = [p["shift"] for p in sft], [p["readapt"] for p in sft]
    cost = [p["gen_cost"] for p in sft]
    return [
        per_seed_row(
            "SFT shifts: accuracy drops below the base (by ≥ 0.15)",
            shift,
            [v >= 0.15 for v in shift],
            "{:.3f}",
        ),
        per_seed_row(
            "SFT readapts: recovers above the base (by ≥ 0.10)",
            readapt,
            [v >= 0.10 for v in readapt],
            "{:.3f}",
        ),
        overfit_row(sft, eval_n),
        per_seed_row("SFT costs the general skill (by ≥ 0.10)", cost, [v >= 0.10 for v in cost], "{:.3f}"),
    ]


def rl_row(runs: dict, analysis) -> str | None:
    """RL's second-half gain per replicate, and the best expert arm's lead at the end (Holm)."""
    comp = analysis.comparison["arms"]
    experts = [a for a in EXPERT_ARMS if a in comp]
    if "rl" not in runs or "rl" not in comp or not experts:
        return None
    gain = [second_half_gain(r) for _, r in sorted(runs["rl"].items())]
    best = max(experts, key=lambda a: comp[a]["final"]["mean"])
    p = pair(analysis.comparison, best, "rl", "final")
    cell, above = pair_cell(p, "end") if p else ("no test", False)
    ok = bool(np.mean(gain) < 0.05 and above)
    return (
        f"| RL alone plateaus below the expert's reach | {SELECTION} | RL final {pm(comp['rl']['final']['values'])}, "
        f"gain over its second half {pm(gain)}; best expert arm ({best}) − RL {cell} | {'yes' if ok else 'no'} |"
    )


def card(runs: dict, found: dict) -> list[str]:
    """The card's rows: the SFT arm's phases and RL's plateau (selection criteria), then every
    comparison whose two arms are present (independent results)."""
    lines = ["| finding (paper) | kind | this world | reproduced |", "|---|---|---|---|"]
    acc = found.get(ACC)
    if "sft" in runs:
        lines += sft_rows(runs, acc.eval_n if acc else None)
    if acc is not None and (row := rl_row(runs, acc)):
        lines.append(row)
    for metric, a, b, what in COMPARISONS:
        if metric in found and (row := comparison_row(found[metric], a, b, what)):
            lines.append(row)
    return lines


def family_table(found: dict, comparisons: tuple) -> list[str]:
    """A family's comparison rows (independent results; "separated" when the Holm interval excludes 0
    on a's side), its own Holm correction said in its header."""
    lines = [
        *header(found),
        "",
        "| comparison | kind | this world | separated (a > b) |",
        "|---|---|---|---|",
    ]
    for metric, a, b, what in comparisons:
        if metric in found and (row := comparison_row(found[metric], a, b, what)):
            lines.append(row)
    return lines


def header(found: dict) -> list[str]:
    """What the comparisons were matched on and how many tests Holm corrected for."""
    out = []
    for metric, an in found.items():
        c = an.comparison
        out.append(
            f"{metric}: matched budget {c.get('matched_budget')} on `{c.get('budget_axis')}`; Holm over "
            f"the {c['multiplicity']['m']} tests of this metric (every pair × final, peak, matched budget)."
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("exp", nargs="?", default="runs/world-card", help="experiment directory")
    ap.add_argument("--run", action="store_true", help="run the default experiment into EXP first")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--world-seeds", type=int, default=3, help="world draws per seed (with --run)")
    ap.add_argument("--json", action="store_true", help="also print the per-replicate SFT measures as JSON")
    ap.add_argument(
        "--write", metavar="DOC.md", help="write the stamped tables into DOC.md's world-card section"
    )
    ap.add_argument("--section", default="world-card", help="the name of the section --write replaces")
    args = ap.parse_args(argv)
    exp = Path(args.exp)
    if args.run:
        cmd = [sys.executable, "-m", "phasescope.cli", "run", "--seeds", str(args.seeds)]
        cmd += ["--world-seeds", str(args.world_seeds), "--out", str(exp.parent), "--name", exp.name]
        subprocess.run([*cmd, "--overwrite"], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    runs = load(exp)
    families = family_analyses(exp, set(runs)) if runs else {}
    found = families.get("paper", {})
    if ACC not in found:
        print(f"{exp}: no runs with {ACC} found", file=sys.stderr)
        return 2
    reps = sorted({k for r in runs.values() for k in r})
    print(f"{exp}: arms {', '.join(sorted(runs))}; (world draw, seed) replicates {reps}")
    comps = [f[ACC].comparison for f in families.values() if ACC in f]
    body = [*arm_table(*comps), "", worlds_line(found[ACC].comparison), ""]
    body += [*header(found), "", *card(runs, found)]
    for name, title, _, comparisons in FAMILIES[1:]:
        if name in families:
            body += ["", f"**{title}**", "", *family_table(families[name], comparisons)]
    print("\n".join(body))
    if args.write:
        command = f"python benchmarks/world_card.py {args.exp} --write {args.write}"
        if args.section != "world-card":
            command += f" --section {args.section}"
        write_section(Path(args.write), exp, body, command, markers(args.section, "benchmarks/world_card.py"))
        print(f"wrote the world-card section of {args.write}")
    if args.json and "sft" in runs:
        measures = {f"world{w}-seed{s}": sft_phases(r) for (w, s), r in sorted(runs["sft"].items())}
        print(json.dumps(measures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
