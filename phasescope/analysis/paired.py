"""Paired, two-level intervals for differences between arms, from per-problem results.

Every arm of an experiment answers the same held-out problems, and arms share each replicate's
(world draw, seed; ``replicates``) prompt order, so a difference between two arms is paired twice:
by replicate and by problem. Where both arms have per-problem results (``problems.jsonl``, read by
``runlog.problems.read_problems``) for the evaluation a quantity is read at (final, peak, matched
budget; ``replicates.replicate_points``), the difference A − B is the mean over the shared
replicates of (A's rate − B's rate), and its interval is a **hierarchical bootstrap**: each of
``N_BOOT`` draws resamples the replicates with replacement and, for each world draw, its problems
with replacement (multinomial weights), the *same* problem weights for every replicate of that world
and for both arms; a rate under the draw is the weighted share of problems right. The 95% interval
is the percentile interval of the drawn differences; the p-value inverts it,
p = min(1, 2·min(1 + #{Δ* ≤ 0}, 1 + #{Δ* ≥ 0}) / (N_BOOT + 1)), so identical arms give [0, 0]
and p = 1.

Departures and choices, with reasons:

- Problems are resampled once per world and shared by its seeds, not independently inside each seed
  (the textbook nested two-stage bootstrap). Seeds and problems are *crossed* here: every seed of a
  world answers the same eval set, so a problem that is hard for one seed is hard for all of them.
  Resampling problems afresh inside each seed would treat each seed as meeting a new eval set and
  shrink the problems' share of the variance by the number of seeds. Resampling rows and columns
  independently is Owen's (2007) "pigeonhole" bootstrap for crossed random effects, which is
  mildly conservative; across world draws the eval sets differ, so problems are nested in worlds.
- A bootstrap and not a mixed model (e.g. a logistic GLMM with random effects for seed and problem):
  with 2–5 seeds the seed variance component is barely estimable and such fits often end on the
  boundary (variance 0, an interval that ignores the seeds) or fail to converge; the quantities
  compared include a maximum over steps (the peak), which a GLMM of one evaluation does not model;
  and the bootstrap needs nothing beyond numpy. The peak is re-found inside every draw (the maximum
  of the resampled curve), so the selection of the best step is part of the interval.
- With one shared replicate the interval holds the eval set's noise only (no seed-to-seed
  variation can be estimated); the pair's caveat says so.

Pure functions; ``load_problem_bits`` is the one reader (through ``runlog.problems``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from phasescope.analysis.replicates import Replicate, key_text, replicate_key
from phasescope.errors import PhasescopeError
from phasescope.runlog.problems import read_problems

N_BOOT = 10_000
"""Draws of the paired bootstrap: its smallest p is 2/(N_BOOT + 1), small enough for Holm over
dozens of pairs (0.05/45 ≈ 0.0011)."""
CHUNK = 1000
"""Problem weight vectors drawn at a time (a real eval set of 5 000 problems: 40 MB a chunk)."""
TEST = "paired hierarchical bootstrap (seeds x problems)"
TEST_WORLDS = "paired hierarchical bootstrap ((world, seed) x problems)"


def split_of(metric: str) -> str | None:
    """The per-problem split behind an accuracy metric (``runlog.problems.accuracy_key`` inverted):
    eval/accuracy -> eval, dev/accuracy -> dev, eval/<name>_accuracy -> <name>; None otherwise."""
    if metric in ("eval/accuracy", "dev/accuracy"):
        return metric.split("/")[0]
    m = re.fullmatch(r"eval/(.+)_accuracy", metric)
    return m.group(1) if m else None


def load_problem_bits(frame, metric: str, notes: list[str]) -> dict:
    """(run, replicate key) -> (steps, ids, correct) of ``metric``'s split, for every replicate whose
    run directory (the parent of its ``metrics.jsonl`` source) holds per-problem results. A file
    that cannot be read is a note, not an error: that replicate falls back to the tests over seeds."""
    split = split_of(metric)
    out: dict = {}
    if split is None or "source" not in frame.columns:
        return out
    sub = frame[frame["metric"] == metric]
    seen = set()
    for run, key, source in zip(sub["run"].astype(str), replicate_key(sub), sub["source"], strict=True):
        if (run, key) in seen:
            continue
        seen.add((run, key))
        src = Path(str(source))
        if src.name != "metrics.jsonl" or not src.parent.is_dir():
            continue
        try:
            found = read_problems(src.parent, notes)
        except (PhasescopeError, OSError, ValueError) as exc:  # unreadable bytes: ValueError
            notes.append(f"{run} {key_text(key)}: per-problem results not used ({exc})")
            continue
        if split in found:
            out[(run, key)] = found[split]
    return out


@dataclass
class ArmDraws:
    """One arm's value per replicate on one quantity: at unit weights and under every draw."""

    keys: list = field(default_factory=list)
    point: dict = field(default_factory=dict)  # key -> value
    draws: dict = field(default_factory=dict)  # key -> (N_BOOT,) values
    cells: dict = field(default_factory=dict)  # key -> the bits read (problems right or wrong)


def _rows(steps_p: np.ndarray, bits: np.ndarray, rep: Replicate, idx: list[int]) -> np.ndarray | None:
    """The bit rows of ``rep``'s evaluations ``idx``; None when one is missing or disagrees with the
    logged value (then the per-problem file does not describe this curve)."""
    out = []
    n = bits.shape[1]
    for i in idx:
        hit = np.flatnonzero(steps_p == rep.steps[i])
        if not len(hit) or abs(bits[hit[-1]].mean() - rep.values[i]) > 0.5 / n + 1e-9:
            return None
        out.append(bits[hit[-1]])
    return np.vstack(out).astype(float)


