"""Truncation made visible: expert responses longer than `train.max_completion_length` teach answers
the model cannot finish there. The preflight says so before the run, `eval/truncated_rate` shows it in
the curve, and `data.max_expert_tokens` cuts or drops such responses, counted in data.json."""

import json

import pytest

from phasescope.config import DataConfig, load_config
from phasescope.errors import UsageError
from tests.fixtures.real_run import DATA, REPO
from tests.fixtures.tiny_model import build_tiny_model, teach_short_answers

EXPERIMENT = REPO / "experiments" / "qwen2.5-0.5b-math-1gpu.toml"
CAP = 24
"""Tokens: a short boxed answer (about 12) fits; the tiny set's expert traces (about 130) do not."""


@pytest.fixture(scope="module")
def short_answer_model(tmp_path_factory):
    """A tiny Qwen2 taught to answer `\\boxed{n}` and stop: its held-out answers end under the cap."""
    rows = [json.loads(x) for x in (DATA / "math_tiny.jsonl").read_text().splitlines()]
    path = build_tiny_model(tmp_path_factory.mktemp("short") / "model")
    return teach_short_answers(path, [r["problem"] for r in rows], [r["answer"] for r in rows], steps=60)


def _sets(model, *more):
    train = DATA / "math_tiny.jsonl"
    return [
        f'model.model_name_or_path="{model}"',
        "model.attn_implementation=eager",
        f'data.rl_prompts="{train}"',
        f'data.expert="{train}"',
        f'data.eval=["{DATA / "math_tiny_eval.jsonl"}"]',
        "data.n_expert=16",
        "data.eval_batch_size=8",
        'experiment.arms=["sft"]',
        "train.max_steps=18",
        "train.eval_steps=6",
        f"train.max_completion_length={CAP}",
        "train.expert_batch_size=8",
        "train.sft_lr=3e-3",
        "train.prompts_per_step=2",
        "train.num_generations=2",
        *more,
    ]


def test_sft_on_traces_longer_than_the_cap_raises_eval_truncated_rate(short_answer_model, tmp_path):
    from phasescope.preflight import preflight
    from phasescope.train.train_one import train_one

    cfg = load_config(EXPERIMENT, _sets(short_answer_model))
    (note,) = [n for n in preflight(cfg).notes if "longer than train.max_completion_length" in n]
    assert note.startswith(f"{DATA / 'math_tiny.jsonl'}: 100% (16 of 16) expert responses are longer")
    assert "data.max_expert_tokens" in note
    train_one(cfg, "sft", 0, tmp_path / "sft")
    rows = [json.loads(x) for x in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    rate = {r["step"]: r["eval/truncated_rate"] for r in rows if "eval/truncated_rate" in r}
    fmt = {r["step"]: r["eval/format_rate"] for r in rows if "eval/format_rate" in r}
    # Measured (8 problems): truncated 0 → 0.625 → 1.0 at steps 0, 6, 12 on one machine, 0.625 at step
    # 12 on another (2026-12-03): 18 steps leave room for a slower CPU's numerics.
    last = max(rate)
    assert rate[0] <= 0.25 and fmt[0] >= 0.75  # the base answers briefly, boxed, and stops
    assert rate[last] >= 0.75 and rate[last] - rate[0] >= 0.5  # after SFT its answers run into the cap
    assert fmt[last] <= 0.25  # ... so the boxed answer never comes: the "shift" is a cut-off


def test_max_expert_tokens_truncates_or_drops_and_counts(tiny_model_dir):
    from transformers import AutoTokenizer

    from phasescope.train.real import cap_expert_responses

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    responses = ["a" * 5 + "<|im_end|>", "b" * 30 + "<|im_end|>", "c" * 40 + "<|im_end|>"]  # 6, 31, 41 tokens
    prompts = ["p1", "p2", "p3"]
    report: dict = {}
    kept_p, kept_r = cap_expert_responses(tok, DataConfig(max_expert_tokens=10), prompts, responses, report)
    assert kept_p == prompts and kept_r == [responses[0], "b" * 10, "c" * 10]
    assert report["expert_limit"] == {
        "max_expert_tokens": 10,
        "expert_truncation": "truncate",
        "responses": 3,
        "over_limit": 2,
        "truncated": 2,
        "dropped": 0,
        "kept": 3,
    }
    dc = DataConfig(max_expert_tokens=31, expert_truncation="drop")
    assert cap_expert_responses(tok, dc, prompts, responses, report) == (prompts[:2], responses[:2])
    assert report["expert_limit"]["dropped"] == 1 and report["expert_limit"]["kept"] == 2
    whole = cap_expert_responses(tok, DataConfig(), prompts, responses, report)
    assert whole == (prompts, responses) and report["expert_limit"]["over_limit"] == 0
    with pytest.raises(UsageError, match="drops all 3 expert responses"):
        cap_expert_responses(
            tok, DataConfig(max_expert_tokens=2, expert_truncation="drop"), prompts, responses, {}
        )


@pytest.mark.parametrize(
    "setting, message",
    [
        ("data.max_expert_tokens=-1", "data.max_expert_tokens must be >= 0, got -1"),
        ('data.expert_truncation="cut"', "data.expert_truncation must be truncate or drop, got 'cut'"),
        ('data.allow_overlap="yes"', "data.allow_overlap must be bool"),
    ],
)
def test_new_data_settings_are_validated_in_one_line(setting, message, tiny_model_dir):
    with pytest.raises(UsageError, match=message) as err:
        load_config(EXPERIMENT, [f'model.model_name_or_path="{tiny_model_dir}"', setting])
    assert "\n" not in str(err.value)


def test_dense_early_evaluation_is_off_for_real_models_unless_set(tiny_model_dir):
    assert load_config(None).train.eval_early_every == 5  # the embedded world: the shift is early and cheap
    real = [f'model.model_name_or_path="{tiny_model_dir}"']
    assert load_config(EXPERIMENT, real).train.eval_early_every == 0
    assert load_config(EXPERIMENT, [*real, "train.eval_early_every=10"]).train.eval_early_every == 10
