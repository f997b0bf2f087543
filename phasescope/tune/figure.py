"""The figure of one arm's search: dev score against each knob, one panel per knob.

Every completed trial is a point (its score against that knob's value, the other knobs varying
too, so a panel shows a marginal view, not a slice); the best trial is a filled star; a learning rate
is drawn on a log axis. Failed trials have no score and are not drawn (summary.md counts them).
The Agg backend, as the report's figures; no torch.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402

from phasescope.tune.objective import SCORE_METRIC  # noqa: E402
from phasescope.tune.space import Knob  # noqa: E402


def knob_figure(arm: str, trials: list, knobs: list[Knob], path: Path) -> Path | None:
    """Write `path` (PNG) from the arm's trials (Optuna `FrozenTrial`s); None when none completed."""
    done = [t for t in trials if t.state.name == "COMPLETE"]
    shown = [k for k in knobs if any(k.key in t.params for t in done)]
    if not done or not shown:
        return None
    best = max(done, key=lambda t: (t.value, -t.number))
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.0), squeeze=False, sharey=True)
    for ax, k in zip(axes[0], shown):
        pts = [(t.params[k.key], t.value) for t in done if k.key in t.params]
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=22, color="#0072B2", alpha=0.8, label="trial")
        if k.key in best.params:
            ax.scatter([best.params[k.key]], [best.value], marker="*", s=160, color="#D55E00", label="best")
        if k.log:
            ax.set_xscale("log")
        lo, hi = (min(k.choices), max(k.choices)) if k.choices else (k.low, k.high)
        pad = (hi / lo) ** 0.04 if k.log else (hi - lo) * 0.04
        ax.set_xlim(*((lo / pad, hi * pad) if k.log else (lo - pad, hi + pad)))  # the searched range
        ax.set_xlabel(k.label)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"{SCORE_METRIC} (dev split)")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{arm}: {len(done)} trials, dev score against each knob", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
