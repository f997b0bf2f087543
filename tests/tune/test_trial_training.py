"""A tuning trial's training (train.eval_heldout = false): dev/* at the evaluation steps, no eval/* at all."""

from __future__ import annotations

import pytest

from phasescope.config import load_config
from phasescope.runlog.reader import read_metrics
from phasescope.tune.objective import TRIAL_SETTINGS, dev_score


@pytest.mark.parametrize("arm", ["chord_mu", "sft_then_rl"])
def test_a_trial_evaluates_the_dev_split_and_never_the_held_out_sets(arm, tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one
    from phasescope.world import build_world

    sets = [*tiny_world, "train.max_steps=4", *TRIAL_SETTINGS]
    if arm == "sft_then_rl":
        sets.append("arms.sft_then_rl.sft_steps=best")  # its switch is chosen on the dev split too
    cfg = load_config(None, sets, {"experiment.arms": [arm]})
    build_world(cfg.world, log=lambda *_: None)
    train_one(cfg, arm, 0, tmp_path / arm)
    rows = read_metrics(tmp_path / arm / "metrics.jsonl")
    assert not [k for r in rows for k in r if k.startswith(("eval/", "probe/"))]
    dev_steps = [r["step"] for r in rows if "dev/accuracy" in r]
    assert dev_steps[0] == 0 and dev_steps[-1] == rows[-1]["step"]
    assert all("time/dev_s" in r for r in rows if "dev/accuracy" in r)
    assert dev_score(rows) is not None
    assert not (tmp_path / arm / "tokens.jsonl").exists() or not (tmp_path / arm / "tokens.jsonl").read_text()
