"""TRL options that phasescope's loss does not implement are refused in one line, never ignored."""

import pytest
from trl import GRPOConfig

from phasescope.errors import UsageError
from phasescope.train.fidelity import refuse_unsupported, unsupported_trl_options


def test_trls_defaults_and_the_settings_phasescope_uses_are_accepted(tmp_path):
    assert unsupported_trl_options({}) == []
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, epsilon=0.2, epsilon_high=0.2, beta=0.0)
    assert unsupported_trl_options(args) == []
    assert (
        unsupported_trl_options({"use_vllm": True, "vllm_importance_sampling_mode": "token_truncate"}) == []
    )


@pytest.mark.parametrize(
    "options, named",
    [
        ({"epsilon": 0.2, "epsilon_high": 0.28}, "epsilon_high=0.28"),
        ({"delta": 4.0}, "delta=4.0"),
        ({"loss_type": "grpo"}, "loss_type='grpo'"),
        ({"loss_type": "bnpo"}, "loss_type='bnpo'"),
        ({"importance_sampling_level": "sequence"}, "importance_sampling_level='sequence'"),
        ({"top_entropy_quantile": 0.2}, "top_entropy_quantile=0.2"),
        ({"entropy_coef": 0.01}, "entropy_coef=0.01"),
        ({"use_adaptive_entropy": True}, "use_adaptive_entropy=True"),
        ({"off_policy_mask_threshold": 0.5}, "off_policy_mask_threshold=0.5"),
        ({"beta": 0.04}, "beta=0.04"),
    ],
)
def test_each_unsupported_option_is_named(options, named):
    problems = unsupported_trl_options(options)
    assert len(problems) == 1 and problems[0].startswith(named)


def test_moe_router_aux_loss_is_refused_and_all_problems_go_in_one_line():
    assert unsupported_trl_options({}, moe_aux_loss=True)[0].startswith("a Mixture-of-Experts")
    with pytest.raises(UsageError) as err:
        refuse_unsupported({"delta": 4.0, "loss_type": "grpo"})
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    assert "delta=4.0" in str(err.value) and "loss_type='grpo'" in str(err.value)
