"""A plain supervised loop for the embedded world: builds the base model, no TRL involved.

Pre-training is not what phasescope studies, so it stays a few lines of teacher forcing on
(prompt, response) pairs with the loss on response tokens only.
"""

from __future__ import annotations

import random

import torch

from phasescope.lm import generate, response_nll
from phasescope.world.task import Problem, reward


def greedy_accuracy(model, tokenizer, problems: list[Problem], max_new_tokens: int = 40) -> float:
    was_training = model.training
    model.eval()
    texts = generate(model, tokenizer, [p.prompt for p in problems], max_new_tokens, 1.0, greedy=True)
    model.train(was_training)
    return sum(reward(p.answer, t) for p, t in zip(problems, texts)) / len(problems)


def supervised_steps(
    model,
    tokenizer,
    examples: list[tuple[str, str]],
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    callback=None,
    callback_every: int = 0,
):
    """`steps` AdamW updates on random minibatches of `examples`; `callback(step)` every few steps.

    The callback may return True to stop early (used to stop the base at a middling accuracy).
    """
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for step in range(1, steps + 1):
        batch = rng.sample(examples, batch_size)
        loss = response_nll(model, tokenizer, [p for p, _ in batch], [r for _, r in batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if callback is not None and callback_every and step % callback_every == 0 and callback(step):
            return step
    return steps
