from pathlib import Path

import pytest

from phasescope.config import Config, load_config, parse_override
from phasescope.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_equals_builtin_defaults():
    assert load_config(ROOT / "experiments" / "default.toml").to_dict() == Config().to_dict()


def test_overrides_parse_as_toml_literals():
    assert parse_override("train.learning_rate=1e-4") == (["train", "learning_rate"], 1e-4)
    assert parse_override('experiment.arms=["sft","rl"]') == (["experiment", "arms"], ["sft", "rl"])
    assert parse_override("model.model_name_or_path=Qwen/Qwen2.5-0.5B") == (
        ["model", "model_name_or_path"],
        "Qwen/Qwen2.5-0.5B",
    )
    cfg = load_config(None, ["train.learning_rate=1e-4", "arms.chord_phi.mu=0.2", "train.max_steps=500"])
    assert cfg.train.learning_rate == 1e-4 and cfg.arms["chord_phi"].mu == 0.2 and cfg.train.max_steps == 500
    # an override of one arm field keeps the arm's other defaults
    assert cfg.arms["chord_phi"].weighting == "phi"


def test_int_is_accepted_for_float_fields():
    assert load_config(None, ["train.learning_rate=1"]).train.learning_rate == 1.0


def test_new_arm_from_the_same_knobs():
    cfg = load_config(None, ['arms.dft.weighting="is"', "arms.dft.mu=1.0", 'experiment.arms=["dft"]'])
    assert cfg.arms["dft"].weighting == "is" and cfg.experiment.arms == ["dft"]


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.lrr=1", "unknown config key train.lrr"),
        ("bogus.x=1", "unknown config section [bogus]"),
        ('train.learning_rate="fast"', "train.learning_rate must be float"),
        ("train.max_steps=1.5", "train.max_steps must be int"),
        ("train.max_steps=-3", "train.max_steps must be > 0"),
        ("arms.chord_phi.mu=1.5", "arms.chord_phi.mu must be in [0, 1]"),
        ("arms.chord_mu.mu_valley=-0.1", "mu_valley must be in [0, 1]"),
        ('arms.sft.schedule="linear"', "schedule 'linear' is unknown"),
        ('experiment.arms=["sft","ppo"]', "unknown arm 'ppo'"),
        ("arms.sft_then_rl.sft_steps=0", "sft_steps must be a positive integer"),
        ("train.learning_rate", "must look like section.key=value"),
        ("lr=1", "the key must be section.key"),
    ],
)
def test_bad_config_is_a_one_line_usage_error(override, fragment):
    with pytest.raises(UsageError) as info:
        load_config(None, [override])
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nlr = 1")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(bad)


def test_a_renamed_key_is_accepted_with_one_deprecation_note(capsys):
    cfg = load_config(None, ["world.pretrain_sub_share=0.25"])
    assert cfg.world.pretrain_general_share == 0.25
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "note: deprecated config keys, renamed: world.pretrain_sub_share → world.pretrain_general_share"
    ]
    with pytest.raises(UsageError, match="both world.pretrain_sub_share and its new name"):
        load_config(None, ["world.pretrain_sub_share=0.25", "world.pretrain_general_share=0.5"])


def test_typed_values_are_applied_as_they_are():
    """The CLI's options are values, never TOML text: a quote in a name cannot break them."""
    cfg = load_config(
        None, ["experiment.seeds=2"], {"experiment.name": 'it\'s "mine"', "experiment.arms": ["sft"]}
    )
    assert (
        cfg.experiment.name == 'it\'s "mine"' and cfg.experiment.arms == ["sft"] and cfg.experiment.seeds == 2
    )
    with pytest.raises(UsageError, match="experiment.seeds must be >= 1"):
        load_config(None, None, {"experiment.seeds": 0})


def test_the_world_rates_apply_to_the_embedded_world_only_and_never_over_an_arms_own():
    from phasescope.arms.world_rates import WORLD_RATES

    cfg = load_config(None)
    assert (cfg.arms["rl"].lr, cfg.arms["sft"].sft_lr, cfg.arms["sft_then_rl"].sft_lr) == (3e-4, 3e-3, 3e-3)
    assert cfg.arms["chord_adaptive"].lr is None and cfg.arms["chord_phase"].lr is None  # not tuned
    assert (cfg.arms["hpt"].lr, cfg.arms["relift"].lr, cfg.arms["relift"].sft_lr) == (1e-4, 1e-4, 3e-3)
    assert all(getattr(cfg.arms[a], k) == v for a, r in WORLD_RATES.items() for k, v in r.items())
    assert load_config(None, ["arms.rl.lr=1e-5"]).arms["rl"].lr == 1e-5  # an arm's own rate wins
    off = load_config(None, ["world.tuned_rates=false"])
    assert off.arms["rl"].lr is None and off.arms["sft"].sft_lr is None
    real = load_config(None, ['model.model_name_or_path="gpt2"', 'data.rl_prompts="p.jsonl"'])
    assert real.arms["rl"].lr is None and real.arms["sft"].sft_lr is None  # a real model: train.* rates
    # recorded as resolved: an experiment.json's config reloads to the same rates
    again = load_config(None, [f"arms.rl.lr={cfg.to_dict()['arms']['rl']['lr']!r}"])
    assert again.to_dict() == cfg.to_dict()
