"""The embedded world's base model: pre-trained on its *own* style, cached on disk by its config.

The base is the "instruct model" of the miniature: it answers addition directly at a middling
accuracy and its general skill (max, or subtraction) well. Pre-training stops once held-out *dev*
addition accuracy reaches `base_target_accuracy` on the last check *and* on at least one other of the
last `STOP_WINDOW` (3) checks, 25 steps apart (the dev set is disjoint from `eval`, so choosing the
checkpoint never looks at the evaluation problems). Dev accuracy swings between checks far more than
its binomial error (0.03 on 256 problems): the model itself oscillates at this learning rate (the
shipped base went 0.344 → 0.418 in one check, draw 1's 0.355 → 0.504), so one lucky check must not stop
it; a mean of three can still be carried by one such spike, two hits in three cannot. The saved model
is the last check's, which reached the target itself. The shipped base keeps the rule it was built with
(the first single check at the target, `stop_window=1`, key "format" 2), so the default run's numbers
do not move; every base built now (world draws, other worlds) uses the two-in-three rule, and its key
says so ("format" 3).
Same config → same base, bit for bit on one CPU; the cache key is a hash of every field that shapes
the base, and of the stopping rule.

The default world's base ships with the package (`world/shipped/`, built by
`python -m phasescope.world.build_base`): CPU float differences move where pre-training's early stop
lands, so bases built on two machines differ, and every machine must start from the same one. A
world whose key is the shipped base's loads it and trains nothing; any other world builds its own
base once and caches it under `cache_root()/base/<key>`, except the default world's draws 1 and 2,
which ship too (`world/shipped_draws/<key>/`, copied from such a cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
from transformers import GPT2LMHeadModel

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
STOP_WINDOW = 3
"""Dev checks the stopping rule of every base built now looks at (two hits needed; the shipped one: 1)."""
SHIPPED_DIR = Path(__file__).parent / "shipped"
"""The default world's base model, shipped as package data; its phasescope_base.json holds its key."""
SHIPPED_DRAWS = Path(__file__).parent / "shipped_draws"
"""Bases of the default world's draws 1 and 2 (`--world-seeds 3`), shipped as `<key>/` folders: a base
is bit-identical only on one CPU kernel path, so a draw built on another machine could stop elsewhere."""


def cache_root() -> Path:
    return Path(os.environ.get("PHASESCOPE_CACHE", Path.home() / ".cache" / "phasescope"))


# Fields renamed since the cache key was defined hash under their first name, so a rename keeps the cache.
_KEY_NAMES = {"pretrain_general_share": "pretrain_sub_share"}


def base_key(world, stop_window: int = STOP_WINDOW) -> str:
    """The cache key of `world`'s base built with `stop_window` (1: the shipped base's rule)."""
    fields = {_KEY_NAMES.get(k, k): getattr(world, k) for k in BASE_FIELDS}
    fields["format"] = 2  # bump when the pre-training recipe changes
    if stop_window != 1:  # format 2 is the single-check rule; its keys (the shipped base's) stay as they were
        fields.update(format=3, stop_window=stop_window)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def stop_reached(accuracies: list[float], target: float, window: int) -> bool:
    """Whether pre-training stops after the dev checks `accuracies` (oldest first): the last one reaches
    `target` and (window > 1) so does at least one other of the last `window`; window 1 is the last
    check alone, the shipped base's rule."""
    if not accuracies or accuracies[-1] < target:
        return False
    return window == 1 or sum(a >= target for a in accuracies[-window:-1]) >= 1


def shipped_key() -> str | None:
    """The key of the base that ships with the package (None when the package has none)."""
    meta = SHIPPED_DIR / "phasescope_base.json"
    if not (meta.exists() and (SHIPPED_DIR / "model.safetensors").exists()):
        return None
    return json.loads(meta.read_text()).get("key")


def base_model_path(world, splits, log=print) -> Path:
    """Path of the base model for `world`: the shipped one when its key matches (under the shipped
    base's single-check rule), else a shipped draw's or the cached one, built first (two-in-three rule)
    when there is none."""
    if shipped_key() == base_key(world, stop_window=1):
        return SHIPPED_DIR
    key = base_key(world)
    path = cache_root() / "base" / key
    for found in (SHIPPED_DRAWS / key, path):
        if (found / "config.json").exists() and (found / "phasescope_base.json").exists():
            return found
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    log(f"building the base model (cached afterwards in {path}) ...")
    meta = train_base(world, splits, tmp, log)
    if path.exists():  # another process finished first; keep its copy
        return path
    os.replace(tmp, path)
    log(
        f"base model built in {meta['seconds']} s: {meta['steps']} steps, dev addition accuracy "
        f"{meta['dev_accuracy']} (last checks {meta.get('dev_last_checks')})"
    )
    return path


def train_base(world, splits, out_dir: Path, log=print, stop_window: int = STOP_WINDOW) -> dict:
    """Pre-train the base model of `world` and save it (with phasescope_base.json) in `out_dir`,
    stopping by `stop_reached` over `stop_window` dev checks."""
    t0 = time.perf_counter()
    # One thread: the tiny model gains little from two, and a second busy process on a 2-core machine
    # makes multi-threaded torch many times slower (spinning workers).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
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
        return stop_reached([a for _, a in history], world.base_target_accuracy, stop_window)

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
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {
        "key": base_key(world, stop_window),
        "steps": steps,
        "dev_accuracy": history[-1][1] if history else None,
        "stop_window": stop_window,
        "dev_last_checks": [a for _, a in history[-stop_window:]],
        "history": history,
        "seconds": round(time.perf_counter() - t0, 1),
        "key_fields": {k: getattr(world, k) for k in BASE_FIELDS},
    }
    (out_dir / "phasescope_base.json").write_text(json.dumps(meta, indent=1))
    return meta


def load_base(path: Path):
    torch_model = GPT2LMHeadModel.from_pretrained(path)
    return torch_model, CharTokenizer.from_pretrained(path)
