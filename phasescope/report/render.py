"""The report's text, written once as a list of blocks and rendered as Markdown (``report.md``,
beside ``figures/``) and as self-contained HTML (figures embedded as base64 data URIs, inline CSS,
no external assets: it opens offline and survives being mailed)."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

from phasescope.analysis.segment_results import describe_phases
from phasescope.analysis.tables import (
    Table,
    arm_table,
    pair_table,
    phase_table,
    to_html,
    to_markdown,
    worlds_text,
)
from phasescope.arms import ordered
from phasescope.report.matched import matched_notes, matched_table
from phasescope.runlog.experiment import eval_sets, is_world_run, report_config

CAPTIONS = {
    "heldout": "Held-out accuracy of every arm: mean over seeds, band ±1 sd (one seed: the 95% "
    "binomial eval-set band). Dotted: the base level (step 0); dashed: stage switches (SFT → RL).",
    "timeline": "Phase timeline: each arm and seed as a row, its phases as coloured spans, one panel "
    "per metric; black ticks are stage switches (known changepoints); a row that stops at one: the "
    "stage after it has too few evaluations to read.",
    "phases": "The curve read as phases: spans shaded by phase, dashed lines at changepoints, ▼ with "
    "bar = the changepoint's 95% CI; dotted: the base level; coloured dashes: stage switches.",
    "endpoints": "Final and best value per arm: seeds as dots, mean with t 95% CI (one seed: the "
    "binomial eval-set 95% interval).",
    "matched": "Each arm's metric against the budget axis of the comparison (mean over replicates, band "
    "±1 sd; each replicate interpolated onto the budgets all of the arm's replicates reached); dotted: "
    "25/50/75/100% of the matched budget, where the ranking table reads the arms.",
    "mu": "μ over training steps: the schedule that defines each arm.",
    "losses": "Training losses: the GRPO surrogate and the SFT NLL (rolling mean).",
    "rollout": "Rollouts (the standard GRPO panels): mean reward, policy entropy and response length; "
    "absent while μ = 1 (nothing is generated).",
    "divergence": "Token divergence: expert-token probability quantiles, share of divergent tokens, "
    "and KL to the base model where logged.",
    "token_hist": "Histogram of expert-token log-probabilities over training (from tokens.jsonl).",
    "general": "The world's general skill (held-out) and the NLL of held-out expert answers "
    "(rising = overfitting the expert style).",
}


def caption(name: str, exp: dict | None = None) -> str:
    if name == "general" and exp and not is_world_run(exp):
        return "NLL of held-out expert answers (rising = overfitting the expert style)."
    if name.startswith("phases_"):
        return CAPTIONS["phases"]
    return CAPTIONS["token_hist"] if name.startswith("token_hist") else CAPTIONS.get(name, name)


def _config_text(exp: dict) -> str:
    keep = {
        k: exp[k] for k in ("name", "config", "arms", "seeds", "git_commit", "started", "host") if k in exp
    }
    if "config" in keep:  # a real run: no [world] section, and its eval sets named
        keep["config"] = report_config(exp)
        keep.update({"eval_sets": eval_sets(exp)} if eval_sets(exp) else {})
    return json.dumps(keep, indent=2, default=str)


def _head(c: dict) -> str:
    return f"`{c['metric']}` ({c['direction']} is better" + (
        f", eval set n = {c['eval_n']})" if c.get("eval_n") else ")"
    )


def _eval_sets_text(exp: dict) -> str:
    """` · eval sets: math500 (HuggingFaceH4/MATH-500:test), ...` for a real run, "" for the world."""
    sets = eval_sets(exp) if exp else {}
    return " · eval sets: " + ", ".join(f"{k} ({v})" for k, v in sets.items()) if sets else ""


def readings(c: dict) -> list[str]:
    """Per arm, the phase sentences of its (mean-curve) segmentation, in the curve's direction."""
    out = []
    for a in ordered(c["arms"]):
        seg = c["arms"][a].get("segmentation")
        if seg:
            out.append(f"{a}: " + "; ".join(describe_phases(seg)))
    return out


