"""The real-model path on the CPU: a tiny Qwen2 loaded like a hub model, the tiny JSONL math set, and
`phasescope run experiments/qwen2.5-0.5b-math-1gpu.toml` with the model and data swapped by --set."""

import json
import os
import subprocess
import sys

import pytest
import torch

from phasescope.config import load_config
from phasescope.errors import UsageError
from tests.fixtures.real_run import DATA, REPO, real_overrides

EXPERIMENT = REPO / "experiments" / "qwen2.5-0.5b-math-1gpu.toml"


def test_model_and_tokenizer_load_like_a_hub_model(tiny_model_dir):
    from phasescope.config import DataConfig, ModelConfig
    from phasescope.train.real import load_model_and_tokenizer, render_prompt, render_response

    model, tok = load_model_and_tokenizer(ModelConfig(model_name_or_path=str(tiny_model_dir)))
    assert type(model).__name__ == "Qwen2ForCausalLM" and type(tok).__name__ == "Qwen2Tokenizer"
    assert tok.padding_side == "left" and tok.chat_template
    dc = DataConfig()
    prompt = render_prompt(tok, dc, "What is 2 + 2?")
    assert prompt.startswith("<|im_start|>user\nWhat is 2 + 2?\nPlease reason step by step")
    assert prompt.endswith("<|im_start|>assistant\n")
    # The SFT target is the assistant turn through the end-of-turn token, so SFT teaches stopping.
    assert render_response(tok, dc, "What is 2 + 2?", "\\boxed{4}") == "\\boxed{4}<|im_end|>"
    plain = DataConfig(chat_template=False)
    assert render_prompt(tok, plain, "Q") == plain.prompt_template.replace("{prompt}", "Q")


def test_unloadable_model_is_a_usage_error(tmp_path):
    from phasescope.config import ModelConfig
    from phasescope.train.real import load_model_and_tokenizer

    with pytest.raises(UsageError, match="cannot load the tokenizer"):
        load_model_and_tokenizer(ModelConfig(model_name_or_path=str(tmp_path / "nothing")))


def test_data_sets_are_disjoint_and_reported(tiny_model_dir, tmp_path):
    from phasescope.train.real import load_data

    cfg = load_config(EXPERIMENT, real_overrides(tiny_model_dir, tmp_path))
    rl, expert, evals, report = load_data(cfg, log=lambda *_: None)
    assert len(expert) == 8 and len(rl) == 32 - 8  # same source: RL prompts skip the expert problems
    assert report["overlap_rl_expert"] == 0 and report["rl_prompts"]["excluded_expert_problems"] == 8
    assert expert[0].response.startswith("<think>")  # response_field = generations.0
    ((name, rows),) = evals
    assert name == "math_tiny_eval" and len(rows) == 4 and all(r.response for r in rows)


def test_config_needs_a_model_for_data_and_data_for_a_model():
    with pytest.raises(UsageError, match="need a real model"):
        load_config(None, [f'data.rl_prompts="{DATA / "math_tiny.jsonl"}"'])
    with pytest.raises(UsageError, match="names no rl_prompts"):
        load_config(None, ['model.model_name_or_path="some/model"'])


def test_phasescope_run_on_the_real_path(tiny_model_dir, tmp_path):
    """The 1-GPU experiment file, with the tiny model and data substituted, trains two arms on the CPU."""
    sets = [x for s in real_overrides(tiny_model_dir, tmp_path) for x in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    res = subprocess.run(
        [sys.executable, "-m", "phasescope.cli", "run", str(EXPERIMENT), "--arms", "sft_then_rl,chord_phi"]
        + ["--workers", "1", *sets],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )
    exp = tmp_path / "qwen2.5-0.5b-math"
    logs = "".join(p.read_text() for p in exp.glob("*/seed0/train.log"))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:] + logs[-3000:]
    meta = json.loads((exp / "experiment.json").read_text())
    assert meta["config"]["model"]["model_name_or_path"] == str(tiny_model_dir)
    assert {"math-verify", "datasets", "peft", "tokenizers"} <= set(meta["versions"])
    assert meta["model_revision"]["kind"] == "local folder" and len(meta["model_revision"]["sha256"]) == 64
    assert set(meta["data_revisions"]) == {"rl_prompts", "expert", "eval:math_tiny_eval"}
    assert meta["config"]["train"]["eval_early_every"] == 0  # unset: no dense early grid on a real model
    report = (exp / "analysis" / "report.md").read_text()
    assert f"eval sets: math_tiny_eval ({DATA / 'math_tiny_eval.jsonl'})" in report
    assert '"world"' not in report and "general skill" not in report  # the embedded world's sections
    for arm in ("sft_then_rl", "chord_phi"):
        rows = [json.loads(x) for x in (exp / arm / "seed0" / "metrics.jsonl").read_text().splitlines()]
        # sft_then_rl: 1 SFT step, then the 1 RL step left of the arm's budget of train.max_steps (2)
        assert [r["step"] for r in rows] == list(range(3))
        for r in rows:
            assert {"eval/accuracy", "eval/format_rate", "eval/response_length", "eval/expert_nll"} <= set(r)
            assert 0.0 <= r["eval/truncated_rate"] <= 1.0
            assert 0.0 <= r["eval/accuracy"] <= 1.0
        for r in rows[1:]:
            assert r["train/loss"] == r["train/loss"]  # finite, not NaN
            assert ("rollout/reward_mean" in r) == (r["train/mu"] < 1.0)
            assert ("rollout/truncated_rate" in r) == (r["train/mu"] < 1.0)  # TRL's clipped ratio, our name
            assert ("expert/p_mean" in r) == (r["train/mu"] > 0.0)
        data = json.loads((exp / arm / "seed0" / "data.json").read_text())
        assert data["model"]["chat_template"] and data["expert"]["rows"] == 8
        assert data["expert_limit"]["max_expert_tokens"] == 0 and data["expert_limit"]["kept"] == 8
    assert [
        json.loads(x)["stage"] for x in (exp / "sft_then_rl/seed0/metrics.jsonl").read_text().splitlines()
    ][1:] == ["sft", "rl"]


