"""The tables of a comparison result (`compare_frame`), built once and rendered for every reader.

    arms      end points per arm over seeds          (text, report, W&B)
    phases    each phase's presence and size per arm (text, report, W&B)
    pairwise  a − b with CI, tests and effect size   (text, report, W&B)
    spans     every phase of every seed, raw         (W&B: the table a dashboard filters)

A cell holds the value (a number or None, what W&B logs) and the text people read (mean ± sd,
intervals, "–" where there is nothing). `to_text`, `to_markdown` and `to_html` render a table;
`format_compare` is the plain-text output of `phasescope compare`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from phasescope.analysis.phases import PHASES
from phasescope.analysis.ranking import ranking

NONE = "–"


@dataclass(frozen=True)
class Cell:
    value: Any
    text: str


@dataclass
class Table:
    name: str
    """Short key: arms, phases, pairwise, spans (W&B logs it as tables/<name>)."""
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def texts(self) -> list[list[str]]:
        return [[c.text for c in row] for row in self.rows]

    def values(self) -> list[list[Any]]:
        return [[c.value for c in row] for row in self.rows]


# --- cells ---------------------------------------------------------------------------------------------


def pm(s: dict | None, digits: int = 3) -> str:
    """`mean ± sd` of a summary (`summarize_values`), the mean alone without a spread, "–" without a mean."""
    if not s or s.get("mean") is None:
        return NONE
    txt = f"{s['mean']:.{digits}f}"
    if s.get("std") is not None:
        txt += f" ± {s['std']:.{digits}f}"
    return txt


def interval(ci, digits: int = 3, signed: bool = False) -> str:
    if not ci or ci[0] is None:
        return NONE
    f = f"{{:{'+' if signed else ''}.{digits}f}}"
    return f"[{f.format(ci[0])}, {f.format(ci[1])}]"


def mean_cell(s: dict | None, digits: int = 3) -> Cell:
    return Cell((s or {}).get("mean"), pm(s, digits))


def text_cell(text: str | None) -> Cell:
    return Cell(text, text or NONE)


def num_cell(x, fmt: str = "{:.3g}") -> Cell:
    return Cell(x, NONE if x is None else fmt.format(x))


# --- the tables ----------------------------------------------------------------------------------------


def _final_ci(s: dict) -> str:
    """The t interval over seeds; for one seed, the eval set's binomial interval (marked)."""
    if s.get("ci_t"):
        return interval(s["ci_t"])
    if s.get("ci_binomial"):
        return interval(s["ci_binomial"]) + " binomial"
    return NONE


def arm_table(compare: dict) -> Table:
    t = Table(
        "arms",
        "Arms (mean ± sd over seeds)",
        [
            "arm",
            "seeds",
            "base",
            "worst",
            "worst step",
            "best",
            "best step",
            "final",
            "final 95% CI",
            "final IQM",
            "area/step",
        ],
    )
    for a in ranking(compare):
        r = compare["arms"][a]
        t.rows.append(
            [
                text_cell(a),
                Cell(r["n_seeds"], str(r["n_seeds"])),
                mean_cell(r["base"]),
                mean_cell(r["worst"]),
                mean_cell(r["worst_step"], 0),
                mean_cell(r["best"]),
                mean_cell(r["best_step"], 0),
                mean_cell(r["final"]),
                text_cell(_final_ci(r["final"])),
                num_cell(r["final"].get("iqm"), "{:.3f}"),
                mean_cell(r["auc"]),
            ]
        )
    return t


def recovery_text(ph: dict) -> str:
    """Recovery as evaluated steps: one integer per seed that recovered, "not recovered" for each
    that did not (never a mean step no evaluation happened at)."""
    steps = ph.get("recovery_steps")
    if steps is None:
        return NONE
    got = [f"{s:.0f}" for s in steps if s is not None]
    missing = len(steps) - len(got)
    if not got:
        return "not recovered"
    return ", ".join(got) + (f" ({missing} of {len(steps)} not recovered)" if missing else "")


