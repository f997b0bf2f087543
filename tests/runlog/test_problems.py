"""problems.jsonl and problems_index.json: packed bits written and read back as (step × problem) matrices,
cut-off and malformed lines, and the cut back to a checkpoint on --resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasescope.errors import PhasescopeError
from phasescope.runlog.checkpoint import truncate_jsonl
from phasescope.runlog.problems import (
    INDEX,
    PROBLEMS,
    ProblemsWriter,
    accuracy_key,
    hashed_ids,
    pack_bits,
    read_problems,
    unpack_bits,
)

IDS = [f"{a}+{a + 1}=" for a in range(10)]
GENERAL = ["3>4=", "7>2=", "5>5="]


def _write(run) -> dict[int, np.ndarray]:
    """Three evaluations of two splits; returns the eval bits by step."""
    rng = np.random.default_rng(0)
    planted = {step: rng.random(len(IDS)) < 0.5 for step in (0, 5, 10)}
    w = ProblemsWriter(run)
    for step, bits in planted.items():
        w.write_payload(step, {"eval": (IDS, bits), "general": (GENERAL, [True, False, step > 0])})
    w.close()
    return planted


def test_pack_bits_known_answers():
    assert pack_bits([True, False, True]) == "oA=="  # 1010 0000 = 0xA0
    assert unpack_bits("oA==", 3).tolist() == [True, False, True]
    assert len(pack_bits(np.ones(200, dtype=bool))) == 36  # 25 bytes
    with pytest.raises(ValueError, match="do not hold 17 bits"):
        unpack_bits("oA==", 17)


def test_written_results_read_back_as_step_by_problem_matrices(tmp_path):
    planted = _write(tmp_path)
    found = read_problems(tmp_path)
    steps, ids, correct = found["eval"]
    assert steps.tolist() == [0, 5, 10] and ids == IDS
    assert np.array_equal(correct, np.vstack(list(planted.values())))
    steps, ids, correct = found["general"]
    assert ids == GENERAL and correct.tolist() == [
        [True, False, False],
        [True, False, True],
        [True, False, True],
    ]
    assert json.loads((tmp_path / INDEX).read_text()) == {"eval": IDS, "general": GENERAL}
    assert read_problems(tmp_path / PROBLEMS)["general"][0].tolist() == [0, 5, 10]  # the file itself
    assert read_problems(tmp_path / "elsewhere") == {}


def test_a_resumed_writer_keeps_the_index_and_refuses_other_problems(tmp_path):
    _write(tmp_path)
    w = ProblemsWriter(tmp_path)
    w.write(15, "eval", IDS, np.zeros(len(IDS), dtype=bool))
    with pytest.raises(PhasescopeError, match="the problems of split 'eval' changed"):
        w.write(20, "eval", IDS[::-1], np.zeros(len(IDS), dtype=bool))
    w.close()
    assert read_problems(tmp_path)["eval"][0].tolist() == [0, 5, 10, 15]


def test_cut_back_to_a_checkpoint_keeps_whole_evaluations(tmp_path):
    _write(tmp_path)
    with open(tmp_path / PROBLEMS, "a") as fh:
        fh.write('{"step": 15, "split": "ev')  # a kill mid-line
    assert truncate_jsonl(tmp_path / PROBLEMS, 5) == (4, 3)
    found = read_problems(tmp_path)
    assert found["eval"][0].tolist() == found["general"][0].tolist() == [0, 5]


def test_a_cut_off_last_line_is_skipped_with_a_note(tmp_path):
    _write(tmp_path)
    with open(tmp_path / PROBLEMS, "a") as fh:
        fh.write('{"step": 15, "split": "eval", "n": 10, "corr')
    notes: list[str] = []
    found = read_problems(tmp_path, notes)
    assert found["eval"][0].tolist() == [0, 5, 10]
    assert len(notes) == 1 and "cut-off final line (line 7)" in notes[0]


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "line 3: not a JSON object"),
        ('{"step": 1, "split": "eval"}', "line 3: expected an object with step, split and correct"),
        (
            '{"step": 1, "split": "test", "correct": "oA=="}',
            "line 3: split 'test' is not in problems_index.json",
        ),
        (
            '{"step": 1, "split": "eval", "correct": "oA=="}',
            "line 3: correct of split 'eval': 1 bytes do not hold 10",
        ),
        ('{"step": 1, "split": "eval", "correct": "@@"}', "line 3: correct of split 'eval'"),
        ('{"step": "1", "split": "eval", "correct": "oA=="}', "line 3: step must be an integer"),
    ],
)
def test_a_malformed_line_is_a_one_line_error(tmp_path, line, message):
    _write(tmp_path)
    lines = (tmp_path / PROBLEMS).read_text().splitlines()
    lines.insert(2, line)
    (tmp_path / PROBLEMS).write_text("\n".join(lines) + "\n")
    with pytest.raises(PhasescopeError, match="problems.jsonl, " + message.replace("(", r"\(")) as err:
        read_problems(tmp_path)
    assert "\n" not in str(err.value)


def test_a_missing_or_broken_index_is_a_one_line_error(tmp_path):
    _write(tmp_path)
    (tmp_path / INDEX).unlink()
    with pytest.raises(PhasescopeError, match="line 1: no problems_index.json beside it"):
        read_problems(tmp_path)
    (tmp_path / INDEX).write_text('{"eval": [1, 2]}')
    with pytest.raises(PhasescopeError, match=r"expected \{split: \[problem id, ...\]\}"):
        read_problems(tmp_path)


def test_ids_and_accuracy_keys():
    # SHA-1 of "a" is 86f7e437faa5..., of "b" e9d71f5ee7c9...; a repeated problem gets #2
    assert hashed_ids(["a", "b", "a"]) == ["86f7e437faa5", "e9d71f5ee7c9", "86f7e437faa5#2"]
    assert [accuracy_key(s) for s in ("eval", "general", "dev", "gsm8k")] == [
        "eval/accuracy",
        "eval/general_accuracy",
        "dev/accuracy",
        "eval/gsm8k_accuracy",
    ]
