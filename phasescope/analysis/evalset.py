"""How many held-out problems a metric was measured on, and when a curve gets back to its base.

The eval-set size sets the binomial noise of a rate (√(p(1−p)/n)): the embedded world's is
``world.n_eval`` in experiment.json; a real run's is the row count of each eval set that the run
wrote to ``<arm>/seed<k>/data.json`` (the first set gives ``eval/accuracy``, a set named ``x`` gives
``eval/x_accuracy``); a W&B group mirrored by phasescope carries experiment.json's config.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

RATE_WORDS = ("acc", "rate", "pass", "correct", "success")


def is_rate_name(metric: str) -> bool:
    """Whether the name says the metric is a share of problems (accuracy, a rate, pass@k)."""
    return any(k in metric.lower() for k in RATE_WORDS)


def _is_wandb(spec: str) -> bool:
    return spec.startswith("wandb:") or "wandb.ai/" in spec


def _data_json_sizes(path: Path) -> dict[str, int]:
    """Eval-set name -> rows, from the first data.json of a real run ("" = the first set)."""
    from phasescope.runlog.reader import find_run_dirs

    base = path if path.is_dir() else path.parent
    dirs = find_run_dirs(base) or find_run_dirs(base.parent)
    for d in dirs:
        f = d / "data.json"
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sizes: dict[str, int] = {}
        for key, val in data.items():
            if key.startswith("eval:") and isinstance(val, dict) and isinstance(val.get("rows"), int):
                sizes.setdefault("", val["rows"])  # the first set: eval/accuracy, eval/format_rate ...
                sizes[key.removeprefix("eval:")] = val["rows"]
        if sizes:
            return sizes
    return {}


def _experiment_config(spec: str) -> dict:
    if _is_wandb(spec):
        from phasescope.runlog.wandb_reader import experiment_config

        return experiment_config(spec) or {}
    from phasescope.runlog.experiment import read_experiment

    return read_experiment(spec, levels=2 if Path(spec).is_dir() else 1).get("config") or {}


def eval_set_size(path, metric: str | None = None) -> int | None:
    """Held-out problems behind ``metric`` (default: the main eval set), None when unknown or when
    the metric's name is not a rate's (an NLL or a length has no binomial noise)."""
    if metric is not None and not is_rate_name(metric):
        return None
    spec = str(path)
    cfg = _experiment_config(spec)
    if (
        (cfg.get("model") or {}).get("model_name_or_path")
        or (cfg.get("model") or {}).get("name_or_path")
        or (cfg.get("data") or {}).get("eval")
    ):
        if _is_wandb(spec):
            return None  # a real run's data.json is on the training machine, not in W&B
        sizes = _data_json_sizes(Path(spec))
        tail = (metric or "").split("/")[-1]
        named = [k for k in sizes if k and tail.startswith(f"{k}_")]
        n = sizes.get(max(named, key=len)) if named else sizes.get("")
        return n if n and n > 0 else None
    n = (cfg.get("world") or {}).get("n_eval")
    return int(n) if isinstance(n, int) and n > 0 else None


def recovery_step(steps, y, worst_step, direction: str = "higher") -> float | None:
    """First evaluated step after the worst point of a shift at which the curve is back at or
    beyond its base (the step-0 value) in the good direction; None when it never is."""
    x, v = np.asarray(steps, float), np.asarray(y, float)
    if worst_step is None or len(v) == 0:
        return None
    good = v >= v[0] if direction == "higher" else v <= v[0]
    after = np.nonzero(good & (x > worst_step))[0]
    return float(x[after[0]]) if len(after) else None
