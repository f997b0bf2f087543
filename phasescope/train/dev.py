"""The dev split: the problems whatever chooses during training reads, never the held-out test set.

`sft_steps = "best"` or `"auto"` (arm schedule `sft_then_rl`) picks the SFT checkpoint RL starts from
by accuracy on a dev split, and `chord_phase` steers μ by the online phases of a dev metric
(`phase_metric`, evaluated beside the held-out sets at every evaluation step). Choosing on the held-out
set would report a test score that was selected on itself; so the dev split must share no problem with
any evaluation set (checked here: an overlap is a one-line usage error, exit 2).

- Embedded world: `Splits.dev`, the 256 addition problems drawn after the held-out sets (they also
  pick the base checkpoint; disjoint from `eval`, the expert set and the RL prompts by construction).
  Metrics: `dev/accuracy` (greedy) and `dev/expert_nll` (NLL of the expert-style answers).
  Per-problem results (split `dev`, ids the problems' text) come back under `PAYLOAD_KEY`.
- Real data: `data.dev`, a source like `data.eval` (split `validation` unless `:split` says
  otherwise), `data.n_eval` rows at most; `dev/accuracy` and `dev/format_rate` (math-verify), and
  `dev/expert_nll` when its rows have expert responses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from phasescope.arms import watches_dev
from phasescope.data.selection import draw_set, eval_sources
from phasescope.data.sources import norm_prompt
from phasescope.errors import UsageError
from phasescope.lm import generate, response_nll
from phasescope.runlog.problems import PAYLOAD_KEY, hashed_ids
from phasescope.train.real import EvalSet, make_math_evaluator, render_prompt, render_response
from phasescope.world import build_world
from phasescope.world.task import cot_response, reward

DevEvaluator = Callable[[torch.nn.Module, int], dict[str, float]]


def check_disjoint(dev_prompts: list[str], eval_prompts: list[str], what: str) -> None:
    """A usage error when a dev problem is also an evaluation problem (compared after normalising space/case)."""
    held = {norm_prompt(p) for p in eval_prompts}
    shared = [p for p in dev_prompts if norm_prompt(p) in held]
    if shared:
        raise UsageError(
            f"{what} shares {len(shared)} problem(s) with the held-out evaluation set (e.g. {shared[0][:60]!r}); "
            "the SFT switch step must be chosen on problems disjoint from the test set"
        )


def world_dev_evaluator(cfg, tokenizer) -> DevEvaluator:
    """dev/accuracy and dev/expert_nll of the embedded world's dev split."""
    splits = build_world(cfg.world, log=lambda *_: None).splits
    dev = splits.dev
    check_disjoint([p.prompt for p in dev], [p.prompt for p in splits.eval], "the world's dev split")
    prompts = [p.prompt for p in dev]
    refs = [cot_response(p) for p in dev]
    max_new = cfg.train.max_completion_length

    @torch.no_grad()
    def evaluate(model, step: int) -> dict[str, float]:
        texts = generate(model, tokenizer, prompts, max_new, 1.0, True)
        correct = [reward(p.answer, t) for p, t in zip(dev, texts)]
        return {
            "dev/accuracy": sum(correct) / len(dev),
            "dev/expert_nll": float(response_nll(model, tokenizer, prompts, refs)),
            PAYLOAD_KEY: {"dev": (prompts, correct)},
        }

    return evaluate


def real_dev_evaluator(cfg, tokenizer, arm_name: str) -> DevEvaluator:
    """dev/* on `data.dev` (see the module docstring); a usage error without it or on overlap."""
    dc = cfg.data
    if not dc.dev:
        raise UsageError(_no_dev_message(arm_name, cfg.arms[arm_name]))
    rows = draw_set(dc, "dev", dc.dev).examples  # the rows the preflight checked
    for _name, src in eval_sources(dc.eval):
        held = draw_set(dc, "eval", src).examples
        check_disjoint([e.prompt for e in rows], [e.prompt for e in held], f"data.dev ({dc.dev})")
    responses = None
    if all(e.response for e in rows):
        responses = [render_response(tokenizer, dc, e.prompt, e.response) for e in rows]
    dev = EvalSet(
        "dev",
        [render_prompt(tokenizer, dc, e.prompt) for e in rows],
        [e.answer for e in rows],
        responses,
        hashed_ids([e.prompt for e in rows]),
    )
    inner = make_math_evaluator(tokenizer, [dev], cfg.train.max_completion_length, dc.eval_batch_size)

    def evaluate(model, step: int) -> dict[str, float]:
        out = inner(model, step)
        payload = out.pop(PAYLOAD_KEY, {})
        out = {"dev/" + k.removeprefix("eval/"): v for k, v in out.items()}
        if "eval" in payload:  # the dev set is make_math_evaluator's first (headline) set
            out[PAYLOAD_KEY] = {"dev": payload["eval"]}
        return out

    return evaluate


def _no_dev_message(arm_name: str, arm) -> str:
    if watches_dev(arm):
        return (
            f"arms.{arm_name}.phase_metric={arm.phase_metric!r} steers μ on a dev split: "
            "set data.dev (a source disjoint from data.eval)"
        )
    return (
        f"arms.{arm_name}.sft_steps={arm.sft_steps!r} chooses the switch on a dev split: "
        "set data.dev (a source disjoint from data.eval), or give sft_steps a number"
    )


def dev_evaluator(cfg, tokenizer, arm_name: str) -> DevEvaluator:
    """The dev evaluator of the world or of real data (`data.dev`)."""
    if not cfg.model.model_name_or_path:
        return world_dev_evaluator(cfg, tokenizer)
    return real_dev_evaluator(cfg, tokenizer, arm_name)
