"""One analysis of one metric of an experiment: the only place that decides what the metric is, which
way it is better, what noise its eval set carries, where the fixed knots are (stage starts) — then
segments every (arm, world draw, seed) and compares the arms.

    exp = open_experiment("runs/default")                 # phasescope.runlog.open
    a = analyse(exp, "eval/accuracy")
    a.phases        # one dict per arm: exactly what `phasescope segment --json -` prints
    a.comparison    # exactly compare.json
    a.verdict

`phasescope segment`, `compare`, `report`, the notebook and the W&B upload render an ``Analysis``;
none of them assembles knots or eval-set sizes of its own, so every door gives the same phases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phasescope.analysis.compare import compare_frame
from phasescope.analysis.curves import curves_for, resolve_metric
from phasescope.analysis.noise import eval_n_for
from phasescope.analysis.paired import load_problem_bits
from phasescope.analysis.segment import PhaseSegmenter
from phasescope.analysis.segment_results import segment_frame
from phasescope.errors import PhasescopeError, UsageError
from phasescope.runlog.names import infer_direction, is_rate_name
from phasescope.runlog.open import Experiment, open_experiment


@dataclass
class Analysis:
    """The phases and the comparison of one metric; ``phase_error`` says why ``phases`` is empty."""

    metric: str
    direction: str
    eval_n: int | None
    noise: str
    phases: list[dict] = field(default_factory=list)
    comparison: dict = field(default_factory=dict)
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    phase_error: str | None = None

    def to_json(self) -> dict:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "eval_n": self.eval_n,
            "noise": self.noise,
            "phases": self.phases,
            "comparison": self.comparison,
            "verdict": self.verdict,
            "notes": self.notes,
        }


def resolve_direction(name: str, direction: str | None) -> tuple[str, list[str]]:
    """The direction asked for, else what the name says, else higher (with a note saying so)."""
    if direction is not None:
        if direction not in ("higher", "lower"):
            raise UsageError(f"--direction must be 'higher' or 'lower', not {direction!r}")
        return direction, []
    found = infer_direction(name)
    if found is not None:
        return found, []
    return "higher", [
        f"cannot tell from the name {name!r} whether higher is better; assumed higher (--direction)"
    ]


def resolve_eval_n(
    name: str, frame, eval_sets: dict[str, int], eval_n: int | None
) -> tuple[int | None, list]:
    """The eval-set size behind ``name``: the one given, else the experiment's; None unless the
    metric is a rate (its name says so and every value lies in [0, 1])."""
    n = eval_n if eval_n is not None else eval_n_for(name, eval_sets)
    if not n:
        return None, []
    values = frame.loc[frame["metric"] == name, "value"].to_numpy(float)
    if is_rate_name(name) and len(values) and np.nanmin(values) >= 0 and np.nanmax(values) <= 1:
        return int(n), []
    given = eval_n is not None
    return None, (
        [f"--eval-n ignored: {name} is not a rate (a share of problems in [0, 1])"] if given else []
    )


def _noise_words(phases: list[dict], n: int | None) -> str:
    """The noise the phases were read against: the eval set's when known, else the floor each
    curve's segmentation chose (``noise`` of its result), named once when all agree."""
    if n:
        return f"binomial, eval set of {n}"
    kinds = sorted({p.get("noise") for p in phases if p.get("noise")})
    return kinds[0] if len(kinds) == 1 else ("per curve: " + "; ".join(kinds) if kinds else "none")


def analyse(
    experiment: Experiment | str,
    metric: str,
    *,
    direction: str | None = None,
    eval_n: int | None = None,
    segmenter: PhaseSegmenter | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    budget_axis: str | None = None,
) -> Analysis:
    """Segment ``metric`` for every (arm, seed) of ``experiment`` (an ``Experiment`` or a path for
    ``open_experiment``) and compare the arms. ``direction`` and ``eval_n`` override what the name
    and the experiment's records say; the stage starts it logged are fixed knots. ``budget_axis``
    (default budget/updates; step when the logs have no budgets) is where arms are matched."""
    exp = experiment if isinstance(experiment, Experiment) else open_experiment(experiment)
    frame = exp.frame
    name = resolve_metric(frame, metric)
    direction, notes = resolve_direction(name, direction)
    n, more = resolve_eval_n(name, frame, exp.eval_sets, eval_n)
    notes += more
    knots = {r: k for r, k in exp.stage_starts.items() if k} or None
    phases, error = [], None
    try:
        phases, more = segment_frame(frame, name, direction, segmenter, eval_n=n, fixed_knots=knots)
        notes += more
    except PhasescopeError as exc:
        error = str(exc)
        _, more = curves_for(frame, name)  # the seed-alignment notes, which segmenting would have given
        notes += more + [f"no phases: {exc}"]
    comparison, more = compare_frame(
        frame,
        name,
        direction=direction,
        eval_n=n,
        segments=phases,
        n_boot=n_boot,
        seed=seed,
        budget_axis=budget_axis,
        problems=load_problem_bits(frame, name, notes),
    )
    notes += [m for m in more if m.startswith("no budget/") or "per-problem" in m]
    noise = _noise_words(phases, n)
    return Analysis(name, direction, n, noise, phases, comparison, comparison["verdict"], notes, error)
