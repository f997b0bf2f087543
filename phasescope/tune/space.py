"""What `phasescope tune` searches for one arm: a list of knobs, each a config key with its range.

The space is data, derived from the arm's settings (not its name, so that a user's own arm gets the
knobs its schedule has):

- `arms.<arm>.lr`, the learning rate of updates with an RL term (μ < 1), log-uniform on [1e-5, 1e-3]
  around the default 1e-4, when the arm has such updates. It is `train.learning_rate` for that arm
  alone: tuned arms keep their own rate when they run together (`arms.<arm>.lr` overrides it).
- `arms.<arm>.sft_lr`, the learning rate of pure-SFT updates (μ = 1), log-uniform on [1e-4, 1e-2]
  around the default `train.sft_lr` = 1e-3, when the arm has such updates (sft, the SFT stage of
  sft_then_rl, μ = 1 arms). Per arm, as `lr`: SFT alone and the SFT stage of SFT-then-RL may want
  different rates, and both keep theirs in one run.
- CHORD-μ (`warmup_cosine`): `mu_peak` on [0.1, 0.95] (below 1, so that no update switches to
  `sft_lr`) and `mu_decay_steps` on [0, train.max_steps] (the decay cannot outlast the budget).
- A constant μ strictly between 0 and 1 (CHORD-φ, sft_scaled, chord_phi_mu03): `mu` on [0.02, 0.95].
  μ = 0 and μ = 1 name the arm (RL, SFT, chord_phi_mu1) and are left alone.
- `train.expert_data_ratio` (expert rows per update as a share of the rollouts), one of 0.125, 0.25
  (the CHORD paper's), 0.5, 1.0 (the default world's 32 per 32), for arms that mix an expert term into
  RL updates (some update with 0 < μ < 1). Pure SFT's batch size is its own question, left out. A
  ratio that rounds to no expert row for this run's rollouts per update is not offered.
- A per-prompt arm (`mix` group, gate or buffer: LUFFY, SRFT, HPT, ReLIFT): its learning rate, and
  `sft_lr` for ReLIFT's buffered SFT pass; each prompt brings its own demonstration, so no ratio.

`grid` on each learning-rate knob is what `--sampler grid` walks (the other knobs keep their config
values then): the learning rate is the knob every method needs, and a grid of five half-decades is
what a user would try by hand. `centred_grid` narrows it to the N half-decades around the configured
value (`--grid-points N`), the cheap first pass; the summary flags a best value at the grid's edge.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from phasescope.arms import is_two_stage, mu_at, run_length

LR_RANGE = (1e-5, 1e-3)
SFT_LR_RANGE = (1e-4, 1e-2)
MU_PEAK_RANGE = (0.1, 0.95)
MU_RANGE = (0.02, 0.95)
RATIOS = (0.125, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Knob:
    """One searched config value: `key` as `--set` takes it, `label` for tables and figures."""

    key: str
    label: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()
    """Categorical values (then low/high are unused)."""
    grid: tuple[Any, ...] = ()
    """The values `--sampler grid` tries; empty: the knob is not on the grid."""

    def contains(self, value: Any) -> bool:
        """Whether `value` lies in the knob's range (or is one of its choices)."""
        if self.choices:
            return value in self.choices
        return self.low <= value <= self.high


def half_decades(low: float, high: float) -> tuple[float, ...]:
    """low, ~3·low, 10·low, ... up to high (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)."""
    if low <= 0:
        return ()
    out, v = [], low
    while v <= high * (1 + 1e-9):
        out.append(float(f"{v:.0e}"))
        out.append(float(f"{3 * v:.0e}"))
        v *= 10
    return tuple(x for x in out if x <= high * (1 + 1e-9))


def mu_values(arm, max_steps: int) -> list[float]:
    """μ at every update of a `max_steps` run of `arm` (a two-stage arm: its SFT stage as μ = 1)."""
    if is_two_stage(arm):
        return [1.0, 0.0]
    return [mu_at(s, arm) for s in range(1, run_length(arm, max_steps) + 1)]


def search_space(name: str, arm, max_steps: int, rollouts: int = 32) -> list[Knob]:
    """The knobs `phasescope tune` searches for arm `name` (an `ArmConfig`) at `max_steps` updates;
    `rollouts` per update (prompts × generations) drops the expert ratios that round to no row."""
    if getattr(arm, "mix", "step") != "step":
        return _per_prompt_space(name, arm)
    mus = mu_values(arm, max_steps)
    knobs = []
    if any(m < 1.0 for m in mus):
        knobs.append(
            Knob(f"arms.{name}.lr", "learning_rate", *LR_RANGE, log=True, grid=half_decades(*LR_RANGE))
        )
    if any(m == 1.0 for m in mus):
        knobs.append(_sft_lr_knob(name))
    if arm.schedule == "warmup_cosine":
        knobs.append(Knob(f"arms.{name}.mu_peak", "mu_peak", *MU_PEAK_RANGE))
        knobs.append(Knob(f"arms.{name}.mu_decay_steps", "mu_decay_steps", 0, max_steps, integer=True))
    elif arm.schedule == "constant" and 0.0 < arm.mu < 1.0:
        knobs.append(Knob(f"arms.{name}.mu", "mu", *MU_RANGE))
    if any(0.0 < m < 1.0 for m in mus):
        ratios = tuple(r for r in RATIOS if round(r * rollouts) >= 1)
        if len(ratios) > 1:
            knobs.append(Knob("train.expert_data_ratio", "expert_data_ratio", choices=ratios))
    return knobs


