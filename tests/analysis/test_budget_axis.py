"""Matched-budget comparison on planted frames with known answers: two arms whose budgets grow at
different rates (``fast`` spends 2 updates a step, like a two-stage arm; ``slow`` 1), so the arm
ahead at its own end is behind at the largest budget both reached."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phasescope.analysis.budget_axis import RISING_TEXT, still_rising, value_at
from phasescope.analysis.compare import compare_frame
from phasescope.analysis.tables import format_compare
from phasescope.errors import UsageError

OFFSETS = (0.0, 0.01, -0.01)  # per seed, the same for both arms: differences are exact


def _curve(arm, step):
    if arm == "fast":  # rises to its end: 0.5 -> 0.9 over 100 steps
        return 0.5 + 0.004 * step
    return min(0.8, 0.5 + 0.01 * step)  # slow: plateaus at 0.8 from step 30


def planted_frame(with_budget=True):
    rows = []
    for arm, per_step in (("fast", 2), ("slow", 1)):
        for seed, off in enumerate(OFFSETS):
            for step in range(0, 101):
                base = {"run": arm, "seed": seed, "step": float(step), "source": f"/x/{arm}/{seed}"}
                if with_budget:
                    rows.append({**base, "metric": "budget/updates", "value": float(per_step * step)})
                    rows.append({**base, "metric": "budget/samples", "value": float(7 * step)})
                if step % 10 == 0:
                    rows.append({**base, "metric": "eval/accuracy", "value": _curve(arm, step) + off})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def matched():
    result, notes = compare_frame(planted_frame(), "eval/accuracy", direction="higher", segments=[])
    return result


def test_matched_budget_is_the_largest_every_arm_reached(matched):
    assert matched["budget_axis"] == "budget/updates"
    assert matched["matched_budget"] == 100.0  # slow ends at 100 updates, fast at 200
    assert matched["arms"]["fast"]["end_budget"] == [200.0, 200.0, 200.0]


def test_value_at_matched_budget_per_seed(matched):
    # fast reaches 100 updates at step 50: 0.5 + 0.2; slow at step 100: its plateau 0.8.
    assert matched["arms"]["fast"]["at_matched"]["values"] == pytest.approx([0.7, 0.71, 0.69])
    assert matched["arms"]["slow"]["at_matched"]["values"] == pytest.approx([0.8, 0.81, 0.79])
    # 25% = 25 updates: fast's last evaluation at or before is step 10 (20 updates).
    assert matched["arms"]["fast"]["at_fraction"]["0.25"] == pytest.approx(0.54)
    assert matched["arms"]["slow"]["at_fraction"]["0.25"] == pytest.approx(0.7)


def test_ranking_flips_between_end_of_run_and_matched_budget(matched):
    assert matched["arms"]["fast"]["final"]["mean"] > matched["arms"]["slow"]["final"]["mean"]
    pair = next(p for p in matched["pairwise"] if p["quantity"] == "at_matched")
    assert pair["better"] == "slow" and abs(pair["diff"]) == pytest.approx(0.1)
    v = matched["verdict"]
    assert "budget/updates = 100" in v
    assert "ranking slow > fast; at each arm's own end fast > slow" in v
    assert "Highest eval/accuracy at matched budget: slow" in v
    assert "Highest final eval/accuracy: fast" in v


def test_still_rising_flags_the_rising_arm_only(matched):
    assert matched["arms"]["fast"]["still_rising"] is True
    assert matched["arms"]["fast"]["flag"] == RISING_TEXT
    assert matched["arms"]["slow"]["still_rising"] is False and "flag" not in matched["arms"]["slow"]
    assert f"fast: {RISING_TEXT}" in matched["verdict"]


def test_still_rising_against_eval_set_noise():
    x = np.arange(0, 101, 10.0)
    # 0.004 a step: +0.08 over the last 3 evaluations, beyond 2.77 binomial SEs of 256 problems (0.052).
    assert still_rising(x, 0.5 + 0.004 * x, "higher", eval_n=256)
    # 0.0005 a step: +0.01, within the eval set's noise.
    assert not still_rising(x, 0.5 + 0.0005 * x, "higher", eval_n=256)
    # A loss falling to its end is rising in the good direction.
    assert still_rising(x, 2.0 - 0.01 * x, "lower")


def test_value_at_takes_the_last_evaluation_at_or_before():
    assert value_at([0, 10, 20], [1.0, 2.0, 3.0], 15) == 2.0
    assert value_at([5, 10], [1.0, 2.0], 4) is None


def test_another_axis_can_be_chosen():
    result, _ = compare_frame(
        planted_frame(), "eval/accuracy", direction="higher", segments=[], budget_axis="budget/samples"
    )
    # Both arms spend 7 samples a step: matched at 700, and fast leads there as at its end.
    assert result["budget_axis"] == "budget/samples" and result["matched_budget"] == 700.0
    assert result["arms"]["fast"]["at_matched"]["mean"] == pytest.approx(0.9)


def test_falls_back_to_step_without_budget_columns():
    result, notes = compare_frame(planted_frame(False), "eval/accuracy", direction="higher", segments=[])
    assert result["budget_axis"] == "step" and result["matched_budget"] == 100.0
    assert "no budget/updates column" in result["budget_note"] and result["budget_note"] in notes
    assert "step = 100" in result["verdict"] and "no budget/updates column" in result["verdict"]
    assert "note: no budget/updates column" in format_compare(result)


def test_unknown_axis_is_a_usage_error():
    with pytest.raises(UsageError, match="--budget-axis"):
        compare_frame(planted_frame(), "eval/accuracy", direction="higher", segments=[], budget_axis="x")


def test_format_compare_shows_axis_budget_fractions_and_flags(matched):
    text = format_compare(matched)
    assert "matched budget: budget/updates = 100 (the largest every arm reached)" in text
    assert "at 25% (25): slow 0.700, fast 0.540" in text
    assert "at 100% (100): slow 0.800, fast 0.700" in text
    assert "at each arm's own end: fast > slow" in text
    assert f"fast: {RISING_TEXT}" in text


def test_one_arm_without_budgets_falls_back_to_step_for_all():
    frame = planted_frame()
    frame = frame[~((frame["run"] == "slow") & frame["metric"].str.startswith("budget/"))]
    result, _ = compare_frame(frame, "eval/accuracy", direction="higher", segments=[])
    assert result["budget_axis"] == "step" and result["matched_budget"] == 100.0
    assert "no budget/updates column in the logs of slow" in result["budget_note"]
