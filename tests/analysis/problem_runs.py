"""Synthetic experiments with per-problem results whose paired differences are known by construction.

``write_experiment(root, arms)`` writes ``experiment.json`` and, per arm and replicate, the run
directory (``<arm>/seed<k>``, or ``<arm>/world<w>-seed<k>`` for a world beyond 0) with
``metrics.jsonl`` (eval/accuracy = the mean of the bits, eval/expert_nll a made-up NLL) and the
per-problem files of ``runlog.problems``. ``arms`` maps arm -> {(world, seed): bool array
(evaluations × problems)}; evaluations are at steps 0, 10, 20, ...
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from phasescope.runlog.problems import ProblemsWriter

N = 200


def ids(world: int = 0, n: int = N) -> list[str]:
    return [f"w{world}-{i:03d}+{i % 7:03d}" for i in range(n)]


def _nll(row: np.ndarray, i: int) -> float:
    """A made-up NLL that moves with the accuracy (so seeds and arms differ on it)."""
    return 2.0 - 0.01 * i - float(row.mean())


def run_dir(exp: Path, arm: str, key: tuple) -> Path:
    world, seed = key
    return exp / arm / (f"seed{seed}" if world == 0 else f"world{world}-seed{seed}")


def write_experiment(root: Path, arms: dict, name: str = "paired") -> Path:
    exp = Path(root) / name
    exp.mkdir(parents=True, exist_ok=True)
    n = next(iter(next(iter(arms.values())).values())).shape[1]
    config = {"experiment": {"name": name, "arms": list(arms)}, "world": {"n_eval": n}, "model": {}}
    (exp / "experiment.json").write_text(json.dumps({"name": name, "config": config}))
    for arm, reps in arms.items():
        for key, bits in reps.items():
            d = run_dir(exp, arm, key)
            d.mkdir(parents=True, exist_ok=True)
            writer = ProblemsWriter(d)
            rows = []
            for i, row in enumerate(np.asarray(bits, bool)):
                step = 10 * i
                writer.write(step, "eval", ids(key[0], len(row)), row)
                rows.append(
                    {"step": step, "eval/accuracy": float(row.mean()), "eval/expert_nll": _nll(row, i)}
                )
            writer.close()
            (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


def frame_of(exp: Path, arms: dict) -> pd.DataFrame:
    """The tidy frame of ``write_experiment``'s runs with a ``world`` column, as the reader will give
    once it knows world draws (built here so the test does not depend on it)."""
    rows = []
    for arm, reps in arms.items():
        for key, bits in reps.items():
            src = str(run_dir(exp, arm, key) / "metrics.jsonl")
            for i, row in enumerate(np.asarray(bits, bool)):
                for metric, value in (
                    ("eval/accuracy", float(row.mean())),
                    ("eval/expert_nll", _nll(row, i)),
                ):
                    rows.append(
                        {"run": arm, "seed": key[1], "step": 10 * i, "metric": metric, "value": value}
                        | {"source": src, "world": key[0]}
                    )
    return pd.DataFrame(rows)


def base_bits(rng: np.random.Generator, n_steps: int = 5, n: int = N, p: float = 0.5) -> np.ndarray:
    """Random right/wrong per (evaluation, problem); the last 40 problems always wrong."""
    bits = rng.random((n_steps, n)) < p
    bits[:, -40:] = False
    return bits


def with_more_right(bits: np.ndarray, k: int) -> np.ndarray:
    """``bits`` with the first ``k`` of the always-wrong last 40 problems (``base_bits``) made right:
    the same problems in every seed."""
    out = bits.copy()
    n = bits.shape[1]
    assert k <= 40 and not bits[:, n - 40 :].any()
    out[:, n - 40 : n - 40 + k] = True
    return out
