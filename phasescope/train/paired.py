"""The trainer side of the per-prompt mixes (LUFFY, SRFT, HPT, ReLIFT): each RL prompt with its own demonstration.

`PairedMixin` is mixed into `PhaseTrainer` and does nothing for an arm whose μ is a per-step schedule.
For an arm whose μ rule is per prompt (`arms.mixing.is_paired`):
- the RL prompts are the expert set's problems (`paired_dataset`: prompt, answer, the row's index in
  the expert set and the demonstration's reward), so every rollout group has its demonstration;
- after TRL generates and scores a batch, each rollout row gets its group's statistics, computed on
  the rewards of all processes before TRL shuffles and splits the batch (`group_columns`): its reward,
  the group's mean reward and number of correct rollouts, and whether it is the group's first row
  (that row's micro-batch carries the group's demonstration, so each is trained once per update);
- the loss is the arm's objective (`mix_losses.py`), and the demonstrations are the micro-batch's
  ``expert`` rows, so `budget.update_cost` counts them as expert rows and tokens;
- ReLIFT (mix buffer): the demonstrations of prompts with at most `gate` correct rollouts join a buffer
  (kept in checkpoints by `BufferKeeper`)
  (newest first, as ReLIFT's ``DataProto.concat([new, buffer])``); once it holds `buffer_size` rows, one
  SFT update on the newest of them follows that step's RL update (`BufferPass`, before evaluation), at
  train.sft_lr, counted in budget/updates, samples and tokens.
On several processes every process makes the same collective calls and forward passes whatever it
holds: one without a demonstration (or without a buffered row) scores a fully masked placeholder row,
which adds nothing to the loss or the budget. Departures are listed in `mix_losses.py`; ReLIFT's SFT
update uses the RL update's optimizer (Adam moments shared; ReLIFT configures a separate SFT optimizer,
``optim.sft``) and no warm-up.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from phasescope.arms import expert_weights
from phasescope.arms.mixing import buffer_size, gated, is_paired, row_entropy
from phasescope.lm import encode_from_start
from phasescope.train.losses import grpo_loss, masked_mean, sft_loss
from phasescope.train.mix_losses import group_advantages, luffy_loss, srft_loss, sum_terms
from phasescope.train.probes import expert_token_stats


def paired_dataset(prompts: list[str], answers: list, responses_reward: list[float]) -> Dataset:
    """The RL prompts of a per-prompt arm: the expert set's problems, row i being expert row i."""
    return Dataset.from_dict(
        {
            "prompt": list(prompts),
            "answer": list(answers),
            "expert_index": list(range(len(prompts))),
            "demo_reward": [float(r) for r in responses_reward],
        }
    )


def group_stats(rewards: torch.Tensor, group_size: int) -> dict[str, torch.Tensor]:
    """Per row of consecutive groups of `group_size`: the group's mean reward, its number of correct
    rollouts (reward ≥ 1) and whether the row is the group's first (pure; all processes' rows)."""
    g = rewards.view(-1, group_size)
    pos = torch.arange(rewards.numel(), device=rewards.device)
    return {
        "group_mean": g.mean(1).repeat_interleave(group_size),
        "group_correct": (g >= 1.0).sum(1).to(rewards.dtype).repeat_interleave(group_size),
        "demo_owner": (pos % group_size == 0).to(rewards.dtype),
    }


