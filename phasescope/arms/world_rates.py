"""The embedded world's learning rate for each built-in arm, chosen on its dev split.

`phasescope tune` chose them (`benchmarks/tune_defaults.py`: 600 updates, 2 seeds per trial, the
mean of the last three dev evaluations; the held-out set never read), and docs/results.md holds the
table of every rate tried. They are the world's, not the arms': a rate is a property of a model and a
task, so they apply only to the embedded world (`model.model_name_or_path` empty) with
`world.tuned_rates` on, and only where the arm's own `lr` / `sft_lr` is unset. A real model's arms
run at `train.learning_rate` / `train.sft_lr` (or their own `lr` / `sft_lr`).

Every tuned arm is listed, also where the rate chosen equals `train.*`'s default (hpt, dft,
dft_then_rl), so that this table says what was chosen. Left out, at `train.learning_rate` (1e-4) and
`train.sft_lr` (1e-3): chord_adaptive and chord_phase (not tuned). CHORD-φ's controls take CHORD-φ's
rate (sft_scaled, chord_phi_mu03) or SFT's (chord_phi_mu1, whose updates are all μ = 1): a control
changes one thing.
"""

from __future__ import annotations

import dataclasses

WORLD_RATES: dict[str, dict[str, float]] = {
    "sft": {"sft_lr": 3e-3},
    "rl": {"lr": 3e-4},
    "sft_then_rl": {"lr": 3e-4, "sft_lr": 3e-3},
    "sft_light_then_rl": {"lr": 3e-4, "sft_lr": 3e-3},
    "chord_mu": {"lr": 3e-4},
    "chord_phi": {"lr": 3e-4},
    "sft_scaled": {"lr": 3e-4},
    "chord_phi_mu03": {"lr": 3e-4},
    "chord_phi_mu1": {"sft_lr": 3e-3},
    "luffy": {"lr": 3e-4},
    "srft": {"lr": 3e-4},
    "hpt": {"lr": 1e-4},
    "relift": {"lr": 1e-4, "sft_lr": 3e-3},
    "dft": {"sft_lr": 1e-3},
    "dft_then_rl": {"lr": 1e-4, "sft_lr": 1e-3},
}


def with_world_rates(arms: dict) -> dict:
    """`arms` (name → ArmConfig) with each built-in arm's world rate wherever its own is unset."""
    out = dict(arms)
    for name, rates in WORLD_RATES.items():
        if name in out:
            unset = {k: v for k, v in rates.items() if getattr(out[name], k) is None}
            out[name] = dataclasses.replace(out[name], **unset) if unset else out[name]
    return out
