"""One report per experiment: figures (PNG), ``report.md`` beside them, and a self-contained
``report.html`` (figures embedded as base64 data URIs, inline CSS, no external assets: it opens
offline and survives being mailed), plus ``compare.json`` and ``phases.json``.

    analysis/report.html  report.md  compare.json  phases.json  figures/*.png

Figures whose data the run did not log (probe metrics, tokens.jsonl, the general skill) are skipped
and the report says so, so older run directories and foreign logs still get a report.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from phasescope.analysis.compare import compare_frame, eval_set_size
from phasescope.analysis.tables import (
    Table,
    arm_table,
    num_cell,
    pair_table,
    phase_table,
    text_cell,
    to_html,
    to_markdown,
)
from phasescope.errors import PhasescopeError, UsageError
from phasescope.report import plots
from phasescope.runlog.experiment import eval_sets, is_world_run, read_experiment, report_config
from phasescope.runlog.reader import find_run_dirs, read_jsonl, run_identity

CAPTIONS = {
    "heldout": "Held-out accuracy of every arm: mean over seeds, band ±1 sd.",
    "phases": "Each arm's curve read as phases: spans shaded by phase, dashed lines at changepoints, "
    "▼ with bar = the changepoint's bootstrap 95% CI. Thin lines are single seeds.",
    "endpoints": "Final and best value per arm: seeds as dots, mean with t 95% CI.",
    "mu": "μ over training steps: the schedule that defines each arm.",
    "losses": "Training losses: the GRPO surrogate and the SFT NLL (rolling mean).",
    "divergence": "Token divergence: expert-token probability quantiles, share of divergent tokens, "
    "and KL to the base model where logged.",
    "token_hist": "Histogram of expert-token log-probabilities over training (from tokens.jsonl).",
    "general": "The world's general skill (held-out) and the NLL of held-out expert answers "
    "(rising = overfitting the expert style).",
}


@dataclass
class Report:
    out_dir: Path
    html: Path
    markdown: Path
    figures: dict[str, Path] = field(default_factory=dict)
    compare: dict = field(default_factory=dict)
    phases: list = field(default_factory=list)
    experiment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tokens: Table | None = None  # the most divergent expert tokens, when logged


def default_out(path) -> Path:
    p = Path(path)
    return (p if p.is_dir() else p.parent) / "analysis"


def token_snapshots(path) -> dict[tuple[str, int | None], list[dict]]:
    """(arm, seed) -> rows of its tokens.jsonl, for runs that have one."""
    out = {}
    p = Path(path)
    if not p.is_dir():
        return out
    for run_dir in find_run_dirs(p):
        f = run_dir / "tokens.jsonl"
        if f.is_file():
            try:
                rows, _ = read_jsonl(f)
            except UsageError:
                continue
            out[run_identity(run_dir)] = rows
    return out


def switch_step(frame, arm: str) -> float | None:
    """First step at which μ leaves 1 (the SFT → RL switch of a step schedule)."""
    sub = frame[(frame["run"] == arm) & (frame["metric"] == "train/mu")].sort_values("step")
    if sub.empty:
        return None
    v = sub["value"].to_numpy()
    if v[0] < 1:
        return None
    idx = (v < 1).nonzero()[0]
    return float(sub["step"].to_numpy()[idx[0]]) if len(idx) else None


def heatmap_run(snaps: dict) -> tuple[str, int | None]:
    """The run whose token histogram the report shows: SFT-then-RL (the arm the phases are about)
    when present, else the first arm by name; its lowest seed."""
    arm = sorted({a for a, _ in snaps}, key=lambda a: (a != "sft_then_rl", a))[0]
    seed = min((s for a, s in snaps if a == arm), key=lambda s: -1 if s is None else s)
    return arm, seed


def divergent_table(snaps: dict, k: int = 5) -> Table:
    """The most divergent expert tokens (lowest p) at the first and last snapshot of the heat-map
    run: what the policy finds most foreign before and after training."""
    t = Table(
        "tokens",
        "Most divergent expert tokens (first and last snapshot)",
        ["run", "step", "token", "context", "p"],
    )
    if not snaps:
        return t
    arm, seed = heatmap_run(snaps)
    recs = [r for r in snaps[(arm, seed)] if r.get("top_divergent")]
    for rec in recs[:1] + recs[-1:] if len(recs) > 1 else recs:
        for tok in sorted(rec["top_divergent"], key=lambda x: x.get("p", 1.0))[:k]:
            t.rows.append(
                [text_cell(f"{arm}/seed{seed}"), num_cell(rec["step"], "{}"), text_cell(repr(str(tok.get("token")))),
                 text_cell(repr(str(tok.get("context", "")))), num_cell(tok.get("p", float("nan")), "{:.2g}")]
            )  # fmt: skip
    return t


def make_figures(frame, compare: dict, snaps: dict, notes: list[str]) -> dict:
    """name -> Figure, for every figure the data supports; notes say what was skipped and why."""
    figs = {
        "heldout": plots.fig_heldout(frame, compare["metric"]),
        "phases": plots.fig_phases(frame, compare),
        "endpoints": plots.fig_endpoints(compare),
        "mu": plots.fig_mu(frame),
        "losses": plots.fig_losses(frame),
        "divergence": plots.fig_divergence(frame),
    }
    if snaps:
        arm, seed = heatmap_run(snaps)
        figs[f"token_hist_{arm}"] = plots.fig_token_heatmap(
            snaps[(arm, seed)], arm, seed, switch_step(frame, arm)
        )
    else:
        notes.append("no tokens.jsonl in any run: the expert log-prob heat map is skipped")
    figs["general"] = plots.fig_general(frame)
    for name in ("divergence", "general"):
        if figs[name] is None:
            notes.append(f"figure {name!r} skipped: its metrics were not logged")
    if not plots.first_present(frame, "probe/kl_to_base"):
        notes.append("no KL-to-base metric logged (probe/kl_to_base): the divergence figure omits it")
    return {k: v for k, v in figs.items() if v is not None}


def build_report(path, out=None, metric: str = "eval/accuracy", frame=None) -> Report:
    """Analyse the experiment at ``path`` and write the report files into ``out``."""
    import matplotlib.pyplot as plt

    from phasescope.analysis import load_curves

    notes: list[str] = []
    if frame is None:
        frame, notes = load_curves(path)
    if frame.empty:
        raise PhasescopeError(f"{path}: no finite metric values found")
    compare, more = compare_frame(frame, metric, eval_n=eval_set_size(path))
    notes += more
    out_dir = Path(out) if out else default_out(path)
    fig_dir = out_dir / "figures"
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {out_dir}: {exc.strerror}") from None
    snaps = token_snapshots(path)
    figs = make_figures(frame, compare, snaps, notes)
    paths = {}
    for name, fig in figs.items():
        paths[name] = fig_dir / f"{name}.png"
        fig.savefig(paths[name], dpi=150)
        plt.close(fig)
    phases = [a["segmentation"] for a in compare["arms"].values() if "segmentation" in a]
    (out_dir / "compare.json").write_text(json.dumps(compare, indent=2) + "\n")
    (out_dir / "phases.json").write_text(json.dumps(phases, indent=2) + "\n")
    rep = Report(
        out_dir,
        out_dir / "report.html",
        out_dir / "report.md",
        paths,
        compare,
        phases,
        read_experiment(path),
        notes,
        divergent_table(snaps),
    )
    rep.markdown.write_text(render_markdown(rep, str(path)))
    rep.html.write_text(render_html(rep, str(path)))
    return rep


def _caption(name: str, exp: dict | None = None) -> str:
    if name == "general" and exp and not is_world_run(exp):
        return "NLL of held-out expert answers (rising = overfitting the expert style)."
    return CAPTIONS["token_hist"] if name.startswith("token_hist") else CAPTIONS.get(name, name)


def _eval_sets_text(exp: dict) -> str:
    """` · eval sets: math500 (HuggingFaceH4/MATH-500:test), ...` for a real run, "" for the world."""
    sets = eval_sets(exp) if exp else {}
    return " · eval sets: " + ", ".join(f"{k} ({v})" for k, v in sets.items()) if sets else ""


def _config_text(exp: dict) -> str:
    keep = {
        k: exp[k] for k in ("name", "config", "arms", "seeds", "git_commit", "started", "host") if k in exp
    }
    if "config" in keep:  # a real run: no [world] section, and its eval sets named
        keep["config"] = report_config(exp)
        keep.update({"eval_sets": eval_sets(exp)} if eval_sets(exp) else {})
    return json.dumps(keep, indent=2, default=str)


def render_markdown(rep: Report, source: str) -> str:
    c = rep.compare
    md = [
        f"# phasescope report: {rep.experiment.get('name') or Path(source).name}",
        "",
        f"Source: `{source}` · metric `{c['metric']}` ({c['direction']} is better)"
        + (f" · eval set n = {c['eval_n']}" if c.get("eval_n") else "")
        + _eval_sets_text(rep.experiment),
        "",
        "## Verdict",
        "",
        c["verdict"],
        "",
        "## Figures",
        "",
    ]
    for name, p in rep.figures.items():
        md += [f"![{name}](figures/{p.name})", "", f"*{_caption(name, rep.experiment)}*", ""]
    md += ["## Arms", "", to_markdown(arm_table(c)), ""]
    md += ["## Phases (per seed, over seeds)", "", to_markdown(phase_table(c)), ""]
    md += ["## Pairwise comparisons", "", to_markdown(pair_table(c)), ""]
    if rep.tokens is not None and rep.tokens.rows:
        md += [f"## {rep.tokens.title}", "", to_markdown(rep.tokens), ""]
    if rep.notes:
        md += ["## Notes", ""] + [f"- {n}" for n in rep.notes] + [""]
    if rep.experiment:
        md += ["## Versions", ""]
        md += [f"- {k}: {v}" for k, v in (rep.experiment.get("versions") or {}).items()]
        md += ["", "## Configuration", "", "```json", _config_text(rep.experiment), "```", ""]
    return "\n".join(md)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:right}td:first-child,td:nth-child(2),th{text-align:left}th{background:#f3f3f3}
figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444}
.verdict{background:#f6f8fa;border-left:4px solid #0072B2;padding:.6em 1em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.8em}.meta{color:#555;font-size:.9em}
"""


