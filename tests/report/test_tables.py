"""One table builder: the text output, the report and W&B show the same cells of a comparison."""

import pytest

from phasescope.analysis import analyse
from phasescope.analysis.ranking import ranking
from phasescope.analysis.tables import (
    arm_table,
    comparison_tables,
    format_compare,
    pm,
    span_table,
    to_html,
    to_markdown,
    to_text,
)


@pytest.fixture(scope="module")
def compare(toy_exp):
    return analyse(toy_exp, "eval/accuracy").comparison


def test_mean_and_spread_text():
    assert pm({"mean": 0.5, "std": 0.125}) == "0.500 ± 0.125"
    assert pm({"mean": 12.0, "std": None}, 0) == "12"
    assert pm(None) == pm({"mean": None}) == "–"


def test_every_rendering_shows_the_same_cells(compare):
    t = arm_table(compare)
    best = ranking(compare)[0]
    row = t.rows[0]
    assert row[0].value == best and row[2].value == compare["arms"][best]["base"]["mean"]
    final = row[t.columns.index("final")]
    assert final.value == compare["arms"][best]["final"]["mean"]
    for text in (to_text(t), to_markdown(t), to_html(t), format_compare(compare)):
        assert final.text in text and best in text
    assert [x.name for x in comparison_tables(compare)] == ["arms", "phases", "pairwise"]


def test_span_table_has_one_row_per_phase_of_each_seed(compare):
    spans = span_table(compare).values()
    expected = sum(
        len(s["phases"])
        for a in compare["arms"].values()
        if a.get("segmentation")
        for s in a["segmentation"].get("seeds") or [a["segmentation"]]
    )
    assert len(spans) == expected > 0
    assert all(isinstance(r[3], int | float) for r in spans)  # raw numbers for dashboards, not text