@dataclass
class PairedData:
    """Every arm's draws on every quantity, under common problem weights per world."""

    draws: dict = field(default_factory=dict)  # (run, quantity) -> ArmDraws
    n_problems: dict = field(default_factory=dict)  # world -> problems
    n_worlds: int = 1
    seed: int = 0

    def arm(self, run: str, quantity: str) -> ArmDraws | None:
        return self.draws.get((run, quantity))


def build_paired(
    reps: dict[str, list[Replicate]], bits: dict, direction: str, notes: list[str], seed: int = 0
) -> PairedData:
    """Every arm's draws on every quantity, under problem weights common to a world (the canonical
    id order is the first run's; an arm with the same ids in another order is re-ordered)."""
    data = PairedData(n_worlds=len({r.key[0] for rs in reps.values() for r in rs}), seed=seed)
    ids: dict[int, list[str]] = {}
    for (_, key), (_, i, _) in sorted(bits.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        ids.setdefault(key[0], list(i))
    sign = 1.0 if direction == "higher" else -1.0
    per_world: dict[int, list] = {}
    for run, rs in reps.items():
        for r in (r for r in rs if (run, r.key) in bits):
            steps_p, i, b = bits[(run, r.key)]
            if list(i) != ids[r.key[0]]:
                pos = {p: j for j, p in enumerate(i)}
                if set(pos) != set(ids[r.key[0]]):
                    notes.append(f"{run} {key_text(r.key)}: its per-problem ids differ from the other arms'")
                    continue
                b = b[:, [pos[p] for p in ids[r.key[0]]]]
            picked = {q: _picked_rows(steps_p, b, r, q) for q, i in r.picks.items() if i is not None}
            if any(rows is None for rows in picked.values()):
                notes.append(
                    f"{run} {key_text(r.key)}: its per-problem results do not match the logged values "
                    "at every evaluation read; those quantities are not paired"
                )
            per_world.setdefault(r.key[0], []).append((r, {q: v for q, v in picked.items() if v is not None}))
    for w, items in sorted(per_world.items()):
        data.n_problems[w] = len(ids[w])
        _draw_world(data, w, items, sign)
    return data


def _picked_rows(steps_p, b, r: Replicate, q: str) -> np.ndarray | None:
    """The bit rows a quantity reads: every evaluation for the peak (re-found in each draw, so the
    choice of the best step is part of the interval), the one evaluation otherwise."""
    return _rows(steps_p, b, r, list(range(len(r.steps))) if q == "best" else [r.picks[q]])


def _draw_world(data: PairedData, w: int, items: list, sign: float) -> None:
    """Draws of every (replicate, quantity) of world ``w``, in chunks of ``CHUNK`` problem weight
    vectors (multinomial counts / n) that every arm shares: memory stays CHUNK × problems."""
    n = data.n_problems[w]
    parts: dict = {}
    for start in range(0, N_BOOT, CHUNK):
        rng = np.random.default_rng([data.seed, 21, abs(w), start])
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(CHUNK, N_BOOT - start)) / n
        for r, picked in items:
            for q, rows in picked.items():
                part = sign * (sign * (weights @ rows.T)).max(axis=1) if q == "best" else weights @ rows[0]
                parts.setdefault((id(r), q), []).append(part)
    for r, picked in items:
        for q, rows in picked.items():
            row = rows[int(np.argmax(sign * rows.mean(axis=1)))] if q == "best" else rows[0]
            entry = data.draws.setdefault((r.run, q), ArmDraws())
            entry.keys.append(r.key)
            entry.point[r.key], entry.cells[r.key] = float(row.mean()), row
            entry.draws[r.key] = np.concatenate(parts[(id(r), q)])


def paired_difference(data: PairedData, a: str, b: str, quantity: str) -> dict | None:
    """A − B on ``quantity`` over the replicates both arms have per-problem results for: the point
    difference, the drawn differences (kept out of JSON), 95% interval, p, the paired cells (for the
    probability of improvement) and the counts. None when no replicate is shared."""
    da, db = data.arm(a, quantity), data.arm(b, quantity)
    if da is None or db is None:
        return None
    keys = [k for k in da.keys if k in db.draws]
    if not keys:
        return None
    k = len(keys)
    # The same replicate resample for every pair with k shared replicates: common random numbers.
    pick = np.random.default_rng([data.seed, 22, k]).integers(0, k, size=(N_BOOT, k))
    diffs = np.column_stack([da.draws[key] - db.draws[key] for key in keys])
    drawn = np.take_along_axis(diffs, pick, axis=1).mean(axis=1)
    below, above = int(np.sum(drawn <= 0)), int(np.sum(drawn >= 0))
    p = min(1.0, 2 * min(1 + below, 1 + above) / (N_BOOT + 1))
    return {
        "diff": float(np.mean([da.point[key] - db.point[key] for key in keys])),
        "drawn": drawn,
        "ci": interval(drawn, 0.05),
        "p": p,
        "keys": keys,
        "cells": (
            np.concatenate([da.cells[key] for key in keys]),
            np.concatenate([db.cells[key] for key in keys]),
        ),
        "n_replicates": k,
        "n_problems": int(sum(len(da.cells[key]) for key in keys) // k),
    }


def interval(drawn: np.ndarray, alpha: float) -> list[float]:
    """The percentile interval of level 1 − alpha of drawn differences."""
    lo, hi = np.quantile(drawn, [alpha / 2, 1 - alpha / 2])
    return [float(lo), float(hi)]
