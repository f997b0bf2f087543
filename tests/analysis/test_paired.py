"""The paired hierarchical bootstrap on synthetic per-problem runs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from phasescope.analysis import analyse
from phasescope.analysis.compare import compare_frame
from phasescope.analysis.paired import N_BOOT, TEST, TEST_WORLDS, load_problem_bits, split_of
from phasescope.analysis.pairwise import WELCH
from phasescope.analysis.tables import format_compare

from .problem_runs import base_bits, frame_of, with_more_right, write_experiment

QS = ("final", "best", "at_matched")


def _compare(tmp_path, arms, metric="eval/accuracy", direction="higher"):
    exp = write_experiment(tmp_path, arms)
    frame = frame_of(exp, arms)
    notes: list[str] = []
    bits = load_problem_bits(frame, metric, notes)
    result, more = compare_frame(
        frame, metric, direction=direction, segments=[], problems=bits, budget_axis="step"
    )
    return result, notes + more


def _pairs(result, q=None):
    return [p for p in result["pairwise"] if q is None or p["quantity"] == q]


def test_split_of_inverts_accuracy_key():
    from phasescope.runlog.problems import accuracy_key

    for split in ("eval", "dev", "general", "math500"):
        assert split_of(accuracy_key(split)) == split
    assert split_of("eval/expert_nll") is None and split_of("train/loss") is None


def test_identical_arms_give_exactly_zero_and_p_one(tmp_path):
    rng = np.random.default_rng(0)
    same = {(0, s): base_bits(rng, p=0.3 + 0.2 * s) for s in range(3)}
    result, _ = _compare(tmp_path, {"a": same, "b": same})
    for p in _pairs(result):
        assert p["test"] == TEST and p["n_replicates"] == 3 and p["n_problems"] == 200
        assert p["diff"] == 0.0 and p["ci_paired"] == [0.0, 0.0] and p["p"] == 1.0
        assert p["p_holm"] == 1.0 and p["ci_holm"] == [0.0, 0.0] and p["better"] is None
        assert p["prob_improvement"] == 0.5
    assert result["multiplicity"]["m"] == 3
    assert "Not separable from" in result["verdict"]


def test_twenty_more_right_on_every_seed_is_a_difference_of_one_tenth(tmp_path):
    # Seeds far apart (accuracy ≈ 0.24, 0.4, 0.56), B right on 20 more of the 200 problems at every
    # evaluation of every seed: the paired difference is 0.1 exactly and the seeds' spread cancels.
    rng = np.random.default_rng(1)
    a = {(0, s): base_bits(rng, p=0.3 + 0.2 * s) for s in range(3)}
    b = {k: with_more_right(v, 20) for k, v in a.items()}
    result, _ = _compare(tmp_path, {"a": a, "b": b})
    for q in QS:
        (p,) = _pairs(result, q)
        assert (p["a"], p["b"]) == ("b", "a") and p["test"] == TEST
        assert p["diff"] == pytest.approx(0.1, abs=1e-12)
        # Only the problems move it: the share of the 20 in a resample of 200 is Binomial(200, 0.1)
        # / 200, sd √(0.1·0.9/200) = 0.0212, the same problems for every seed (crossed, not nested:
        # resampling each seed's problems apart would shrink it by √3 to 0.012).
        lo, hi = p["ci_paired"]
        assert (hi - lo) / 2 == pytest.approx(1.96 * 0.0212, abs=0.006)
        assert p["p"] == pytest.approx(2 / (N_BOOT + 1))  # no draw reaches 0
        assert p["p_holm"] == pytest.approx(3 * 2 / (N_BOOT + 1)) and p["better"] == "b"
        assert p["ci_holm"][0] > 0
        # 20 of 200 cells won, the rest tied: 0.1 + 0.9 / 2.
        assert p["prob_improvement"] == pytest.approx(0.55)
        # Unpaired over seeds the same difference is lost in the seeds' spread.
        assert p["ci_welch"][0] < 0 < p["ci_welch"][1]
    v = result["verdict"]
    assert "b's lead over every other arm holds after Holm's correction over 3 tests" in v
    assert f"({TEST}, p = 0.0002; over seeds: Welch p = " in v and "Holm-adjusted p = 0.0006" in v


def test_without_per_problem_results_the_tests_over_seeds_stay(tmp_path):
    rng = np.random.default_rng(2)
    a = {(0, s): base_bits(rng, p=0.3 + 0.2 * s) for s in range(3)}
    b = {k: with_more_right(v, 20) for k, v in a.items()}
    result, _ = _compare(tmp_path, {"a": a, "b": b}, metric="eval/expert_nll", direction="lower")
    assert all(p["test"] == WELCH and p["ci_paired"] is None for p in _pairs(result))
    # One arm's per-problem files gone: that arm's pairs fall back too, and say so.
    exp = write_experiment(tmp_path / "gone", {"a": a, "b": b})
    for s in range(3):
        (exp / "b" / f"seed{s}" / "problems.jsonl").unlink()
    frame = frame_of(exp, {"a": a, "b": b})
    result, _ = compare_frame(
        frame,
        "eval/accuracy",
        direction="higher",
        segments=[],
        problems=load_problem_bits(frame, "eval/accuracy", []),
    )
    assert all(p["test"] == WELCH for p in _pairs(result))
    assert "welch over seeds" in format_compare(result)


def test_world_draws_are_replicates_and_their_spread_is_reported(tmp_path):
    rng = np.random.default_rng(4)
    # World 1 is harder: its base accuracy is lower by construction.
    a = {(w, s): base_bits(rng, p=0.6 - 0.3 * w) for w in (0, 1) for s in (0, 1)}
    b = {k: with_more_right(v, 20) for k, v in a.items()}
    result, _ = _compare(tmp_path, {"a": a, "b": b})
    (p,) = _pairs(result, "final")
    assert p["test"] == TEST_WORLDS and p["n_replicates"] == 4 and p["diff"] == pytest.approx(0.1)
    w = result["worlds"]
    assert w["n"] == 2 and w["worlds"] == [0, 1]
    by = w["arms"]["a"]["final"]["by_world"]
    want = {str(k): np.mean([a[(k, s)][-1].mean() for s in (0, 1)]) for k in (0, 1)}
    assert by == pytest.approx(want)
    assert w["arms"]["a"]["final"]["sd"] == pytest.approx(abs(want["0"] - want["1"]) / np.sqrt(2))
    assert "between worlds (2 draws" in format_compare(result)
    assert "(4 replicates)" in result["verdict"] and "(4 seeds)" not in result["verdict"]


def test_one_world_has_no_world_spread_and_the_pipeline_pairs(tmp_path):
    rng = np.random.default_rng(5)
    a = {(0, s): base_bits(rng, p=0.4) for s in range(2)}
    b = {k: with_more_right(v, 30) for k, v in a.items()}
    exp = write_experiment(tmp_path, {"a": a, "b": b})
    result = analyse(exp, "eval/accuracy").comparison
    assert result["worlds"] is None
    assert {p["test"] for p in result["pairwise"]} == {TEST}
    assert all(p["diff"] == pytest.approx(0.15) for p in result["pairwise"])
    text = format_compare(result)
    assert TEST in text and "between worlds" not in text and "p (Holm)" in text
    assert "(2 seeds)" in result["verdict"]  # one world draw: a replicate is a seed


def test_the_peak_is_found_again_in_every_draw(tmp_path):
    # a is right on problems 0-99 at step 10 and on 100-199 at step 20: both evaluations read 0.5.
    # b is right on problems 0-99 at every step. Point peaks: 0.5 and 0.5, difference 0. In a draw
    # a's peak is max(s, 1 - s) with s the share of problems 0-99, so a − b = max(0, 1 − 2s) ≥ 0:
    # 1 − 2s has sd 2·√(0.25/200) = 0.0707, its 97.5% point 1.96·0.0707 = 0.139 (the choice of
    # the best step is in the interval; a fixed step would give ±0.139 around 0).
    a_bits = np.zeros((3, 200), bool)
    a_bits[0, :60] = True  # step 0 at 0.3: the peak is at step 10 or 20
    a_bits[1, :100], a_bits[2, 100:] = True, True
    b_bits = np.zeros((3, 200), bool)
    b_bits[:, :100] = True
    result, _ = _compare(tmp_path, {"a": {(0, 0): a_bits}, "b": {(0, 0): b_bits}})
    (p,) = _pairs(result, "best")
    sign = 1 if p["a"] == "a" else -1
    assert p["test"] == TEST and p["diff"] == 0.0
    lo, hi = sorted(sign * v for v in p["ci_paired"])
    assert lo == 0.0 and hi == pytest.approx(0.139, abs=0.012)
    assert "one shared replicate" in p["caveat"]


def test_problem_ids_in_another_order_are_aligned_and_foreign_ids_are_not_paired(tmp_path):
    rng = np.random.default_rng(6)
    same = {(0, s): base_bits(rng) for s in range(2)}
    exp = write_experiment(tmp_path, {"a": same, "b": same})
    frame = frame_of(exp, {"a": same, "b": same})
    bits = load_problem_bits(frame, "eval/accuracy", [])
    for key in same:
        steps, ids, b = bits[("b", key)]
        bits[("b", key)] = (steps, ids[::-1], b[:, ::-1])  # the same results, listed backwards
    result, _ = compare_frame(frame, "eval/accuracy", direction="higher", segments=[], problems=bits)
    assert all(p["test"] == TEST and p["ci_paired"] == [0.0, 0.0] for p in _pairs(result))
    for key in same:
        steps, ids, b = bits[("b", key)]
        bits[("b", key)] = (steps, [f"other-{i}" for i in ids], b)
    result, more = compare_frame(frame, "eval/accuracy", direction="higher", segments=[], problems=bits)
    assert all(p["test"] != TEST for p in _pairs(result))
    assert any("per-problem ids differ" in n for n in more)


def test_results_that_do_not_match_the_logged_value_are_not_paired(tmp_path):
    rng = np.random.default_rng(7)
    a = {(0, s): base_bits(rng, p=0.3 + 0.2 * s) for s in range(3)}
    b = {k: with_more_right(v, 20) for k, v in a.items()}
    exp = write_experiment(tmp_path, {"a": a, "b": b})
    frame = frame_of(exp, {"a": a, "b": b})
    last = (
        (frame["run"] == "b")
        & (frame["seed"] == 0)
        & (frame["step"] == 40)
        & (frame["metric"] == "eval/accuracy")
    )
    frame.loc[last, "value"] += 0.05  # seed 0's logged final no longer matches its bits
    bits = load_problem_bits(frame, "eval/accuracy", [])
    result, notes = compare_frame(
        frame, "eval/accuracy", direction="higher", segments=[], problems=bits, budget_axis="step"
    )
    assert any("do not match the logged values" in n for n in notes)
    (p,) = _pairs(result, "final")
    assert p["test"] == TEST and p["n_replicates"] == 2 and "paired on the 2 replicates" in p["caveat"]
    assert p["diff"] == pytest.approx(0.1)


def test_an_unreadable_problems_file_is_a_note_and_the_tests_over_seeds(tmp_path):
    rng = np.random.default_rng(8)
    a = {(0, s): base_bits(rng, p=0.3 + 0.2 * s) for s in range(2)}
    exp = write_experiment(tmp_path, {"a": a, "b": a})
    (exp / "b" / "seed1" / "problems.jsonl").write_bytes(b"\xff\xfe not utf-8\n")
    (exp / "b" / "seed0" / "problems.jsonl").write_text('{"step": 0, "split": "eval"}\n{"step": 1}\n')
    analysis = analyse(exp, "eval/accuracy")
    assert sum("per-problem results not used" in n for n in analysis.notes) == 2
    assert all(p["test"] != TEST for p in analysis.comparison["pairwise"])
