"""The tokens.jsonl reader: frames from hand-written records, truncated lines, and `moved_most`."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pandas as pd
import pytest

from phasescope.errors import UsageError
from phasescope.runlog.tokens import moved_most, read_tokens

EDGES = [math.log(x) for x in (1e-6, 0.1, 0.5, 1.0)]
HEADER = {
    "example_ids": [3, 7],
    "prompts": ["12+34=", "50+50="],
    "tokens": [["|", "2", ";"], ["|", "0", "0", ";"]],
    "context_chars": 4,
}


def _record(step, stage, token_p, top, header=False):
    flat = [p for row in token_p for p in row]
    rec = {
        "step": step,
        "stage": stage,
        "n_tokens": len(flat),
        "hist_edges": EDGES,
        "hist_counts": [
            sum(p < 0.1 for p in flat),
            sum(0.1 <= p < 0.5 for p in flat),
            sum(p >= 0.5 for p in flat),
        ],
        "top_divergent": top,
        "class_p": {"|": token_p[0][0], "digit": 0.5},
        "class_n": {"|": 2, "digit": 3},
        "first_p": (token_p[0][0] + token_p[1][0]) / 2,
        "token_p": token_p,
    }
    if header:
        rec["probe"] = HEADER
    return rec


@pytest.fixture
def run_dir(tmp_path):
    recs = [
        _record(
            0,
            "sft",
            [[0.01, 0.9, 0.99], [0.02, 0.5, 0.6, 0.95]],
            [{"example": 0, "position": 0, "token": "|", "context": "34=", "p": 0.01}],
            header=True,
        ),
        _record(
            40,
            "sft",
            [[0.8, 0.85, 0.99], [0.3, 0.55, 0.6, 0.2]],
            [{"example": 1, "position": 3, "token": ";", "context": "|00", "p": 0.2}],
        ),
    ]
    d = tmp_path / "sft_then_rl" / "seed0"
    d.mkdir(parents=True)
    text = "".join(json.dumps(r) + "\n" for r in recs)
    (d / "tokens.jsonl").write_text(text + '{"step": 60, "stage": "rl", "hist_')  # a crash mid-write
    return d


def test_read_tokens_frames_and_truncated_line(run_dir):
    log = read_tokens(run_dir)
    assert len(log.notes) == 1 and "truncated final line" in log.notes[0]
    t = log.tokens
    assert sorted(t["step"].unique()) == [0, 40]  # the truncated step-60 record is skipped
    assert len(t) == 2 * 7
    # The probe text from the first record is carried forward to the second.
    row = t[(t.step == 40) & (t.example == 1) & (t.position == 2)].iloc[0]
    assert row["token"] == "0" and row["p"] == 0.6
    assert row["context"] == "0=|0"  # the last context_chars (4) of "50+50=" + "|0"
    assert row["logp"] == pytest.approx(math.log(0.6))
    ranked = t[t["rank"].notna()]
    assert list(zip(ranked.step, ranked.example, ranked.position)) == [(0, 0, 0), (40, 1, 3)]
    # Histogram: one row per bin, counts sum to the number of tokens, bins back in p.
    h = log.hist
    assert h.groupby("step")["count"].sum().tolist() == [7, 7]
    assert h["p_lo"].iloc[1] == pytest.approx(0.1) and h["p_hi"].iloc[2] == pytest.approx(1.0)
    s = log.steps.set_index("step")
    assert s.loc[40, "p[|]"] == 0.8 and s.loc[0, "first_p"] == pytest.approx(0.015)
    assert s.loc[0, "n_tokens"] == 7


def test_moved_most_known_answer(run_dir):
    log = read_tokens(run_dir)
    top = moved_most(log, 0, 40, n=3)
    # Moves: (0,0) +0.79, (1,3) -0.75, (1,0) +0.28, (0,1) -0.05, (1,1) +0.05, others 0.
    assert list(zip(top.example, top.position)) == [(0, 0), (1, 3), (1, 0)]
    assert top["delta"].tolist() == pytest.approx([0.79, -0.75, 0.28])
    assert top["token"].tolist() == ["|", ";", "|"]
    assert list(top.columns) == ["example", "position", "token", "context", "p_a", "p_b", "delta", "dlogp"]
    by_log = moved_most(log, 0, 40, n=1, by="logp")
    assert (by_log.example[0], by_log.position[0]) == (0, 0)  # log(0.8/0.01) is the largest log move
    assert by_log["dlogp"][0] == pytest.approx(math.log(80))
    # A path works too; the order of the steps sets the sign.
    back = moved_most(run_dir / "tokens.jsonl", 40, 0, n=1)
    assert back["delta"][0] == pytest.approx(-0.79)


def test_moved_most_on_a_hand_made_frame():
    frame = pd.DataFrame(
        {
            "step": [0, 0, 0, 10, 10],
            "example": [0, 0, 1, 0, 1],
            "position": [0, 1, 0, 0, 0],
            "token": ["a", "b", "c", "a", "c"],
            "context": ["", "a", "", "", ""],
            "p": [0.2, 0.5, 0.9, 0.6, 0.1],
            "logp": [math.log(x) for x in (0.2, 0.5, 0.9, 0.6, 0.1)],
        }
    )
    out = moved_most(frame, 0, 10)
    # (0,1) is not at step 10, so only two tokens compare; c fell by 0.8, a rose by 0.4.
    assert out["token"].tolist() == ["c", "a"]
    assert out["delta"].tolist() == pytest.approx([-0.8, 0.4])


def test_top_divergent_only_records_and_errors(tmp_path):
    rec = {
        "step": 5,
        "top_divergent": [
            {"example": 2, "position": 0, "token": "|", "context": "1+1=", "p": 0.05},
            {"example": 4, "position": 7, "token": "3", "context": "+1=", "p": 0.07},
        ],
    }
    path = tmp_path / "tokens.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps({**rec, "step": 9}) + "\n")
    log = read_tokens(path)
    assert log.tokens["rank"].tolist() == [0, 1, 0, 1] and log.tokens["token"].iloc[0] == "|"
    assert log.hist.empty and log.notes == []
    with pytest.raises(UsageError, match="logged steps: \\[5, 9\\]"):
        moved_most(log, 5, 6)
    with pytest.raises(UsageError, match="by must be"):
        moved_most(log, 5, 9, by="rank")
    with pytest.raises(UsageError, match="does not exist"):
        read_tokens(tmp_path / "nowhere")


def test_reader_does_not_import_torch():
    code = "import sys, phasescope.runlog.tokens; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
