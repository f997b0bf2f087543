"""Drawing examples from a source kept as a `datasets.Dataset`: seeded subsets, dataset configs
(`?name=`), streaming, and disjoint draws from one source. No network: local files and folders,
and a stand-in for `datasets.load_dataset` where a Hub id is named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasescope.data.sources import (
    DataSource,
    Example,
    draw_examples,
    load_examples,
    parse_source,
    split_eval_label,
    subset,
)
from phasescope.errors import UsageError

datasets = pytest.importorskip("datasets")


def _rows(n: int = 400) -> list[dict]:
    # Every 7th problem has no answer: a row the draw must pass over.
    return [
        {"problem": f"p{i}", "answer": None if i % 7 == 0 else str(i), "extra": "x" * 50} for i in range(n)
    ]


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_list(_rows()).to_parquet(str(path))
    return str(path)


def test_a_subset_is_the_same_rows_for_the_same_seed(parquet):
    a = draw_examples(parquet, prompt_field="problem", answer_field="answer", limit=50, seed=3)
    b = draw_examples(parquet, prompt_field="problem", answer_field="answer", limit=50, seed=3)
    c = draw_examples(parquet, prompt_field="problem", answer_field="answer", limit=50, seed=4)
    assert a == b and len(a.examples) == 50 and a.examples != c.examples
    # The rule: the first 50 usable rows of the seed's permutation, and nothing past them is read.
    usable = [i for i in np.random.default_rng(3).permutation(400) if i % 7][:50]
    assert [e.prompt for e in a.examples] == [f"p{i}" for i in usable]
    assert a.read == 50 + a.skipped and a.skipped == sum(
        1 for i in np.random.default_rng(3).permutation(400)[: a.read] if i % 7 == 0
    )
    # Without a limit: every usable row, in the source's order.
    every = draw_examples(parquet, prompt_field="problem", answer_field="answer")
    assert len(every.examples) == 400 - 58 and every.skipped == 58 and every.examples[0].prompt == "p1"


def test_a_jsonl_with_mixed_types_draws_the_same_rows(parquet, tmp_path):
    # Answers as numbers in some rows and strings in others: the same examples as the typed file.
    path = tmp_path / "mixed.jsonl"
    rows = [
        {**r, "answer": int(r["answer"]) if r["answer"] and int(r["answer"]) % 2 else r["answer"]}
        for r in _rows()
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mixed = draw_examples(str(path), prompt_field="problem", answer_field="answer", limit=30, seed=9)
    typed = draw_examples(parquet, prompt_field="problem", answer_field="answer", limit=30, seed=9)
    assert mixed == typed
    assert subset([Example(f"p{i}") for i in range(400)], 30, 9) == [
        Example(f"p{i}") for i in np.random.default_rng(9).permutation(400)[:30]
    ]


def test_two_draws_from_one_source_can_be_kept_disjoint(parquet):
    from phasescope.data.sources import norm_prompt

    expert = draw_examples(parquet, prompt_field="problem", answer_field="answer", limit=40, seed=1)
    taken = {norm_prompt(e.prompt) for e in expert.examples}
    rl = draw_examples(
        parquet, prompt_field="problem", answer_field="answer", limit=40, seed=1, exclude=taken
    )
    assert not taken & {norm_prompt(e.prompt) for e in rl.examples}
    assert rl.excluded == 40 and len(rl.examples) == 40  # same permutation: the expert rows come first


def test_a_dataset_config_name_from_a_local_folder(tmp_path):
    # A Hub-style folder with two configs declared in its README (as openai/gsm8k has main/socratic).
    root = tmp_path / "gsm"
    for config in ("main", "socratic"):
        (root / config).mkdir(parents=True)
        for split in ("train", "test"):
            rows = [{"question": f"{config}-{split}-{i}", "answer": str(i)} for i in range(3)]
            (root / config / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    card = ["---", "configs:"]
    for config in ("main", "socratic"):
        card += [f"- config_name: {config}", "  data_files:"]
        card += [f"  - split: {s}\n    path: {config}/{s}.jsonl" for s in ("train", "test")]
    (root / "README.md").write_text("\n".join([*card, "---", ""]))
    ex, _ = load_examples(f"{root}:test?name=socratic", prompt_field="question", answer_field="answer")
    assert [e.prompt for e in ex] == ["socratic-test-0", "socratic-test-1", "socratic-test-2"]
    ex, _ = load_examples(f"{root}?name=main", prompt_field="question")
    assert ex[0].prompt == "main-train-0"
    with pytest.raises(UsageError, match=r"^cannot read data source .*socratik"):
        load_examples(f"{root}:test?name=socratik", prompt_field="question")


def test_a_hub_id_gets_its_config_and_streams(monkeypatch):
    calls = []
    rows = _rows(100)

    def fake_load_dataset(path, name=None, split=None, streaming=False, **kw):
        calls.append((path, name, split, streaming))
        ds = datasets.Dataset.from_list(rows)
        return ds.to_iterable_dataset(num_shards=4) if streaming else ds

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    spec = "openai/gsm8k:test?name=main&streaming=true&buffer_size=16"
    a = draw_examples(spec, prompt_field="problem", answer_field="answer", limit=10, seed=2)
    b = draw_examples(spec, prompt_field="problem", answer_field="answer", limit=10, seed=2)
    assert calls == [("openai/gsm8k", "main", "test", True)] * 2
    assert a == b and len(a.examples) == 10 and a.read < 30  # a buffer's worth, not the whole split
    load_examples("openai/gsm8k?name=main", prompt_field="problem")
    assert calls[-1] == ("openai/gsm8k", "main", "train", False)


def test_source_options():
    assert parse_source("openai/gsm8k:test?name=main", "train") == DataSource("openai/gsm8k", "test", "main")
    assert parse_source("a/b?streaming=1", "test") == DataSource("a/b", "test", None, True)
    assert split_eval_label("gsm8k=openai/gsm8k:test?name=main") == ("gsm8k", "openai/gsm8k:test?name=main")
    assert split_eval_label("openai/gsm8k?name=main") == ("", "openai/gsm8k?name=main")
    assert split_eval_label("data/math500.jsonl") == ("", "data/math500.jsonl")
    with pytest.raises(UsageError, match="unknown option 'config'"):
        parse_source("a/b?config=main")
    with pytest.raises(UsageError, match="streaming must be true or false"):
        parse_source("a/b?streaming=maybe")
    with pytest.raises(UsageError, match="buffer_size must be a positive integer"):
        parse_source("a/b?streaming=true&buffer_size=0")


def test_a_missing_column_fails_before_reading(parquet):
    with pytest.raises(UsageError, match="not of a file"):
        load_examples(f"{parquet}?name=main", prompt_field="problem")
    with pytest.raises(
        UsageError,
        match=r"no row with the fields \['question'\] \(400 rows; fields: \['problem', 'answer', 'extra'\]\)",
    ):
        load_examples(parquet, prompt_field="question")