def render_html(rep: Report, source: str) -> str:
    c = rep.compare
    title = f"phasescope report: {rep.experiment.get('name') or Path(source).name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">Source: <code>{html.escape(source)}</code> · metric <code>{html.escape(c["metric"])}</code> '
        f"({c['direction']} is better)"
        + (f" · eval set n = {c['eval_n']}" if c.get("eval_n") else "")
        + html.escape(_eval_sets_text(rep.experiment))
        + f" · generated {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}</p>",
        "<h2>Verdict</h2>",
        f'<p class="verdict">{html.escape(c["verdict"])}</p>',
        "<h2>Figures</h2>",
    ]
    for name, p in rep.figures.items():
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(_caption(name, rep.experiment))}</figcaption></figure>"
        )
    parts += ["<h2>Arms</h2>", to_html(arm_table(c))]
    parts += ["<h2>Phases (per seed, over seeds)</h2>", to_html(phase_table(c))]
    parts += ["<h2>Pairwise comparisons</h2>", to_html(pair_table(c))]
    if rep.tokens is not None and rep.tokens.rows:
        parts += [f"<h2>{html.escape(rep.tokens.title)}</h2>", to_html(rep.tokens)]
    if rep.notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{html.escape(n)}</li>" for n in rep.notes] + ["</ul>"]
    if rep.experiment:
        versions = rep.experiment.get("versions") or {}
        parts += ["<h2>Versions</h2><ul>"]
        parts += [f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in versions.items()]
        parts += [
            "</ul>",
            "<h2>Configuration</h2>",
            f"<pre>{html.escape(_config_text(rep.experiment))}</pre>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
