"""A short CPU run of every arm: it writes the metrics the design names and it changes the model."""

import json

import pytest
import torch

from phasescope.arms import ARM_NAMES
from phasescope.config import load_config
from phasescope.world import build_world
from phasescope.world.base import load_base

REQUIRED_EVERY_TRAIN_ROW = {"step", "stage", "train/loss", "train/mu", "train/lr", "time/step_s"}
REQUIRED_EVAL = {
    "eval/accuracy",
    "eval/sampled_accuracy",
    "eval/format_rate",
    "eval/response_length",
    "eval/expert_nll",
    "eval/general_accuracy",
}
ROLLOUT = {
    "train/grpo_loss",
    "rollout/reward_mean",
    "rollout/reward_std",
    "rollout/frac_zero_std",
    "rollout/response_length",
    "rollout/entropy",
    "rollout/clip_frac",
}
EXPERT = {
    "train/sft_loss",
    "expert/nll",
    "expert/p_mean",
    "expert/p_q10",
    "expert/p_q50",
    "expert/p_q90",
    "expert/divergent_frac",
    "expert/phi_mean",
    "expert/entropy",
}


PAIRED = {  # arm: (keys on every training row, keys on rows that train demonstrations)
    "luffy": (ROLLOUT | {"rollout/p_mean"}, EXPERT - {"train/sft_loss"} | {"expert/weight_mean"}),
    "srft": (ROLLOUT - {"rollout/clip_frac"} | {"rollout/p_mean"}, EXPERT | {"expert/weight_mean"}),
    "hpt": (ROLLOUT | {"rollout/p_mean"}, EXPERT | {"expert/weight_mean"}),
    "relift": (ROLLOUT | {"rollout/p_mean"}, EXPERT | {"expert/weight_mean"}),
}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


class _Matches:
    """Equal to any answer: a parsed response that the reward counts as right."""

    def __eq__(self, other):
        return True


@pytest.mark.parametrize("arm", ARM_NAMES)
def test_every_arm_trains_and_logs(arm, tmp_path, tiny_cache, tiny_world, monkeypatch):
    from phasescope.train.train_one import train_one

    # The tiny base never answers right, so every GRPO group would have equal rewards and zero advantage
    # (no gradient, by design). A reward that varies with the response length gives the RL term signal.
    # (world_setup's reward reads parse_answer by the name it imported)
    monkeypatch.setattr("phasescope.train.setup.parse_answer", lambda t: _Matches() if len(t) % 2 else None)
    cfg = load_config(None, [*tiny_world, "arms.dft_then_rl.sft_steps=2"])
    base, _ = load_base(build_world(cfg.world, log=lambda *_: None).base_path)
    model = train_one(cfg, arm, 0, tmp_path, threads=1)

    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    # Two-stage arms: the SFT stage (2 steps; sft_light_then_rl: one pass, 16 rows / 4) then 3 RL steps.
    last = {"sft_then_rl": 5, "dft_then_rl": 5, "sft_light_then_rl": 7}.get(arm, 3)
    assert [r["step"] for r in rows] == list(range(last + 1))
    assert set(rows[0]) >= REQUIRED_EVAL and set(rows[2]) >= REQUIRED_EVAL and set(rows[-1]) >= REQUIRED_EVAL
    assert not REQUIRED_EVAL & set(rows[1])  # no eval at step 1: absent, not NaN
    for r in rows[1:]:
        assert set(r) >= REQUIRED_EVERY_TRAIN_ROW
        mu = r["train/mu"]
        if arm in PAIRED:  # per-prompt μ: every update generates; μ is the expert's share (arms/mixing.py)
            assert set(r) >= PAIRED[arm][0], (arm, r["step"])
            assert (set(r) >= PAIRED[arm][1]) == (mu > 0.0), (arm, r["step"], mu)
        else:
            assert (set(r) >= ROLLOUT) == (mu < 1.0), (arm, r["step"], mu)  # no rollouts while mu = 1
            assert (set(r) >= EXPERT) == (mu > 0.0), (arm, r["step"], mu)  # no expert rows while mu = 0
        assert r["stage"] == ("sft" if mu == 1.0 else "rl" if mu == 0.0 else "mixed")
    if arm in ("luffy", "srft"):  # one demonstration per group of K = 2 rollouts
        assert [r["train/mu"] for r in rows[1:]] == pytest.approx([1 / 3] * 3)
    if arm in ("sft_then_rl", "dft_then_rl", "sft_light_then_rl"):
        n_sft = last - 3
        assert [r["stage"] for r in rows[1:]] == ["sft"] * n_sft + ["rl"] * 3
        assert json.loads((tmp_path / "switch.json").read_text())["switch_step"] == n_sft
    if arm == "rl":
        assert any(r["rollout/frac_zero_std"] < 1.0 for r in rows[1:])  # the RL term had signal
    if arm == "chord_adaptive":  # μ = max(0, 0.5 − the previous update's mean reward); 0.5 before any
        assert rows[1]["train/mu"] == 0.5
        for prev, r in zip(rows[1:], rows[2:], strict=False):
            assert r["train/mu"] == pytest.approx(max(0.0, 0.5 - prev["rollout/reward_mean"]))
    if arm == "sft_scaled":  # chord_phi's μ; plain SFT at the constant scale 0.032: sft_loss = 0.032 · NLL
        assert [r["train/mu"] for r in rows[1:]] == [0.1, 0.1, 0.1]
        for r in rows[1:]:
            assert r["train/sft_loss"] == pytest.approx(0.032 * r["expert/nll"], rel=1e-4)
    if arm in ("chord_phi_mu03", "chord_phi_mu1"):
        assert [r["train/mu"] for r in rows[1:]] == [{"chord_phi_mu03": 0.3, "chord_phi_mu1": 1.0}[arm]] * 3
    if arm == "chord_phase":  # too few evaluations to confirm a phase: μ stays at its peak
        assert [r["train/mu"] for r in rows[1:]] == [0.9, 0.9, 0.9]
        assert all(r["phase/code"] == 0.0 for r in rows if "eval/accuracy" in r)

    changed = any(
        not torch.equal(p, q) for p, q in zip(base.state_dict().values(), model.state_dict().values())
    )
    assert changed, f"{arm} did not change the model's parameters"


def test_same_seed_same_curve(tmp_path, tiny_cache, tiny_world):
    from phasescope.train.train_one import train_one

    cfg = load_config(None, tiny_world)
    for name in ("a", "b"):
        train_one(cfg, "chord_phi", 3, tmp_path / name, threads=1)

    def curve(name):
        rows = [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
        return [
            (r["step"], r.get("train/loss"), r.get("eval/sampled_accuracy"), r.get("expert/p_mean"))
            for r in rows
        ]

    assert curve("a") == curve("b")


def test_one_row_per_optimizer_step_whatever_the_logging_settings(
    tmp_path, tiny_cache, tiny_world, monkeypatch
):
    import phasescope.train.train_one as train_one_mod
    from phasescope.train.train_one import train_one

    orig = train_one_mod.grpo_args

    def rarely_logging(*a):
        args = orig(*a)
        args.logging_steps = 50  # HF's own log() runs at step 50 only; rows must not depend on it
        return args

    monkeypatch.setattr(train_one_mod, "grpo_args", rarely_logging)
    train_one(load_config(None, tiny_world), "chord_phi", 0, tmp_path, threads=1)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3]
    assert all("train/loss" in r and "train/grad_norm" in r for r in rows[1:])