def test_lora_from_config(tiny_model_dir):
    pytest.importorskip("peft")
    from phasescope.config import ModelConfig
    from phasescope.train.real import lora_config

    assert lora_config(ModelConfig(model_name_or_path="x")) is None
    lc = lora_config(ModelConfig(model_name_or_path="x", lora_r=4, lora_target_modules=["q_proj", "v_proj"]))
    assert lc.r == 4 and set(lc.target_modules) == {"q_proj", "v_proj"}
    torch.manual_seed(0)


def test_only_the_arm_being_trained_decides_whether_rl_prompts_are_needed(tiny_model_dir, tmp_path):
    """Expert data alone trains the sft arm (`launch --arm sft`); an arm with an RL term is refused."""
    from phasescope.train.real import hf_setup

    cfg = load_config(EXPERIMENT, [*real_overrides(tiny_model_dir, tmp_path), 'data.rl_prompts=""'])
    setup = hf_setup(cfg, "sft", 0, log=lambda *_: None)
    assert (
        setup.expert.batch_size == 4 and len(setup.train_dataset) == 8
    )  # the expert problems serve as prompts
    with pytest.raises(UsageError, match="arm rl has an RL term and needs data.rl_prompts"):
        hf_setup(cfg, "rl", 0, log=lambda *_: None)


def test_chord_phase_on_a_real_model_steers_by_data_dev(tiny_model_dir, tmp_path):
    """The dev split (`data.dev`) joins every evaluation row and feeds the phase tracker; μ never reads
    the held-out set."""
    from phasescope.train.train_one import train_one

    sets = [*real_overrides(tiny_model_dir, tmp_path), f'data.dev="{DATA / "math_tiny.jsonl"}"']
    train_one(load_config(EXPERIMENT, sets), "chord_phase", 0, tmp_path / "run", threads=1)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]  # train.eval_steps = 1: every row is evaluated
    for r in rows:
        assert {"eval/accuracy", "dev/accuracy", "dev/format_rate", "dev/expert_nll", "time/dev_s"} <= set(r)
        assert r["phase/best_value"] == max(x["dev/accuracy"] for x in rows if x["step"] <= r["step"])
    assert [r["budget/selection"] for r in rows] == [1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize("arm", ["luffy", "hpt", "relift", "dft"])
def test_each_mix_family_trains_on_a_real_model(arm, tiny_model_dir, tmp_path):
    """One arm per μ rule (group, gate, buffer, and DFT's weighting on a step schedule) on the real path,
    two micro-batches per update: each group's demonstration is trained once, μ and the weight are logged."""
    from phasescope.train.train_one import train_one

    train_one(
        load_config(EXPERIMENT, real_overrides(tiny_model_dir, tmp_path)), arm, 0, tmp_path / "r", threads=1
    )
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    for prev, r in zip(rows, rows[1:]):
        assert r["train/loss"] == r["train/loss"] and 0.0 <= r["train/mu"] <= 1.0
        assert ("expert/weight_mean" in r) == (r["train/mu"] > 0.0)
        grown = r["budget/samples"] - prev["budget/samples"]
        if arm == "luffy":  # 2 prompts × 2 rollouts, plus each prompt's demonstration, in 2 micro-batches
            assert r["train/mu"] == pytest.approx(1 / 3) and grown == 4 + 2
        if arm == "hpt":
            assert grown == 4 + round(2 * r["train/mu"])
        if arm == "relift":  # the buffer holds 2 (train.prompts_per_step) before its SFT update
            assert grown == 4 + 2 * (r["train/mu"] > 0)
        if arm == "dft":
            assert r["train/mu"] == 1.0 and "rollout/reward_mean" not in r
            assert r["expert/weight_mean"] == pytest.approx(r["expert/p_mean"], rel=1e-5)  # sg(p)


def test_check_accepts_the_experiment_file_with_the_new_arms(tiny_model_dir, tmp_path, cli):
    # dft_then_rl picks its switch on data.dev, as sft_then_rl: the real overrides fix both stages' length
    overrides = [*real_overrides(tiny_model_dir, tmp_path), "arms.dft_then_rl.sft_steps=1"]
    sets = [x for s in overrides for x in ("--set", s)]
    arms = "luffy,srft,hpt,relift,dft,dft_then_rl"
    res = cli("check", EXPERIMENT, "--arms", arms, *sets)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "0 errors" in res.stdout and "not ready" not in res.stdout
