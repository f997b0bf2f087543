"""Token-divergence probes: statistics on hand-made log-probabilities, the probe on a tiny model, and
one short training run that writes probe/* metrics and tokens.jsonl."""

from __future__ import annotations

import json
import math

import pytest
import torch

from phasescope.train.probes import (
    HIST_EDGES,
    TokenProbe,
    class_mean_p,
    entropy_from_logp,
    expert_token_stats,
    logp_histogram,
    most_divergent,
    select_probe,
    token_class,
    token_kl,
    with_probe,
)

torch.set_num_threads(1)


def _logp(ps):
    return torch.tensor(ps, dtype=torch.float64).log()


# --- statistics --------------------------------------------------------------------------------------


def test_expert_token_stats_known_values():
    # Row 0: four scored tokens; row 1: one scored token, one padding token (p = 0.001) that must not count.
    logp = _logp([[0.05, 0.2, 0.5, 0.9], [0.6, 0.001, 1.0, 1.0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]])
    ent = torch.full((2, 4), 0.7)
    ent[1, 1] = 99.0  # masked out
    s = expert_token_stats(logp, mask, ent, divergent_threshold=0.1)
    p = [0.05, 0.2, 0.5, 0.9, 0.6]
    assert s["expert/nll"] == pytest.approx(-sum(math.log(x) for x in p) / 5)
    assert s["expert/p_mean"] == pytest.approx(sum(p) / 5)
    assert s["expert/divergent_frac"] == pytest.approx(1 / 5)
    assert s["expert/phi_mean"] == pytest.approx(sum(x * (1 - x) for x in p) / 5)
    # Linear interpolation on sorted [0.05, 0.2, 0.5, 0.6, 0.9]: q10 at index 0.4, q50 at 2, q90 at 3.6.
    assert s["expert/p_q10"] == pytest.approx(0.05 + 0.4 * 0.15)
    assert s["expert/p_q50"] == pytest.approx(0.5)
    assert s["expert/p_q90"] == pytest.approx(0.6 + 0.6 * 0.3)
    assert s["expert/entropy"] == pytest.approx(0.7)


def test_expert_token_stats_threshold_prefix_and_empty_mask():
    logp = _logp([[0.05, 0.2, 0.5, 0.9]])
    s = expert_token_stats(logp, torch.ones(1, 4), divergent_threshold=0.3, prefix="probe")
    assert s["probe/divergent_frac"] == pytest.approx(0.5)
    assert "probe/entropy" not in s and not any(k.startswith("expert/") for k in s)
    assert expert_token_stats(logp, torch.zeros(1, 4)) == {}  # absent, never NaN


def test_entropy_from_logits():
    uniform = torch.log_softmax(torch.zeros(3, 4), -1)
    assert entropy_from_logp(uniform).tolist() == pytest.approx([math.log(4)] * 3)
    one_hot = torch.tensor([[0.0, float("-inf")]])  # p = (1, 0): entropy 0, not NaN
    assert entropy_from_logp(one_hot).tolist() == [0.0]
    two = _logp([[0.25, 0.75]])
    assert float(entropy_from_logp(two)) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_token_kl_zero_for_identical_and_hand_computed_two_tokens():
    pol = _logp([[0.5, 0.5], [0.8, 0.2]])
    base = _logp([[0.9, 0.1], [0.5, 0.5]])
    assert token_kl(pol, pol).tolist() == [0.0, 0.0]
    kl = token_kl(pol, base)
    k0 = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # 0.5108
    k1 = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)  # 0.1927
    assert kl.tolist() == pytest.approx([k0, k1])
    assert float(kl.mean()) == pytest.approx(0.35179, abs=1e-5)
    # Direction: KL(policy || base), not the reverse.
    assert float(token_kl(base, pol)[0]) != pytest.approx(k0)


def test_histogram_fixed_bins_counts_sum_to_masked_tokens():
    p = [[1e-9, 0.05, 0.5, 0.55, 1.0], [0.95, 0.5, 0.0001, 0.3, 0.3]]
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    counts = logp_histogram(_logp(p), mask)
    assert len(counts) == len(HIST_EDGES) - 1
    assert sum(counts) == int(mask.sum()) == 8
    p_edges = [math.exp(e) for e in HIST_EDGES]

    def bin_of(x):
        return max(i for i, e in enumerate(p_edges[:-1]) if x >= e * (1 - 1e-9)) if x >= p_edges[0] else 0

    expected = [0] * len(counts)
    for x in (1e-9, 0.05, 0.5, 0.55, 1.0, 0.95, 0.5, 0.0001):
        expected[bin_of(x)] += 1
    assert counts == expected
    assert counts[0] == 1  # p = 1e-9 is below the first edge and lands in the first bin
    assert counts[-1] == 1  # p = 1 (log p = 0) lands in the last bin
    assert counts[p_edges.index(0.5)] == 3  # 0.5, 0.55, 0.5 in [0.5, 0.6)


