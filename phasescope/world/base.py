"""The embedded world's base model: pre-trained on its *own* style, cached on disk by its config.

The base is the "instruct model" of the miniature: it answers addition directly at a middling
accuracy and its general skill (max, or subtraction) well. Pre-training stops at the first check where held-out *dev*
addition accuracy reaches `base_target_accuracy` (the dev set is disjoint from `eval`, so
choosing the checkpoint never looks at the evaluation problems). Same config → same base,
bit for bit on CPU; the cache key is a hash of every field that shapes the base.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch

from phasescope.world.model import build_model
from phasescope.world.pretrain import greedy_accuracy, supervised_steps
from phasescope.world.task import cot_response, direct_response
from phasescope.world.tokenizer import CharTokenizer

BASE_FIELDS = (
    "seed",
    "digits",
    "n_pretrain",
    "pretrain_cot_share",
    "general_skill",
    "pretrain_general_share",
    "base_target_accuracy",
    "base_max_steps",
    "base_lr",
    "base_batch_size",
    "n_layer",
    "n_embd",
    "n_head",
    "n_eval",
    # The splits are drawn in sequence, so these move the pre-training problems too.
    "n_expert",
    "n_rl_prompts",
)
CHECK_EVERY = 25


def cache_root() -> Path:
    return Path(os.environ.get("PHASESCOPE_CACHE", Path.home() / ".cache" / "phasescope"))


# Fields renamed since the cache key was defined hash under their first name, so a rename keeps the cache.
_KEY_NAMES = {"pretrain_general_share": "pretrain_sub_share"}


def base_key(world) -> str:
    fields = {_KEY_NAMES.get(k, k): getattr(world, k) for k in BASE_FIELDS}
    fields["format"] = 2  # bump when the pre-training recipe changes
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def base_model_path(world, splits, log=print) -> Path:
    """Path of the cached base model for `world`, building it first when it is not cached."""
    path = cache_root() / "base" / base_key(world)
    if (path / "config.json").exists() and (path / "phasescope_base.json").exists():
        return path
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    t0 = time.perf_counter()
    # One thread: the tiny model gains little from two, and a second busy process on a 2-core machine
    # makes multi-threaded torch many times slower (spinning workers).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    log(f"building the base model (cached afterwards in {path}) ...")
    tokenizer = CharTokenizer()
    model = build_model(tokenizer, world.n_layer, world.n_embd, world.n_head, n_positions=48, seed=world.seed)
    examples = [(p.prompt, direct_response(p)) for p in splits.pretrain_add]
    n_general = int(round(world.pretrain_general_share * len(splits.pretrain_general)))
    examples += [(p.prompt, direct_response(p)) for p in splits.pretrain_general[:n_general]]
    n_cot = int(round(world.pretrain_cot_share * len(splits.pretrain_add)))
    examples += [(p.prompt, cot_response(p)) for p in splits.pretrain_add[:n_cot]]
    history = []

    def check(step: int) -> bool:
        acc = greedy_accuracy(model, tokenizer, splits.dev)
        history.append((step, acc))
        if step % 100 == 0:
            log(f"  base step {step}: dev addition accuracy {acc:.3f} (target {world.base_target_accuracy})")
        return acc >= world.base_target_accuracy

    try:
        steps = supervised_steps(
            model,
            tokenizer,
            examples,
            world.base_max_steps,
            world.base_lr,
            world.base_batch_size,
            world.seed,
            check,
            CHECK_EVERY,
        )
    finally:
        torch.set_num_threads(threads)
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {
        "steps": steps,
        "dev_accuracy": history[-1][1] if history else None,
        "history": history,
        "seconds": round(time.perf_counter() - t0, 1),
        "key_fields": {k: getattr(world, k) for k in BASE_FIELDS},
    }
    (tmp / "phasescope_base.json").write_text(json.dumps(meta, indent=1))
    if path.exists():  # another process finished first; keep its copy
        return path
    os.replace(tmp, path)
    log(
        f"base model built in {meta['seconds']} s: {steps} steps, dev addition accuracy {meta['dev_accuracy']}"
    )
    return path


def load_base(path: Path):
    from transformers import GPT2LMHeadModel

    torch_model = GPT2LMHeadModel.from_pretrained(path)
    return torch_model, CharTokenizer.from_pretrained(path)
