"""Held-out evaluation of the embedded world: the curves the phases are read from.

Every metric is computed on fixed held-out sets (never trained on), each in one batched `generate`:
- `eval/accuracy`: greedy accuracy on held-out addition (the target skill; the paper's MATH-500);
- `eval/sampled_accuracy`: accuracy of one sample per problem at the rollout temperature;
- `eval/format_rate`: share of greedy responses that are a well-formed direct answer or chain of thought;
- `eval/response_length`: mean greedy response length in tokens;
- `eval/truncated_rate`: share of greedy responses cut off at `max_completion_length` (no end mark);
- `eval/cot_rate`: share of greedy responses in the expert's chain-of-thought style;
- `eval/expert_nll`: token-mean NLL of expert-style (chain-of-thought) answers to held-out problems —
  it falls while the expert style is learnt and rises again when the expert set is memorised;
- `eval/general_accuracy`: greedy accuracy on the held-out general skill (max by default; nobody trains it; MMLU-Pro).
Sampling uses its own generator (seeded by the step), so evaluating never moves the training RNG.

Which problems were answered correctly (greedy) is returned too, under `runlog.problems.PAYLOAD_KEY`
({split: (ids, correct)}, splits `eval` and `general`; ids are the problems' text): `with_problem_log`
takes it out of the metrics and writes it to problems.jsonl, so the accuracies are the bits' means.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from phasescope.lm import generate, response_nll
from phasescope.runlog.problems import PAYLOAD_KEY
from phasescope.world.task import COT_MARK, cot_response, is_well_formed, reward


def make_world_evaluator(
    tokenizer, splits, max_new_tokens: int, temperature: float, digits: int, seed: int = 0
):
    problems = splits.eval
    general = splits.eval_general
    prompts = [p.prompt for p in problems]
    cot_refs = [cot_response(p) for p in problems]
    ids, general_ids = prompts, [p.prompt for p in general]

    @torch.no_grad()
    def evaluate(model, step: int) -> dict[str, float]:
        greedy = generate(model, tokenizer, prompts + [p.prompt for p in general], max_new_tokens, 1.0, True)
        main, gen = greedy[: len(problems)], greedy[len(problems) :]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 7919 + step)
            sampled = generate(model, tokenizer, prompts, max_new_tokens, temperature, greedy=False)
        n = len(problems)
        correct = [reward(p.answer, t) for p, t in zip(problems, main)]
        general_correct = [reward(p.answer, t) for p, t in zip(general, gen)]
        return {
            "eval/accuracy": sum(correct) / n,
            "eval/sampled_accuracy": sum(reward(p.answer, t) for p, t in zip(problems, sampled)) / n,
            "eval/format_rate": sum(is_well_formed(t, digits) for t in main) / n,
            "eval/cot_rate": sum(t.startswith(COT_MARK) for t in main) / n,
            "eval/response_length": sum(len(t) for t in main) / n,
            "eval/truncated_rate": sum(not t.endswith(tokenizer.eos_token) for t in main) / n,
            "eval/expert_nll": float(response_nll(model, tokenizer, prompts, cot_refs)),
            "eval/general_accuracy": sum(general_correct) / len(general),
            PAYLOAD_KEY: {"eval": (ids, correct), "general": (general_ids, general_correct)},
        }

    return evaluate


def with_problem_log(evaluate: Callable, write: Callable[[int, dict], None] | None) -> Callable:
    """`evaluate` whose per-problem results (`PAYLOAD_KEY`) go to `write(step, payload)` (None: dropped)
    instead of into the metrics it returns."""

    def run(model, step: int) -> dict[str, float]:
        out = evaluate(model, step)
        payload = out.pop(PAYLOAD_KEY, None)
        if payload and write is not None:
            write(step, payload)
        return out

    return run
