"""TRL's vocabulary: config keys named as in TRL (old names still load, with one note), the `[trl]`
table passed through to GRPOConfig, and TRL's metric names accepted when reading a foreign log."""

from __future__ import annotations

import json

import pytest

from phasescope.config import RENAMED_KEYS, load_config
from phasescope.errors import UsageError

OLD_NAMES = """
[model]
name_or_path = ""
[train]
steps = 3
lr = 2e-4
grad_clip = 0.5
clip_range = 0.3
eval_every = 2
checkpoint_every = 0
[experiment]
arms = ["sft"]
"""


def test_old_names_load_under_the_new_ones_with_one_note(tmp_path, capsys):
    path = tmp_path / "old.toml"
    path.write_text(OLD_NAMES)
    tc = load_config(path).train
    assert (tc.max_steps, tc.learning_rate, tc.max_grad_norm, tc.epsilon) == (3, 2e-4, 0.5, 0.3)
    assert (tc.eval_steps, tc.save_steps) == (2, 0)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("note: deprecated config keys") and "train.steps → train.max_steps" in line
    assert "model.name_or_path → model.model_name_or_path" in line


def test_old_and_new_name_together_is_an_error():
    with pytest.raises(UsageError, match="sets both train.lr and its new name train.learning_rate"):
        load_config(None, ["train.lr=1e-3", "train.learning_rate=1e-3"])


def test_every_renamed_key_is_a_field_under_its_new_name():
    cfg = load_config(None).to_dict()
    for new in RENAMED_KEYS.values():
        section, key = new.split(".")
        assert key in cfg[section], new


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("trl.max_steps=5", "trl.max_steps is set by phasescope; use train.max_steps"),
        ("trl.learning_rate=1e-5", "use train.learning_rate"),
        ('trl.loss_type="grpo"', "trl.loss_type cannot be set: PhaseTrainer's loss"),
        ("trl.epsilon_high=0.28", "trl.epsilon_high cannot be set"),
        ("trl.beta=0.04", "trl.beta cannot be set: the loss has no KL term"),
        ('trl.lr_scheduler_type="cosine"', "trl.lr_scheduler_type cannot be set: PhaseTrainer has its own"),
        ("trl.top_entropy_quantile=0.2", "trl.top_entropy_quantile cannot be set"),
    ],
)
def test_trl_fields_that_conflict_are_refused(override, fragment):
    with pytest.raises(UsageError) as info:
        load_config(None, [override])
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_trl_conflict_is_one_line_and_exit_2(cli, tmp_path):
    res = cli("run", "--out", tmp_path, "--set", 'trl.loss_type="dr_grpo"')
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: trl.loss_type cannot be set")


def _args(cfg, tmp_path):
    from phasescope.train.args import grpo_args
    from phasescope.train.setup import Setup

    setup = Setup(None, None, None, [], None, lambda m, s: {}, 0)
    return grpo_args(cfg, cfg.arms["rl"], 0, tmp_path, setup)


def test_a_trl_field_reaches_grpo_config(tmp_path):
    cfg = load_config(
        None,
        ["trl.weight_decay=0.01", "trl.top_k=50", 'trl.scale_rewards="batch"', "trl.beta=0.0"],
    )
    args = _args(cfg, tmp_path)
    assert (args.weight_decay, args.top_k, args.scale_rewards, args.beta) == (0.01, 50, "batch", 0.0)
    # phasescope's own settings are still its own, under TRL's names (rl's rate: the world's tuned 3e-4)
    assert (args.max_steps, args.learning_rate, args.epsilon) == (600, 3e-4, 0.2)
    default = _args(load_config(None), tmp_path)
    assert (default.weight_decay, default.top_k, default.scale_rewards) == (0.0, 0, "group")


def test_an_unknown_trl_field_is_one_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not GRPOConfig fields: wieght_decay"):
        _args(load_config(None, ["trl.wieght_decay=0.1"]), tmp_path)


def test_an_old_named_config_still_runs(cli, tmp_path, tiny_cache, tiny_world):
    path = tmp_path / "old.toml"
    path.write_text(OLD_NAMES)
    sets = [s for s in tiny_world if not s.startswith(("train.max_steps", "train.eval_steps"))]
    args = ["run", path, "--arms", "sft", "--workers", "1", "--out", tmp_path, "--name", "old"]
    res = cli(*args, *[x for s in sets for x in ("--set", s)])
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr.count("deprecated config keys") == 1
    rows = (tmp_path / "old" / "sft" / "seed0" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [0, 1, 2, 3]
    meta = json.loads((tmp_path / "old" / "experiment.json").read_text())
    assert meta["config"]["train"]["max_steps"] == 3 and "steps" not in meta["config"]["train"]


def _trl_trainer_state(path):
    """A TRL GRPOTrainer's trainer_state.json: flat TRL metric names."""
    rows = [
        {"step": s, "loss": 0.1, "reward": 0.2 + 0.01 * s, "completions/mean_length": 100.0 + s}
        for s in range(1, 13)
    ]
    path.write_text(json.dumps({"global_step": 12, "log_history": rows}))
    return path


def test_phasescope_names_find_trl_metrics_and_back(tmp_path):
    import pandas as pd

    from phasescope.analysis import load_curves
    from phasescope.analysis.curves import resolve_metric

    frame, _ = load_curves(_trl_trainer_state(tmp_path / "trainer_state.json"))
    assert resolve_metric(frame, "rollout/reward_mean") == "reward"
    assert resolve_metric(frame, "rollout/response_length") == "completions/mean_length"
    assert resolve_metric(frame, "reward") == "reward"
    ours = pd.DataFrame({"metric": ["rollout/reward_mean", "rollout/clip_frac"], "step": [1, 1]})
    assert resolve_metric(ours, "reward") == "rollout/reward_mean"
    assert resolve_metric(ours, "clip_ratio/region_mean") == "rollout/clip_frac"


def test_segment_reads_a_trl_log_by_phasescope_name(cli, tmp_path):
    path = _trl_trainer_state(tmp_path / "trainer_state.json")
    res = cli("segment", path, "-m", "rollout/reward_mean", "--json", "-")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["metric"] == "reward"


def test_docs_tables_list_every_renamed_key_and_metric_alias():
    from pathlib import Path

    from phasescope.runlog.names import METRIC_ALIASES

    docs = Path(__file__).resolve().parents[1] / "docs"
    config, run_dir = (docs / "config.md").read_text(), (docs / "run-directory.md").read_text()
    for old, new in RENAMED_KEYS.items():
        if old.startswith(("train.", "model.")):
            assert f"| `{old}` | `{new}` |" in config, new
    for ours, trl in METRIC_ALIASES.items():
        assert f"| `{ours}` | `{trl}` |" in run_dir, ours


def test_dtype_auto_means_the_checkpoints_dtype_and_the_old_auto_is_named():
    import torch

    from phasescope.train.real import resolve_dtype

    assert resolve_dtype("auto") == "auto"  # from_pretrained(dtype="auto"): the checkpoint's own dtype
    expected = (
        torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    )
    assert resolve_dtype("bf16_if_supported") == expected
    assert load_config(None, ['model.dtype="bf16_if_supported"']).model.dtype == "bf16_if_supported"
    with pytest.raises(UsageError, match="model.dtype 'bf16' is unknown"):
        load_config(None, ['model.dtype="bf16"'])