def _phase_row(arm: str, label: str, ph: dict) -> list[Cell]:
    rec = ph.get("recovery_steps")
    rec_value = None if not rec or any(s is None for s in rec) else min(rec)
    return [
        text_cell(arm),
        text_cell(label),
        Cell(ph["n_present"] / ph["n"] if ph["n"] else None, f"{ph['n_present']}/{ph['n']}"),
        mean_cell(ph.get("onset"), 0),
        mean_cell(ph.get("duration"), 0),
        mean_cell(ph.get("depth")),
        Cell(rec_value, recovery_text(ph) if label == "shift" else NONE),
        text_cell(interval((ph.get("depth") or {}).get("ci_t"))),
    ]


def phase_table(compare: dict) -> Table:
    """Each arm's phases in the order they happen (by mean onset step)."""
    t = Table(
        "phases",
        "Phases in time order (per seed, over seeds; presence, and mean ± sd where present; "
        "recovery: first evaluated step back at the base after the shift's worst point)",
        [
            "arm",
            "phase",
            "present",
            "onset step",
            "duration (steps)",
            "depth / gain",
            "recovery step",
            "depth t 95% CI",
        ],
    )
    for a in ranking(compare):
        found = [
            (label, ph)
            for label, ph in (compare["arms"][a].get("phases") or {}).items()
            if label in PHASES and ph and ph["n_present"]
        ]
        found.sort(key=lambda lp: ((lp[1].get("onset") or {}).get("mean") or 0.0, PHASES.index(lp[0])))
        t.rows += [_phase_row(a, label, ph) for label, ph in found]
    return t


def _pair_row(p: dict) -> list[Cell]:
    perm = NONE if p["p_perm"] is None else f"{p['p_perm']:.2g} (min {p['p_perm_min']:.2g})"
    g = NONE if p["hedges_g"] is None else f"{p['hedges_g']:+.2f} {interval(p['g_ci'], 2, True)}"
    holm = NONE
    if p.get("ci_holm"):
        holm = f"{interval(p['ci_holm'], signed=True)} at {100 * p['holm_level']:.4g}%"
    return [
        text_cell(p["a"]),
        text_cell(p["b"]),
        text_cell(
            {"final": "final", "best": "peak", "at_matched": "matched"}.get(p["quantity"], p["quantity"])
        ),
        num_cell(p["diff"], "{:+.3f}"),
        text_cell(interval(p["ci"], signed=True)),
        text_cell(p.get("test") or p["ci_method"]),
        num_cell(p.get("p"), "{:.2g}"),
        num_cell(p.get("p_holm"), "{:.2g}"),
        Cell(p.get("ci_holm"), holm),
        text_cell(p["better"] or ("no" if p.get("p_holm") is not None else None)),
        num_cell(p.get("prob_improvement"), "{:.2f}"),
        text_cell(interval(p.get("ci_welch"), signed=True)),
        num_cell(p["p_welch"], "{:.2g}"),
        Cell(p["p_perm"], perm),
        Cell(p["hedges_g"], g),
        text_cell(interval(p.get("eval_noise_ci"), signed=True)),
    ]


def pair_table(compare: dict) -> Table:
    head = ["a", "b", "on", "a − b", "95% CI", "test", "p", "p (Holm)", "Holm-corrected CI", "better"]
    head += ["P(a>b)", "Welch 95% CI", "p (Welch)", "p (perm.)", "Hedges' g", "eval-noise 95% CI"]
    m = (compare.get("multiplicity") or {}).get("m")
    title = "Pairwise comparisons (pairwise a − b, 95% CI"
    title += (
        f"; Holm's correction over {m} tests; better: Holm p < 0.05 and its interval excludes 0)"
        if m
        else ")"
    )
    t = Table("pairwise", title, head)
    t.rows = [_pair_row(p) for p in compare["pairwise"]]
    return t