def test_most_divergent_order_ties_and_mask():
    logp = _logp([[0.3, 0.01, 0.2], [0.01, 0.001, 0.9]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 1]])  # the 0.001 is padding
    top = most_divergent(logp, mask, 3)
    assert [(r, c) for r, c, _ in top] == [(0, 1), (1, 0), (0, 2)]  # tie at 0.01 broken by (row, position)
    assert [p for _, _, p in top] == pytest.approx([0.01, 0.01, 0.2])
    assert most_divergent(logp, mask, 0) == []
    assert len(most_divergent(logp, mask, 99)) == 5


def test_token_classes_and_class_mean_p():
    assert token_class("7") == "digit" and token_class(" 42") == "digit" and token_class("|") == "|"
    names = ["digit", "|"]
    ids = torch.tensor([[1, 0, 0], [1, 0, 0]])
    logp = _logp([[0.1, 0.5, 0.7], [0.3, 0.9, 0.2]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out = class_mean_p(logp, mask, ids, names)
    assert out["|"] == (pytest.approx(0.2), 2)
    assert out["digit"] == (pytest.approx((0.5 + 0.7 + 0.9) / 3), 3)


def test_select_probe_fixed_by_seed():
    a = select_probe(200, 64, seed=0)
    assert a == select_probe(200, 64, seed=0) and a == sorted(a) and len(set(a)) == 64
    assert a != select_probe(200, 64, seed=1)
    assert select_probe(10, 64, seed=0) == list(range(10))


# --- the probe on a tiny model -----------------------------------------------------------------------


@pytest.fixture
def tiny():
    from phasescope.world.model import build_model
    from phasescope.world.tokenizer import CharTokenizer

    tok = CharTokenizer()
    model = build_model(tok, n_layer=1, n_embd=32, n_head=2, n_positions=48, seed=0).eval()
    prompts = ["12+34=", "56+78=", "10+10="]
    responses = ["|2+4+0=06|1+3+0=04|=46;", "|6+8+0=14|5+7+1=13|=134;", "|0+0+0=00|1+1+0=02|=20;"]
    return tok, model, prompts, responses


def test_probe_metrics_record_and_kl(tiny):
    from phasescope.lm import completion_logits, encode_pairs, token_logprobs

    tok, model, prompts, responses = tiny
    probe = TokenProbe(tok, prompts, responses, top_k=4, divergent_threshold=0.1)
    m0, rec0 = probe(model, 0)
    batch = encode_pairs(tok, prompts, responses)
    with torch.no_grad():
        ref = token_logprobs(completion_logits(model, batch), batch["completion_ids"])
    want = expert_token_stats(ref, batch["completion_mask"], prefix="probe")
    for k, v in want.items():
        assert m0[k] == pytest.approx(v, rel=1e-5)
    assert m0["probe/kl_to_base"] == pytest.approx(0.0, abs=1e-6)  # the policy is the base at step 0
    n = sum(len(r) for r in responses)
    assert rec0["n_tokens"] == n and sum(rec0["hist_counts"]) == n
    assert rec0["step"] == 0 and len(rec0["top_divergent"]) == 4
    ps = [t["p"] for t in rec0["top_divergent"]]
    assert ps == sorted(ps)
    t0 = rec0["top_divergent"][0]
    assert t0["token"] == responses[t0["example"]][t0["position"]]
    assert t0["context"].endswith(responses[t0["example"]][: t0["position"]][-6:])
    assert [len(r) for r in rec0["token_p"]] == [len(r) for r in responses]
    assert rec0["probe"]["tokens"][1] == list(responses[1])
    assert sum(rec0["class_n"].values()) == n and rec0["class_n"]["|"] == 9
    json.dumps(rec0)  # JSON-ready

    with torch.no_grad():  # move the policy away from the base
        for prm in model.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    m1, rec1 = probe(model, 5)
    assert m1["probe/kl_to_base"] > 1e-4
    assert "probe" not in rec1  # the text is written once per file


def test_probe_chunked_forward_and_capped_kl_positions(tiny, monkeypatch):
    import phasescope.train.probes as probes

    tok, model, prompts, responses = tiny
    whole = TokenProbe(tok, prompts, responses)
    m_whole, _ = whole(model, 0)
    vocab = model.config.vocab_size
    monkeypatch.setattr(probes, "MAX_CHUNK_FLOATS", 1)  # one row per forward chunk
    monkeypatch.setattr(probes, "MAX_BASE_FLOATS", 5 * vocab)  # the KL on 5 evenly spaced positions
    capped = TokenProbe(tok, prompts, responses)
    m_capped, rec = capped(model, 0)
    assert capped.base_logp.shape == (5, vocab)
    assert int(capped._kl_positions(vocab).sum()) == 5
    for k, v in m_whole.items():
        assert m_capped[k] == pytest.approx(v, rel=1e-5, abs=1e-7)
    assert sum(rec["hist_counts"]) == rec["n_tokens"]
    with torch.no_grad():
        for prm in model.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    assert capped(model, 1)[0]["probe/kl_to_base"] > 1e-4


def test_probe_without_step0_has_no_kl_until_cached(tiny):
    tok, model, prompts, responses = tiny
    probe = TokenProbe(tok, prompts, responses)
    m, _ = probe(model, 10)
    assert "probe/kl_to_base" not in m and "probe/p_mean" in m
    probe.cache_base(model)
    assert probe(model, 11)[0]["probe/kl_to_base"] == pytest.approx(0.0, abs=1e-6)


def test_with_probe_joins_eval_row_and_writes_record(tiny):
    tok, model, prompts, responses = tiny
    written = []
    run = with_probe(
        lambda m, s: {"eval/accuracy": 0.5},
        TokenProbe(tok, prompts, responses),
        written.append,
        lambda s: "sft",
    )
    row = run(model, 0)
    assert row["eval/accuracy"] == 0.5 and "probe/kl_to_base" in row and row["time/probe_s"] >= 0
    assert list(written[0])[:2] == ["step", "stage"] and written[0]["stage"] == "sft"


# --- one short training run --------------------------------------------------------------------------

TINY = [
    "world.n_pretrain=500",
    "world.base_max_steps=50",
    "world.n_eval=32",
    "world.n_rl_prompts=64",
    "train.max_steps=4",
    "train.eval_steps=2",
    "train.prompts_per_step=2",
    "train.num_generations=4",
    "train.expert_batch_size=8",
    "train.probe_size=16",
    "train.probe_top_k=5",
    "arms.sft_then_rl.sft_steps=2",
]


def test_training_run_writes_probe_metrics_and_tokens_jsonl(tmp_path, monkeypatch):
    from phasescope.config import load_config
    from phasescope.runlog.reader import read_metrics as read_rows
    from phasescope.runlog.tokens import moved_most, read_tokens
    from phasescope.train.train_one import train_one

    monkeypatch.setenv("PHASESCOPE_CACHE", str(tmp_path / "cache"))
    cfg = load_config(None, TINY)
    out = tmp_path / "sft_then_rl" / "seed0"
    train_one(cfg, "sft_then_rl", 0, out)
    rows = read_rows(out / "metrics.jsonl")
    evals = [r for r in rows if "eval/accuracy" in r]
    # SFT stage: steps 1-2 (evaluated at 2, its last); RL stage: the 2 updates left of the arm's 4
    # (train.stage_budget "within"), evaluated at its 2nd
    assert [r["step"] for r in evals] == [0, 2, 4]
    for r in evals:
        for k in ("nll", "p_mean", "p_q10", "p_q50", "p_q90", "divergent_frac", "phi_mean", "entropy"):
            assert f"probe/{k}" in r
        assert "probe/kl_to_base" in r and "time/probe_s" in r
    assert evals[0]["probe/kl_to_base"] == pytest.approx(0.0, abs=1e-6)
    assert evals[-1]["probe/kl_to_base"] > 0
    sft_rows = [r for r in rows if r["step"] > 0 and r["stage"] == "sft"]
    rl_rows = [r for r in rows if r["stage"] == "rl"]
    assert sft_rows and rl_rows
    assert all("expert/p_q10" in r and "expert/entropy" in r for r in sft_rows)
    assert all("expert/nll" not in r and "rollout/entropy" in r for r in rl_rows)

    recs = [json.loads(line) for line in (out / "tokens.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [0, 2, 4]
    assert [r["stage"] for r in recs] == ["sft", "sft", "rl"]
    assert recs[0]["probe"]["example_ids"] == select_probe(cfg.world.n_expert, 16, cfg.world.seed)
    assert all(sum(r["hist_counts"]) == r["n_tokens"] for r in recs)
    log = read_tokens(out)
    assert log.notes == [] and sorted(log.tokens["step"].unique()) == [0, 2, 4]
    assert len(moved_most(log, 0, 4, n=3)) == 3

    # Switched off: no probe metrics, no tokens.jsonl.
    off = tmp_path / "rl" / "seed0"
    train_one(
        load_config(None, [*TINY, "train.max_steps=2", "train.probes=false", 'experiment.arms=["rl"]']),
        "rl",
        0,
        off,
    )
    assert not (off / "tokens.jsonl").exists()
    assert not any(k.startswith("probe/") for r in read_rows(off / "metrics.jsonl") for k in r)
