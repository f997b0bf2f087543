"""What `phasescope tune` writes from its studies: the table, the figures and the chosen values.

    <tune dir>/summary.json     per arm: trials, failed, the config's values' score (trial 0), best values,
                                best dev score, spread over trials
    <tune dir>/summary.md       the same as a Markdown table
    <tune dir>/<arm>/knobs.png  dev score against each knob, one panel per knob, the best trial marked
    <tune dir>/<arm>/best.toml  an experiment file: the tuned config with this arm's chosen values
    <tune dir>/best.toml        the same for every tuned arm together (`phasescope run best.toml`)

The chosen values go into a complete experiment file rather than a list of overrides, because that is
what `phasescope run CONFIG` takes and what a TRL or W&B user keeps next to a result: one file that
reruns it. Its header lists the same values as `--set` lines, for layering them on another config.
A per-arm value is an `[arms.<arm>]` key (`lr`, `sft_lr`, `mu`, ...). `train.expert_data_ratio` is
shared by every arm of a run: the joint file sets it when every arm of the file it changes tuned it to
the same value, and otherwise keeps the config's value and says so in its header (each arm's own
best.toml has all its values).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from phasescope.tune.objective import SCORE_TEXT
from phasescope.tune.space import Knob, as_overrides, at_grid_edge
from phasescope.tune.tomlfile import toml_text


def arm_summary(arm: str, trials: list, knobs: list[Knob], budget: dict[str, Any]) -> dict[str, Any]:
    """One arm's row from its study's trials (Optuna `FrozenTrial`s, any state)."""
    done = [t for t in trials if t.state.name == "COMPLETE"]
    row: dict[str, Any] = {
        "arm": arm,
        "trials": len(done),
        "failed": sum(t.state.name == "FAIL" for t in trials),
        "score": SCORE_TEXT,
        "budget": budget,
        "knobs": [_knob_record(k) for k in knobs],
    }
    base = [t for t in done if t.user_attrs.get("baseline")]
    if base:
        row["config_score"] = base[0].value
    if done:
        best = max(done, key=lambda t: (t.value, -t.number))
        scores = [t.value for t in done]
        row.update(
            best_trial=best.number,
            best_score=best.value,
            best_seed_scores=best.user_attrs.get("seed_scores", []),
            best=dict(best.params),
            spread={"min": min(scores), "median": statistics.median(scores), "max": max(scores)},
        )
        edge = at_grid_edge(knobs, row["best"])
        if edge:  # a narrowed grid (--grid-points) whose best is at one end: widen it
            row["grid_edge"] = edge
    return row


def _knob_record(k: Knob) -> dict[str, Any]:
    rec: dict[str, Any] = {"key": k.key, "label": k.label}
    if k.grid:
        rec["grid"] = list(k.grid)
    if k.choices:
        rec["choices"] = list(k.choices)
    else:
        rec.update(low=k.low, high=k.high, log=k.log)
    return rec


def format_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of summary.md (one line per arm)."""
    lines = [
        "| arm | trials | failed | config's values | best dev score | best trial's seeds "
        "| spread over trials (min / median / max) | best values |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        config = f"{r['config_score']:.3f}" if "config_score" in r else "–"
        if "best" not in r:
            lines.append(f"| {r['arm']} | {r['trials']} | {r['failed']} | {config} | – | – | – | – |")
            continue
        s = r["spread"]
        seeds = ", ".join(f"{v:.3f}" for v in r["best_seed_scores"])
        values = ", ".join(f"{k.rsplit('.', 1)[-1]} = {_short(v)}" for k, v in r["best"].items())
        if r.get("grid_edge"):
            values += f" (at the grid's edge: {', '.join(r['grid_edge'])})"
        lines.append(
            f"| {r['arm']} | {r['trials']} | {r['failed']} | {config} | {r['best_score']:.3f} | {seeds} | "
            f"{s['min']:.3f} / {s['median']:.3f} / {s['max']:.3f} | {values} |"
        )
    return "\n".join(lines)


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def write_summary(tune_dir: Path, rows: list[dict[str, Any]], command: str) -> tuple[Path, Path]:
    """summary.json and summary.md in `tune_dir`."""
    js, md = tune_dir / "summary.json", tune_dir / "summary.md"
    js.write_text(json.dumps({"command": command, "arms": rows}, indent=2) + "\n", encoding="utf-8")
    budget = rows[0]["budget"] if rows else {}
    text = (
        f"# phasescope tune\n\n`{command}`\n\nScore: {SCORE_TEXT} (the held-out set is never read). "
        f"Budget per trial: {budget.get('max_steps')} updates, {budget.get('seeds')} seed(s).\n\n"
        + format_table(rows)
        + "\n"
    )
    md.write_text(text, encoding="utf-8")
    return js, md


def chosen_values(
    rows: list[dict[str, Any]], users: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The values of the joint best.toml, and a note per shared (train.*) key it cannot set.

    `users`: per shared key, every arm of the file whose training that key changes, tuned or not
    (`space.shared_keys`). A shared key is set when the arms that tuned it agree and every arm it
    changes tuned it: an expert ratio tuned for CHORD-φ would otherwise also resize SFT's batch.
    """
    values: dict[str, Any] = {}
    shared: dict[str, dict[str, Any]] = {}
    for r in rows:
        for key, v in r.get("best", {}).items():
            if key.startswith("arms."):
                values[key] = v
            else:
                shared.setdefault(key, {})[r["arm"]] = v
    notes = []
    for key, by_arm in shared.items():
        each = ", ".join(f"{a} {_short(v)}" for a, v in by_arm.items())
        untuned = [a for a in (users or {}).get(key, []) if a not in by_arm]
        if untuned:
            notes.append(
                f"{key} ({each}) would also change {', '.join(untuned)}, which did not tune it: "
                "the config's value is kept"
            )
        elif len(set(by_arm.values())) == 1:
            values[key] = next(iter(by_arm.values()))
        else:
            notes.append(
                f"{key} is shared by all arms and was tuned apart ({each}): the config's value is kept"
            )
    return values, notes


def best_toml(cfg_dict: dict[str, Any], values: dict[str, Any], notes: list[str], command: str) -> str:
    """The text of a best.toml: a header (how it was made, the values as --set lines), then the config."""
    header = [
        f"# Chosen by: {command}",
        f"# Score: {SCORE_TEXT}; the held-out set was never read.",
        "# Run it: phasescope run THIS_FILE   (or add these to another config:",
        *(f"#   --set {o}" for o in as_overrides(values)),
        "# )",
        *(f"# note: {n}" for n in notes),
    ]
    return "\n".join(header) + "\n\n" + toml_text(cfg_dict)
