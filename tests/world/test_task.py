"""The embedded world's task: answers in both styles, and the expert's slips, against hand-written strings."""

from phasescope.world.task import (
    Problem,
    cot_response,
    expert_responses,
    is_well_formed,
    parse_answer,
    reward,
)


def test_chain_of_thought_carries_digit_by_digit():
    p = Problem(457, 368, "+", 3)
    assert cot_response(p) == "|7+8+0=15|5+6+1=12|4+3+1=08|=825;"
    assert parse_answer(cot_response(p)) == 825 and reward(825, cot_response(p)) == 1.0
    assert is_well_formed(cot_response(p), digits=3)


def test_a_slip_changes_one_column_and_everything_after_it_follows():
    p = Problem(457, 368, "+", 3)
    assert cot_response(p, slip=0) == "|7+8+0=16|5+6+1=12|4+3+1=08|=826;"
    assert cot_response(p, slip=1) == "|7+8+0=15|5+6+1=13|4+3+1=08|=835;"
    assert cot_response(p, slip=2) == "|7+8+0=15|5+6+1=12|4+3+1=09|=925;"
    # A column that sums to 19 slips down; a slip that crosses 10 moves the carry.
    assert cot_response(Problem(999, 999, "+", 3), slip=1) == "|9+9+0=18|9+9+1=18|9+9+1=19|=1988;"
    assert cot_response(Problem(145, 114, "+", 3), slip=0) == "|5+4+0=10|4+1+1=06|1+1+0=02|=260;"
    for step in range(3):
        out = cot_response(p, slip=step)
        assert is_well_formed(out, digits=3) and reward(p.answer, out) == 0.0


def test_the_slip_rate_is_the_share_of_slipped_traces_and_the_draw_is_reproducible():
    problems = [Problem(100 + i, 200 + 3 * i, "+", 3) for i in range(50)]
    out = expert_responses(problems, 0.2, seed=0)
    wrong = [i for i, (p, r) in enumerate(zip(problems, out, strict=True)) if parse_answer(r) != p.answer]
    assert len(wrong) == 10
    assert out == expert_responses(problems, 0.2, seed=0)
    assert out != expert_responses(problems, 0.2, seed=1)
    assert expert_responses(problems, 0.0, seed=0) == [cot_response(p) for p in problems]