def span_table(compare: dict) -> Table:
    """One row per (arm, seed, phase) with its span, as the segmentation found it."""
    cols = ["arm", "seed", "phase", "start_step", "end_step", "start_value", "end_value", "slope", "depth"]
    t = Table("spans", "Phase spans per seed", [*cols, "recover_step"])
    for arm, a in compare["arms"].items():
        seg = a.get("segmentation")
        if not seg:
            continue
        for s in seg.get("seeds") or [{"seed": (a.get("seeds") or [None])[0], **seg}]:
            for p in s["phases"]:
                depth = p.get("depth", p.get("decline", p.get("gain")))
                raw = [arm, s["seed"], p["label"], p["start_step"], p["end_step"], p["start_value"]]
                raw += [p["end_value"], p["slope"], depth, p.get("recover_step")]
                t.rows.append([Cell(v, NONE if v is None else str(v)) for v in raw])
    return t


def comparison_tables(compare: dict) -> list[Table]:
    """The tables every reader shows: arms, phases, pairwise."""
    return [arm_table(compare), phase_table(compare), pair_table(compare)]


# --- renderings ----------------------------------------------------------------------------------------


def to_markdown(t: Table) -> str:
    esc = [[c.replace("|", "\\|") for c in r] for r in [t.columns, *t.texts()]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def to_html(t: Table) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in t.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in t.texts())
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def to_text(t: Table) -> str:
    """Aligned plain text: columns of words left-aligned, columns of numbers right-aligned."""
    rows = [t.columns, *t.texts()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(t.columns))]
    words = [
        any(isinstance(r[i].value, str) for r in t.rows)
        and all(isinstance(r[i].value, str | None) for r in t.rows)
        for i in range(len(t.columns))
    ]
    lines = [f"{t.name}: {t.title}"]
    for r in rows:
        cells = [c.ljust(w) if left else c.rjust(w) for c, w, left in zip(r, widths, words)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_compare(result: dict) -> str:
    """The comparison as plain text: what was compared, the three tables, the verdict."""
    head = f"{result['metric']} ({result['direction']} is better)"
    if result.get("eval_n"):
        head += f" · eval set n = {result['eval_n']}"
    parts = [head, *(to_text(t) for t in comparison_tables(result))]
    if "matched_budget" in result:
        parts.append(matched_text(result))
    if result.get("worlds"):
        parts.append(worlds_text(result))
    parts.append("verdict: " + result["verdict"])
    return "\n\n".join(parts)


def matched_text(result: dict) -> str:
    """The budget axis, the matched budget, the ranking at 25/50/75/100% of it and the flags."""
    axis, budget = result["budget_axis"], result["matched_budget"]
    lines = [f"matched budget: {axis} = {budget:g} (the largest every arm reached)"]
    if result.get("budget_note"):
        lines.append(f"note: {result['budget_note']}")
    sign = -1 if result["direction"] == "higher" else 1
    arms = result["arms"]
    for f in ("0.25", "0.5", "0.75", "1"):
        have = [a for a in arms if arms[a]["at_fraction"].get(f) is not None]
        order = sorted(have, key=lambda a: sign * arms[a]["at_fraction"][f])
        cells = ", ".join(f"{a} {arms[a]['at_fraction'][f]:.3f}" for a in order)
        lines.append(f"  at {float(f):.0%} ({float(f) * budget:g}): {cells or NONE}")
    lines.append(f"  at each arm's own end: {' > '.join(ranking(result))}")
    lines += [f"  {a}: {arms[a]['flag']}" for a in arms if arms[a].get("flag")]
    return "\n".join(lines)


def worlds_text(result: dict) -> str:
    """The spread between world draws, on its own line: each arm's sd of its per-world mean final."""
    w = result["worlds"]
    cells = []
    for a in ranking(result):
        q = (w["arms"].get(a) or {}).get("final") or {}
        if q.get("sd") is not None:
            cells.append(f"{a} {q['sd']:.3f} (range {q['range'][0]:.3f}–{q['range'][1]:.3f})")
    return f"between worlds ({w['n']} draws; sd of each arm's per-world mean final): " + (
        ", ".join(cells) or NONE
    )
