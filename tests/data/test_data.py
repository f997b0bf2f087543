"""phasescope.data: math-verify answer checking and (prompt, answer, response) sources."""

import json

import pytest

from phasescope.data import has_boxed, is_correct, last_boxed, load_examples, math_reward, prompt_overlap
from phasescope.data.sources import Example, get_field, split_source
from phasescope.errors import UsageError
from tests.fixtures.real_run import DATA

pytest.importorskip("math_verify")


@pytest.mark.parametrize(
    "response, answer, ok",
    [
        ("So the answer is \\boxed{42}.", "42", True),
        ("\\boxed{0.5}", "\\frac{1}{2}", True),  # numeric equivalence
        ("\\boxed{\\frac{1}{2}}", "0.5", True),
        ("We get \\boxed{\\frac{2}{4}}", "1/2", True),
        ("The answer is \\boxed{41}.", "42", False),
        ("no answer here", "42", False),
        ("\\boxed{x+1}", "1+x", True),  # symbolic equivalence
        ("\\boxed{3}", "\\boxed{3}", True),  # a boxed reference
    ],
)
def test_math_verify_right_and_wrong(response, answer, ok):
    assert is_correct(response, answer) is ok


def test_reward_format_and_boxed():
    texts = ["\\boxed{12}", "it is 13", [{"role": "assistant", "content": "\\boxed{12}"}]]
    assert math_reward(texts, ["12", "12", "12"]) == [1.0, 0.0, 1.0]
    assert has_boxed("x \\boxed{1}") and not has_boxed("boxed 1")
    assert last_boxed("\\boxed{1} then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("\\boxed{1") is None


def test_tiny_set_expert_responses_are_correct():
    rows = [json.loads(x) for x in (DATA / "math_tiny.jsonl").read_text().splitlines()]
    assert all(is_correct(r["solution"], r["answer"]) for r in rows)
    assert sum(is_correct(r["solution"], str(int(float(r["answer"])) + 1)) for r in rows) == 0


def test_field_mapping_and_subsets(tmp_path):
    row = {"problem": "p", "gen": ["a", "b"], "meta": {"ans": 3}}
    assert (
        get_field(row, "gen.1") == "b" and get_field(row, "meta.ans") == 3 and get_field(row, "gen.5") is None
    )
    ex, skipped = load_examples(
        str(DATA / "math_tiny.jsonl"),
        prompt_field="problem",
        answer_field="answer",
        response_field="generations.0",
    )
    assert len(ex) == 32 and skipped == 0 and ex[0].response.startswith("<think>")
    a, _ = load_examples(str(DATA / "math_tiny.jsonl"), prompt_field="problem", limit=5, seed=1)
    b, _ = load_examples(str(DATA / "math_tiny.jsonl"), prompt_field="problem", limit=5, seed=1)
    assert a == b and len(a) == 5
    assert prompt_overlap([Example("What is  1?")], [Example("what is 1?")]) == 1
    with pytest.raises(UsageError, match="no row with the fields"):
        load_examples(str(DATA / "math_tiny.jsonl"), prompt_field="question")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x"}\nnot json\n')
    with pytest.raises(UsageError, match="bad.jsonl:2"):
        load_examples(str(bad), prompt_field="problem")


def test_hf_dataset_folder_and_split(tmp_path):
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_dict({"question": ["1+1?", "2+2?"], "final": ["2", "4"]})
    DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "ds"))
    assert split_source(f"{tmp_path / 'ds'}:test", "train") == (str(tmp_path / "ds"), "test")
    ex, _ = load_examples(f"{tmp_path / 'ds'}:test", prompt_field="question", answer_field="final")
    assert ex == [Example("1+1?", "2")]
    ex, _ = load_examples(str(tmp_path / "ds"), prompt_field="question", answer_field="final")
    assert len(ex) == 2
    with pytest.raises(UsageError, match="no split"):
        load_examples(f"{tmp_path / 'ds'}:validation", prompt_field="question")
