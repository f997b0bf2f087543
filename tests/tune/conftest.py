"""A stand-in for training in tuning tests: `run_experiment` returns rows whose dev score is a known
function of the trial's learning rate, and whose held-out keys raise when read."""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import pytest


class TrapRow(dict):
    """A metrics row that fails the test when a held-out (eval/*) value is read or every key is scanned."""

    def __getitem__(self, key):
        if str(key).startswith("eval/"):
            raise AssertionError(f"tuning read the held-out metric {key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if str(key).startswith("eval/"):
            raise AssertionError(f"tuning read the held-out metric {key}")
        return super().get(key, default)

    def __contains__(self, key):
        if str(key).startswith("eval/"):
            raise AssertionError(f"tuning looked for the held-out metric {key}")
        return super().__contains__(key)

    def _scan(self, *args):
        raise AssertionError("tuning scanned every key of a row (held-out ones included)")

    items = values = keys = __iter__ = _scan


def known_score(lr: float) -> float:
    """The fake dev score: 1 at lr = 1e-4, falling by 0.25 per decade away from it."""
    return 1.0 - abs(math.log10(lr) + 4.0) / 4.0


def fake_rows(score: float) -> list[TrapRow]:
    """Step 0 (the base, excluded from the score), then dev evaluations whose last three average `score`;
    every row also carries held-out values a tuner must never read."""
    devs = [(0, 0.1), (10, 0.3), (20, score - 0.02), (30, score), (40, score + 0.02)]
    return [TrapRow({"step": s, "dev/accuracy": v, "eval/accuracy": 0.99}) for s, v in devs]


@pytest.fixture
def fake_training(monkeypatch):
    """Stand in for `phasescope.train.runner` (so no torch is imported); returns the list of
    (arm, cfg, exp_dir) its `run_experiment` was called with."""
    calls = []

    def run_experiment(cfg, exp_dir, log=print, overwrite=False, resume=False):
        (arm,) = cfg.experiment.arms
        calls.append((arm, cfg, exp_dir))
        exp_dir.mkdir(parents=True, exist_ok=True)
        lr = cfg.arms[arm].lr or cfg.train.learning_rate
        if arm == "sft":
            lr = (cfg.arms[arm].sft_lr or cfg.train.sft_lr) / 10
        rows = fake_rows(known_score(lr))
        return [SimpleNamespace(arm=arm, seed=s, ok=True, rows=rows) for s in range(cfg.experiment.seeds)]

    monkeypatch.setitem(
        sys.modules, "phasescope.train.runner", SimpleNamespace(run_experiment=run_experiment)
    )
    return calls
