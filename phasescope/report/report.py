"""One report per experiment: every phase-bearing metric of the run (held-out accuracy, the NLL of
held-out expert answers — the overfit signal — and the general skill) segmented and compared in one
report, with figures (PNG), ``report.md`` beside them and a self-contained ``report.html``.

    analysis/report.html  report.md  figures/*.png
    analysis/<metric-slug>/compare.json  phases.json     one folder per metric, never overwritten
                                                          by another metric's

Figures whose data the run did not log (probe metrics, tokens.jsonl, the general skill, rollouts)
are skipped and the report says so, so older run directories and foreign logs still get a report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from phasescope.analysis.curves import resolve_metric
from phasescope.analysis.pipeline import Analysis, analyse
from phasescope.analysis.segment import MIN_POINTS
from phasescope.analysis.tables import Table, num_cell, text_cell
from phasescope.errors import PhasescopeError, UsageError
from phasescope.report import plots
from phasescope.report.marks import stage_switches
from phasescope.report.matched import axis_name, fig_matched
from phasescope.report.phasefigs import fig_phases, fig_timeline
from phasescope.report.render import render_html, render_markdown
from phasescope.runlog.names import is_wandb_source
from phasescope.runlog.open import Experiment, metric_table, open_experiment
from phasescope.runlog.wandb_reader import parse_wandb_spec

PHASE_METRICS = ("eval/accuracy", "eval/expert_nll", "eval/general_accuracy")
"""The metrics a phasescope run's phases are read on: shift and readapt on accuracy, overfit on
the held-out expert NLL, and what SFT costs elsewhere on the general skill."""


@dataclass
class Report:
    out_dir: Path
    html: Path
    markdown: Path
    figures: dict[str, Path] = field(default_factory=dict)
    compare: dict = field(default_factory=dict)  # the first metric's (the headline verdict)
    phases: list = field(default_factory=list)
    experiment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tokens: Table | None = None  # the most divergent expert tokens, when logged
    compares: dict[str, dict] = field(default_factory=dict)  # metric -> comparison, every metric
    source: str = ""
    title: str = ""
    analyses: dict[str, Analysis] = field(default_factory=dict)  # metric -> its analysis


def default_out(path) -> Path:
    """``<dir>/analysis`` for local logs; ``analysis/<entity-project-name>`` for a W&B source."""
    spec = str(path)
    if is_wandb_source(spec):
        return Path("analysis") / parse_wandb_spec(spec).slug
    p = Path(path)
    return (p if p.is_dir() else p.parent) / "analysis"


def metric_slug(metric: str) -> str:
    """A folder name for a metric: ``eval/expert_nll`` -> ``eval-expert_nll``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", metric).strip("-") or "metric"


def compare_path(out_dir, metric: str) -> Path:
    """Where a metric's compare.json lives under an analysis folder."""
    return Path(out_dir) / metric_slug(metric) / "compare.json"


def read_compare(out_dir, metric: str) -> dict:
    """A metric's stored comparison; reports written before one folder per metric kept a single
    ``compare.json`` at the top, which is read when it is for that metric."""
    for p in (compare_path(out_dir, metric), Path(out_dir) / "compare.json"):
        if p.is_file():
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("metric") == metric or p.parent.name == metric_slug(metric):
                return data
    raise UsageError(f"no comparison of {metric} in {out_dir}; run: phasescope compare <path> -m {metric}")


def report_metrics(frame, asked=None) -> tuple[list[str], list[str]]:
    """The metrics to read as phases: those asked for, else every one of ``PHASE_METRICS`` the run
    logged, else (a foreign log) eval/accuracy by a loose match, else its longest eval curve."""
    if asked:
        return list(dict.fromkeys([asked] if isinstance(asked, str) else asked)), []
    have = set(frame["metric"])
    found = [m for m in PHASE_METRICS if m in have]
    if found:
        return found, []
    try:
        return [resolve_metric(frame, "eval/accuracy")], []
    except PhasescopeError:
        pass
    table = metric_table(frame)
    table = table[table["max_points"] >= MIN_POINTS]
    if table.empty:
        raise PhasescopeError(f"no metric has the {MIN_POINTS} points segmenting needs")
    table = table.assign(ev=~table["metric"].str.contains("eval")).sort_values(["ev", "max_points"],
                                                                              ascending=[True, False])  # fmt: skip
    pick = str(table["metric"].iloc[0])
    return [pick], [f"no eval/accuracy logged: the report reads {pick} (choose with --metric)"]


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