def _per_prompt_space(name: str, arm) -> list[Knob]:
    """A per-prompt arm (LUFFY, SRFT, HPT, ReLIFT): its learning rate; ReLIFT's SFT pass runs at
    `train.sft_lr`, so it is searched too. No expert ratio: every prompt brings its own demonstration."""
    knobs = [Knob(f"arms.{name}.lr", "learning_rate", *LR_RANGE, log=True, grid=half_decades(*LR_RANGE))]
    if arm.mix == "buffer":
        knobs.append(_sft_lr_knob(name))
    return knobs


def _sft_lr_knob(name: str) -> Knob:
    return Knob(f"arms.{name}.sft_lr", "sft_lr", *SFT_LR_RANGE, log=True, grid=half_decades(*SFT_LR_RANGE))


def centred_grid(knob: Knob, value: float, points: int) -> Knob:
    """`knob` with its grid cut to the `points` half-decades nearest `value` (the configured one),
    centred on it where the range allows (an even count leans upwards)."""
    if not knob.grid or points >= len(knob.grid):
        return knob
    ladder = list(knob.grid)
    at = min(range(len(ladder)), key=lambda i: abs(math.log(ladder[i] / value)))
    start = min(max(at - (points - 1) // 2, 0), len(ladder) - points)
    return dataclasses.replace(knob, grid=tuple(ladder[start : start + points]))


def at_grid_edge(knobs: list[Knob], values: dict[str, Any]) -> list[str]:
    """Labels of the grid knobs whose value is an end of their grid that is not an end of their range:
    the optimum may lie beyond what was searched."""
    edge = []
    for k in knobs:
        v = values.get(k.key)
        if not k.grid or k.choices or v is None:  # a categorical knob's choices have no "beyond"
            continue
        full = half_decades(k.low, k.high)
        if (v == min(k.grid) and v > min(full)) or (v == max(k.grid) and v < max(full)):
            edge.append(k.label)
    return edge


def shared_keys(arm, max_steps: int) -> set[str]:
    """The run-wide (train.*) knobs that change this arm's training, whether or not it tunes them:
    `train.expert_data_ratio` when it has expert rows (the learning rates are per arm)."""
    if getattr(arm, "mix", "step") != "step":
        return set()
    mus = mu_values(arm, max_steps)
    return {"train.expert_data_ratio"} if any(m > 0.0 for m in mus) else set()


def config_values(name: str, cfg, knobs: list[Knob]) -> dict[str, Any]:
    """The config's own value of every knob that lies in its range: the study's first trial, so that
    the table says what tuning gained over the values as configured."""
    tc, arm = cfg.train, cfg.arms[name]
    ratio = tc.expert_data_ratio
    if ratio is None:
        ratio = tc.expert_batch_size / (tc.prompts_per_step * tc.num_generations)
    known = {
        f"arms.{name}.lr": arm.lr or tc.learning_rate,
        f"arms.{name}.sft_lr": arm.sft_lr or tc.sft_lr,
        f"arms.{name}.mu_peak": arm.mu_peak,
        f"arms.{name}.mu_decay_steps": arm.mu_decay_steps,
        f"arms.{name}.mu": arm.mu,
        "train.expert_data_ratio": ratio,
    }
    return {k.key: known[k.key] for k in knobs if k.key in known and k.contains(known[k.key])}


def grid_space(knobs: list[Knob]) -> dict[str, list[Any]]:
    """The grid `--sampler grid` walks: every knob that has grid values (the learning rates)."""
    return {k.key: list(k.grid) for k in knobs if k.grid}


def suggest(trial, knobs: list[Knob], only: set[str] | None = None) -> dict[str, Any]:
    """The trial's value of every knob (an Optuna trial's `suggest_*`); `only`: just those keys."""
    values = {}
    for k in knobs:
        if only is not None and k.key not in only:
            continue
        if k.choices:
            values[k.key] = trial.suggest_categorical(k.key, list(k.choices))
        elif k.integer:
            values[k.key] = trial.suggest_int(k.key, int(k.low), int(k.high))
        else:
            values[k.key] = trial.suggest_float(k.key, k.low, k.high, log=k.log)
    return values


def as_overrides(values: dict[str, Any]) -> list[str]:
    """`--set` texts for the values (TOML literals: floats keep their exponent, ints stay ints)."""
    return [f"{key}={_literal(v)}" for key, v in values.items()]


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)