def blocks(rep) -> list[tuple]:
    """The report as (kind, ...) blocks: h1, h2, h3, p, verdict, fig, table, list, pre."""
    out: list[tuple] = [("h1", rep.title)]
    out.append(
        (
            "p",
            f"Source: `{rep.source}` · metrics: "
            + ", ".join(_head(c) for c in rep.compares.values())
            + _eval_sets_text(rep.experiment),
        )
    )
    out.append(("h2", "Verdict"))
    out += [("verdict", f"{c['metric']}: {c['verdict']}") for c in rep.compares.values()]
    table = matched_table(rep.compare)
    if table is not None:
        out += [("h2", f"Ranking at matched budget: {_head(rep.compare)}"), ("table", table)]
        out += [("list", matched_notes(rep.compare))] if matched_notes(rep.compare) else []
    out.append(("h2", "Figures"))
    out += [("fig", name, p, caption(name, rep.experiment)) for name, p in rep.figures.items()]
    out.append(("h2", "Phases, in words (mean curve of each arm)"))
    for c in rep.compares.values():
        out += [("h3", _head(c)), ("list", readings(c))]
    for c in rep.compares.values():
        out += [("h2", f"Arms and phases: {_head(c)}"), ("table", arm_table(c)), ("table", phase_table(c))]
    out += [("h2", f"Pairwise comparisons: {_head(rep.compare)}"), ("table", pair_table(rep.compare))]
    if rep.compare.get("worlds"):
        out.append(("p", worlds_text(rep.compare)))
    if rep.tokens is not None and rep.tokens.rows:
        out += [("h2", rep.tokens.title), ("table", rep.tokens)]
    if rep.notes:
        out += [("h2", "Notes"), ("list", rep.notes)]
    if rep.experiment:
        versions = rep.experiment.get("versions") or {}
        out += [("h2", "Versions"), ("list", [f"{k}: {v}" for k, v in versions.items()])]
        out += [("h2", "Configuration"), ("pre", _config_text(rep.experiment))]
    return out


def render_markdown(rep) -> str:
    md = []
    for b in blocks(rep):
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            md += ["#" * int(kind[1]) + " " + b[1], ""]
        elif kind in ("p", "verdict"):
            md += [b[1], ""]
        elif kind == "fig":
            md += [f"![{b[1]}](figures/{Path(b[2]).name})", "", f"*{b[3]}*", ""]
        elif kind == "table":
            md += [f"**{b[1].title}**", "", to_markdown(b[1]), ""]
        elif kind == "list":
            md += [f"- {x}" for x in b[1]] + [""]
        elif kind == "pre":
            md += ["```json", b[1], "```", ""]
    return "\n".join(md)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1em}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;
padding:.25em .5em;text-align:right}td:first-child,td:nth-child(2),th{text-align:left}th{background:#f3f3f3}
figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444}
.verdict{background:#f6f8fa;border-left:4px solid #0072B2;padding:.6em 1em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.8em}.meta{color:#555;font-size:.9em}
"""


def _html_block(b: tuple) -> str:
    kind, e = b[0], html.escape
    if kind in ("h1", "h2", "h3"):
        return f"<{kind}>{e(b[1])}</{kind}>"
    if kind == "p":
        return f'<p class="meta">{e(b[1])}</p>'
    if kind == "verdict":
        return f'<p class="verdict">{e(b[1])}</p>'
    if kind == "fig":
        data = base64.b64encode(Path(b[2]).read_bytes()).decode("ascii")
        return (
            f'<figure><img alt="{e(b[1])}" src="data:image/png;base64,{data}">'
            f"<figcaption>{e(b[3])}</figcaption></figure>"
        )
    if kind == "table":
        t: Table = b[1]
        return f"<h3>{e(t.title)}</h3>{to_html(t)}"
    if kind == "list":
        return "<ul>" + "".join(f"<li>{e(str(x))}</li>" for x in b[1]) + "</ul>"
    return f"<pre>{e(b[1])}</pre>"


def render_html(rep) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(rep.title)}</title><style>{_CSS}</style></head><body>",
    ]
    parts += [_html_block(b) for b in blocks(rep)]
    parts += [f'<p class="meta">generated {stamp}</p>', "</body></html>"]
    return "\n".join(parts)