def make_figures(frame, compares: dict, snaps: dict, notes: list[str]) -> dict:
    """name -> Figure, for every figure the data supports; notes say what was skipped and why."""
    switches = stage_switches(frame)
    first = next(iter(compares.values()))
    figs = {
        "heldout": plots.fig_heldout(frame, first["metric"], switches, first.get("eval_n")),
        "timeline": fig_timeline(compares, switches),
    }
    for m, c in compares.items():
        figs[f"phases_{metric_slug(m)}"] = fig_phases(frame, c, switches, c.get("eval_n"))
    figs["matched"] = fig_matched(frame, first)
    figs["endpoints"] = plots.fig_endpoints(first)
    figs["mu"] = plots.fig_mu(frame)
    figs["rollout"] = plots.fig_rollout(frame, switches)
    figs["losses"] = plots.fig_losses(frame, switches)
    figs["divergence"] = plots.fig_divergence(frame)
    if snaps:
        arm, seed = heatmap_run(snaps)
        sw = switches.get(arm)
        figs[f"token_hist_{arm}"] = plots.fig_token_heatmap(
            snaps[(arm, seed)], arm, seed, sw[0][0] if sw else None
        )
    else:
        notes.append("no tokens.jsonl in any run: the expert log-prob heat map is skipped")
    figs["general"] = plots.fig_general(frame, switches)
    for name in ("divergence", "general", "rollout"):
        if figs[name] is None:
            notes.append(f"figure {name!r} skipped: its metrics were not logged")
    if not plots.first_present(frame, "probe/kl_to_base"):
        notes.append("no KL-to-base metric logged (probe/kl_to_base): the divergence figure omits it")
    return {k: v for k, v in figs.items() if v is not None}


def _analyse_all(exp: Experiment, metrics: list[str], notes: list[str], axis=None) -> dict[str, Analysis]:
    """metric -> its analysis (``analyse``: eval-set size, stage switches as fixed knots, arms matched
    on the budget ``axis``)."""
    out = {}
    for m in metrics:
        a = analyse(exp, m, budget_axis=axis)
        notes += [n if a.metric in n or len(metrics) == 1 else f"{a.metric}: {n}" for n in a.notes]
        out[a.metric] = a
    return out


def _write_json(out_dir: Path, analyses: dict[str, Analysis]) -> None:
    for m, a in analyses.items():
        d = out_dir / metric_slug(m)
        d.mkdir(parents=True, exist_ok=True)
        (d / "compare.json").write_text(json.dumps(a.comparison, indent=2) + "\n")
        (d / "phases.json").write_text(json.dumps(_segmentations(a.comparison), indent=2) + "\n")


def _segmentations(compare: dict) -> list[dict]:
    """Each arm's segmentation as the comparison stores it (phases.json, ``Report.phases``)."""
    return [a["segmentation"] for a in compare["arms"].values() if "segmentation" in a]


def build_report(source, out=None, metric=None, budget_axis: str | None = None) -> Report:
    """Analyse the experiment ``source`` (a path for ``open_experiment``, or an ``Experiment``) and
    write the report files into ``out``. ``metric``: one metric or a list; default every
    phase-bearing metric the run logged (``PHASE_METRICS``). ``budget_axis``: where arms are matched
    and the matched-budget figure's x axis (``updates``, ``samples``, ``tokens``, ``selection``,
    ``step`` or a ``budget/...`` column; default budget/updates)."""
    import matplotlib.pyplot as plt

    axis = axis_name(budget_axis)
    exp = source if isinstance(source, Experiment) else open_experiment(source)
    frame, notes = exp.frame, list(exp.notes)
    metrics, more = report_metrics(frame, metric)
    notes += more
    analyses = _analyse_all(exp, metrics, notes, axis)
    compares = {m: a.comparison for m, a in analyses.items()}
    out_dir = Path(out) if out else default_out(exp.path)
    fig_dir = out_dir / "figures"
    try:
        fig_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {out_dir}: {exc.strerror}") from None
    snaps = exp.tokens
    paths = {}
    for name, fig in make_figures(frame, compares, snaps, notes).items():
        paths[name] = fig_dir / f"{name}.png"
        fig.savefig(paths[name], dpi=150)
        plt.close(fig)
    _write_json(out_dir, analyses)
    first = next(iter(analyses.values()))
    record = exp.experiment or ({"config": exp.config} if exp.config else {})
    rep = Report(
        out_dir, out_dir / "report.html", out_dir / "report.md", paths, first.comparison, _segmentations(first.comparison),
        record, list(dict.fromkeys(notes)), divergent_table(snaps), compares, exp.path,
        f"phasescope report: {exp.name}", analyses,
    )  # fmt: skip
    rep.markdown.write_text(render_markdown(rep))
    rep.html.write_text(render_html(rep))
    return rep
