"""What a run has spent so far: the cumulative `budget/*` columns of every metrics row.

Arms differ in what one update costs (pure SFT generates nothing, CHORD both generates and scores
expert rows) and a two-stage arm spends a whole SFT stage, and dev evaluations, before its RL stage.
So every row carries four running totals, on which arms can be compared at an equal cost:

- ``budget/updates``: optimizer updates made (every one, a skipped non-finite update included: its
  compute was spent). A two-stage arm counts its SFT stage, the updates trained past a best/auto
  switch included, and its RL stage continues from there.
- ``budget/samples``: completions generated (rollouts; with TRL's ``num_iterations`` > 1 a rollout
  reused by later updates counts once) plus expert rows trained on.
- ``budget/tokens``: ``generated + rollout_fb + expert_fb`` summed over updates, where ``generated``
  is the completion tokens generated, ``rollout_fb`` the prompt + completion tokens of the rollouts
  in the GRPO term's forward and backward pass and ``expert_fb`` the prompt + response tokens of the
  expert rows in the SFT term's: non-padding tokens, over all processes. Evaluations, probes and dev
  evaluations are not in it (they are the observer's cost, equal for every arm; see ``selection``).
- ``budget/selection``: dev-split evaluations run to choose a two-stage arm's switch (sft_steps best or
  auto) or μ (a schedule that watches a dev metric, as chord_phase: every evaluation step); 0 for arms
  that choose nothing.

Observation only: nothing here feeds back into the training. The trainer adds each update's
`UpdateCost` to its `Budget`; a checkpoint stores the `Budget` (`BudgetKeeper`, an ``ExportableState``
in ``trainer_state.json``), so a resumed run continues the totals without counting anything twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

PREFIX = "budget/"


@dataclass
class Budget:
    """Running totals of one run (see the module docstring)."""

    updates: int = 0
    samples: int = 0
    tokens: int = 0
    selection: int = 0

    def row(self) -> dict[str, int]:
        """The ``budget/*`` columns of a metrics row."""
        return {PREFIX + k: v for k, v in dataclasses.asdict(self).items()}

    def load(self, other: Budget | dict[str, Any]) -> None:
        """Take the totals of `other` (a Budget or its `row()`/`asdict` form), in place."""
        values = dataclasses.asdict(other) if isinstance(other, Budget) else other
        for f in dataclasses.fields(self):
            setattr(self, f.name, int(values.get(f.name, values.get(PREFIX + f.name, 0))))

    def add_update(self, cost: dict[str, float]) -> None:
        """Count one optimizer update with the summed `update_cost` of its micro-batches."""
        self.updates += 1
        self.samples += int(cost.get("generated_rows", 0) + cost.get("expert_rows", 0))
        self.tokens += int(
            cost.get("generated_tokens", 0) + cost.get("rollout_tokens", 0) + cost.get("expert_tokens", 0)
        )


COST_KEYS = ("generated_rows", "generated_tokens", "rollout_tokens", "expert_rows", "expert_tokens")
COST_PREFIX = "cost/"
"""`update_cost`'s keys are COST_PREFIX + a cost key: they travel with the loss statistics through one
all-reduce, and are then taken out of them again."""


def update_cost(inputs: dict[str, Any], generated: bool) -> dict[str, torch.Tensor]:
    """One micro-batch's share of an update's cost on this process (keys COST_PREFIX + `COST_KEYS`), as
    scalar tensors to sum over processes (integer counts: exact in the float32 of that sum up to 2^24).

    `inputs`: the trainer's micro-batch (rollouts under ``completion_ids`` etc., expert rows under
    ``expert``); `generated`: whether its rollouts were generated for it (False when TRL reuses a
    generation, ``num_iterations`` > 1).
    """
    cost = dict.fromkeys(COST_KEYS, torch.zeros(()))
    if "completion_ids" in inputs:
        completion = inputs["completion_mask"].sum()
        cost["rollout_tokens"] = inputs["prompt_mask"].sum() + completion
        if generated:
            cost["generated_rows"] = torch.tensor(float(inputs["completion_ids"].size(0)))
            cost["generated_tokens"] = completion
    if "expert" in inputs:
        e = inputs["expert"]
        attend = e.get("completion_attention_mask", e["completion_mask"])
        cost["expert_rows"] = torch.tensor(float(e["completion_ids"].size(0)))
        cost["expert_tokens"] = e["prompt_mask"].sum() + attend.sum()
    return {COST_PREFIX + k: v for k, v in cost.items()}


def fresh_generation(micro_step: int, steps_per_generation: int, num_iterations: int) -> bool:
    """Whether micro-batch `micro_step` (TRL's ``_step``, counted over the run) takes rollouts generated
    for it: TRL generates every ``steps_per_generation × num_iterations`` micro-batches and reuses the
    buffered rollouts ``num_iterations`` times."""
    return (micro_step // max(1, steps_per_generation)) % max(1, num_iterations) == 0


def add_costs(total: dict[str, float], summed: dict[str, float]) -> dict[str, float]:
    """`total` (keyed by `COST_KEYS`) plus the `COST_PREFIX` entries of one micro-batch's summed cost."""
    return {k: total.get(k, 0.0) + summed.get(COST_PREFIX + k, 0.0) for k in COST_KEYS}


class BudgetKeeper(TrainerCallback, ExportableState):
    """Saves the trainer's `Budget` in each checkpoint (``trainer_state.json``, ``stateful_callbacks``)
    and, in a run resumed from a checkpoint, loads it back before the first update.

    transformers stores every ``ExportableState`` callback's ``state()`` with each checkpoint and loads
    ``trainer_state.json`` back on resume, whatever ``restore_callback_states_from_checkpoint`` says;
    the totals are read from there in ``on_train_begin``, which runs after the checkpoint's state is in.
    """

    def __init__(self, budget: Budget | None = None):
        self.budget = budget if budget is not None else Budget()

    def state(self) -> dict[str, Any]:
        return {"args": {}, "attributes": {"saved": dataclasses.asdict(self.budget)}}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:
            return
        name = type(self).__name__
        stored = state.stateful_callbacks.get(name)
        if isinstance(stored, list):
            stored = stored[-1] if stored else None
        if stored:
            self.budget.load(stored.get("attributes", {}).get("saved", {}))
        else:  # a checkpoint from before budgets: only the updates are known; saving needs the entry
            self.budget.updates = state.global_step
            state.stateful_callbacks[name] = self.state()