class PairedMixin:
    """Per-prompt mixing for `PhaseTrainer` (module docstring). Needs `self.arm`, `self.expert`."""

    relift_buffer: list[int]

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        out = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._all_rewards = out  # every process's rows, before TRL slices its own
        return out

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if self.model.training and is_paired(self.arm):
            out.update(self.group_columns(inputs))
        return out

    def group_columns(self, inputs: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """The paired columns of this process's rows (module docstring); ReLIFT's buffer is filled here."""
        device, acc = self.accelerator.device, self.accelerator
        rewards = (self._all_rewards * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)
        index = torch.tensor([x["expert_index"] for x in inputs], device=device)
        demo = torch.tensor([x["demo_reward"] for x in inputs], device=device, dtype=rewards.dtype)
        all_index = acc.gather(index) if acc.num_processes > 1 else index
        stats = group_stats(rewards, self.num_generations)
        if self.arm.mix == "buffer":
            first = stats["demo_owner"].bool() & gated(stats["group_correct"], self.arm.gate)
            # newest first, as ReLIFT's concat([new, buffer])
            self.relift_buffer[:0] = [int(i) for i in all_index[first].tolist()]
        n = len(inputs)
        part = slice(acc.process_index * n, (acc.process_index + 1) * n)
        cols = {k: v[part] for k, v in stats.items()}
        cols.update({"mix_reward": rewards[part], "expert_index": index, "demo_reward": demo})
        return {("mix_" + k if not k.startswith("mix_") else k): v for k, v in cols.items()}

    def demo_rows(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """The demonstrations of expert rows `indices`, encoded as the expert stream's rows."""
        ex = self.expert
        batch = encode_from_start(
            ex.tokenizer, [ex.prompts[i] for i in indices], [ex.responses[i] for i in indices]
        )
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}

    def paired_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Attach the micro-batch's demonstrations (those of the groups whose first row it holds; HPT:
        of the gated groups only) and each row's advantage under the arm's rule."""
        arm = self.arm
        if arm.mix == "buffer":
            return inputs
        owner = inputs["mix_demo_owner"].bool()
        if arm.mix == "gate":
            take = gated_rows(inputs, arm.gate)
            owner = owner & take
            inputs["mix_adv"] = inputs["mix_reward"] - inputs["mix_group_mean"]
        else:
            adv, mean = group_advantages(
                inputs["mix_reward"],
                inputs["mix_group_mean"],
                self.num_generations,
                inputs["mix_demo_reward"],
            )
            inputs["mix_adv"] = adv
        rows = inputs["mix_expert_index"][owner].tolist()
        if rows:
            inputs["expert"] = self.demo_rows(rows)
            if arm.mix == "group":
                inputs["expert"]["adv"] = (inputs["mix_demo_reward"] - mean)[owner]
        return inputs

    # --- the loss ------------------------------------------------------------------------------------

    def paired_loss(self, model, inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, float]]:
        """(this process's share of the loss, shares to sum over processes, stats) of a per-prompt arm.

        Every process makes the same collective calls whatever demonstrations it holds (one may hold
        none): the shares have the same keys everywhere, and the expert statistics gather token lists."""
        arm, shares = self.arm, {}
        mask = inputs["completion_mask"]
        logps, ent = self._logps(
            model, inputs["prompt_ids"], inputs["prompt_mask"], inputs["completion_ids"], mask
        )
        old = inputs.get("old_per_token_logps")
        old = logps.detach() if old is None else old
        e = inputs.get("expert")
        lp_e, ent_e, mask_e = self.demo_logps(model, e, logps)
        adv_e = _adv(e, lp_e)
        share_r, share_e = self._token_share(mask), self._token_share(mask_e)
        both = self._token_share(torch.cat([mask.flatten(), mask_e.flatten()]))
        sft = None
        if arm.mix == "group" and arm.weighting == "srft":
            rl, sft = srft_loss(logps, ent, inputs["mix_reward"] >= 1.0, mask, lp_e, ent_e, adv_e, mask_e)
            rl, sft = rl * both, sft * share_e
            weight = expert_weights(arm, lp_e, row_entropy(ent_e, mask_e))
        elif arm.mix == "group":
            eps, is_ratio = self.args.epsilon, self._is_ratio(inputs)
            rl, clip = luffy_loss(
                logps, old, inputs["mix_adv"], mask, lp_e, adv_e, mask_e, eps, is_ratio=is_ratio
            )
            rl = rl * both
            shares["rollout/clip_frac"] = clip * share_r
            weight = expert_weights(arm, lp_e, ent_e, advantage=adv_e.reshape(-1, 1))
        else:
            kept = mask * (~gated_rows(inputs, arm.gate)).unsqueeze(1) if arm.mix == "gate" else mask
            adv = inputs["mix_adv"] if arm.mix == "gate" else inputs["advantages"]
            rl, clip = grpo_loss(logps, old, adv, kept, self.args.epsilon, self._is_ratio(inputs))
            share_k = self._token_share(kept)
            rl = rl * share_k
            shares["rollout/clip_frac"] = clip * share_k
            weight = expert_weights(arm, lp_e, ent_e)
            if arm.mix == "gate":
                sft = sft_loss(lp_e, mask_e, weight) * share_e if e is not None else logps.new_zeros(())
        shares["train/grpo_loss"] = rl.detach()
        if sft is not None:  # dropped from the row when no process trained a demonstration
            shares["train/sft_loss"] = sft.detach()
        shares["rollout/entropy"] = masked_mean(ent.detach(), mask) * share_r
        shares["rollout/p_mean"] = masked_mean(logps.detach().exp(), mask) * share_r
        shares.update(self.mix_share_counts(inputs, mask_e))
        shares["mix/demos"] = mask_e.sum().float()
        shares["tokens"] = (mask.sum() + mask_e.sum()).float()
        stats = self.demo_stats(lp_e, mask_e, ent_e, weight)
        return sum_terms(rl, sft if e is not None else None), shares, stats

    def demo_logps(self, model, e: dict | None, logps: torch.Tensor):
        """(log p, entropy, mask) of the micro-batch's demonstrations. With several processes, one
        without demonstrations scores a fully masked placeholder row (expert row 0, not charged to the
        budget), so that every process runs the same forward passes under DDP."""
        if e is None and self.accelerator.num_processes > 1:
            e = {**self.demo_rows([0])}
            e["completion_mask"] = torch.zeros_like(e["completion_mask"])
        if e is None:
            empty = logps.new_zeros((0, 1))
            return empty, empty, empty.long()
        attend = e.get("completion_attention_mask", e["completion_mask"])
        lp_e, ent_e = self._logps(model, e["prompt_ids"], e["prompt_mask"], e["completion_ids"], attend)
        return lp_e, ent_e, e["completion_mask"]

    def demo_stats(self, lp_e, mask_e, ent_e, weight) -> dict[str, float]:
        """expert/* and expert/weight_mean over every process's demonstration tokens ({} when none)."""
        sel = mask_e.bool()
        tokens = torch.stack([x.detach().float()[sel] for x in (lp_e, ent_e, weight)])
        if self.accelerator.num_processes > 1:
            tokens = torch.cat([t.to(tokens.device) for t in gather_object([tokens.cpu()])], dim=1)
        if tokens.size(1) == 0:
            return {}
        ones = torch.ones_like(tokens[:1])
        out = expert_token_stats(tokens[:1], ones, tokens[1:2], self.divergent_threshold)
        out["expert/weight_mean"] = float(tokens[2].mean())
        return out

    def mix_share_counts(self, inputs, mask_e) -> dict[str, torch.Tensor]:
        """Counts whose global sums give train/mu (`arms/mixing.py`): gate, the gated rows' share of the
        rollout rows (the prompts' share, as groups are whole); group, the demonstrations' share of rows."""
        rows = torch.tensor(float(inputs["completion_ids"].size(0)), device=self.accelerator.device)
        if self.arm.mix == "gate":
            expert = gated_rows(inputs, self.arm.gate).float().sum()
        elif self.arm.mix == "group":
            expert = torch.tensor(float(mask_e.size(0)), device=rows.device)
            rows = rows + expert
        else:
            expert = torch.zeros((), device=rows.device)
        return {"mix/expert": expert, "mix/rows": rows}

    # --- ReLIFT's SFT update ---------------------------------------------------------------------------

    def buffer_pass(self) -> None:
        """ReLIFT: one SFT update on the newest `buffer_size` buffered demonstrations, when that many are held."""
        size = buffer_size(self.arm, self._prompts_per_step())
        if self.arm.mix != "buffer" or len(self.relift_buffer) < size:
            return
        take, self.relift_buffer = self.relift_buffer[:size], self.relift_buffer[size:]
        acc = self.accelerator
        mine = take[acc.process_index :: acc.num_processes]
        e = self.demo_rows(mine or take[:1])  # a process with no row scores a masked placeholder (DDP)
        mask = e["completion_mask"] if mine else torch.zeros_like(e["completion_mask"])
        attend = e.get("completion_attention_mask", e["completion_mask"])
        model = self.model_wrapped  # DDP's wrapper, so that the gradients are averaged over processes
        self.model.zero_grad()
        with self.compute_loss_context_manager():
            logp, ent = self._logps(model, e["prompt_ids"], e["prompt_mask"], e["completion_ids"], attend)
            weight = expert_weights(self.arm, logp, ent)
            loss = sft_loss(logp, mask, weight) * self._token_share(mask)
        tokens = (e["prompt_mask"].sum() + attend.sum()) * bool(mine)
        summed = self._sum_over_processes({"loss": loss.detach(), "tokens": tokens})
        if not math.isfinite(summed["loss"]):  # every process skips alike
            self.model.zero_grad()
            return
        acc.backward(loss * acc.num_processes)
        if self.args.max_grad_norm:
            acc.clip_grad_norm_(self.model.parameters(), self.args.max_grad_norm)
        self._step_at(self.sft_lr if self.sft_lr is not None else self.args.learning_rate)
        self.budget.add_update({"expert_rows": len(take), "expert_tokens": summed["tokens"]})
        stats = self._step_stats
        stats.update(self.demo_stats(logp, mask, ent, weight))
        stats["train/sft_loss"] = summed["loss"]
        stats["train/mu"] = len(take) / (len(take) + self._prompts_per_step())

    def _step_at(self, lr: float) -> None:
        """One optimizer step at learning rate `lr` (the scheduler's rate is restored), then zero the gradients."""
        saved = [g["lr"] for g in self.optimizer.param_groups]
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.optimizer.step()
        for g, v in zip(self.optimizer.param_groups, saved):
            g["lr"] = v
        self.model.zero_grad()

    def _prompts_per_step(self) -> int:
        rows = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        return max(1, rows * self.accelerator.num_processes // self.num_generations)


def gated_rows(inputs, gate: int) -> torch.Tensor:
    """(B,) booleans: the rollout rows whose prompt goes to its demonstration (HPT's switch)."""
    return gated(inputs["mix_group_correct"], gate)


def _adv(expert: dict | None, lp_e: torch.Tensor) -> torch.Tensor:
    """The demonstrations' advantages (D,): LUFFY's and SRFT's, else 0 for each row of `lp_e` (none, or
    a masked placeholder row)."""
    if expert is None or "adv" not in expert:
        return lp_e.new_zeros(lp_e.size(0))
    return expert["adv"]


class BufferPass(TrainerCallback):
    """After each RL update (before the evaluation callback): ReLIFT's SFT update when its buffer is full."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer.buffer_pass()


class BufferKeeper(TrainerCallback, ExportableState):
    """ReLIFT's buffer in each checkpoint (``trainer_state.json``, ``stateful_callbacks``), loaded back
    before the first update of a resumed run, so that it trains the SFT updates of the uninterrupted
    run (as `budget.BudgetKeeper` does for the budgets)."""

    def __init__(self, trainer):
        self.trainer = trainer

    def state(self) -> dict[str, Any]:
        return {"args": {}, "attributes": {"buffer": list(self.trainer.relift_buffer)}}

    def on_train_begin(self, args, state, control, **kwargs):
        stored = state.stateful_callbacks.get(type(self).__name__) if state.global_step else None
        if isinstance(stored, list):
            stored = stored[-1] if stored else None
        if stored:
            self.trainer.relift_buffer[:] = [int(i) for i in stored.get("attributes", {}).get("buffer", [])]
