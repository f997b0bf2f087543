"""The report's ranking at matched budget, on an experiment whose curves are known in closed form.

Three arms, two seeds (seed 1 = seed 0 + 0.002), evaluations every 5 steps, budgets on every row:

    sft       0.4 -> 0.8 linearly over steps 0-20, then flat; 100 steps, 64 samples per update
    chord_mu  0.4 -> 0.7 linearly over steps 0-50, then flat; 150 steps, 32 samples per update
    rl        0.4 -> 0.9 linearly over 200 steps (planted still rising); 16 samples per update

On budget/updates the matched budget is 100 (sft's end): at 25/50/75/100% of it sft > chord_mu > rl
(sft 0.8; chord_mu 0.55, 0.7, 0.7, 0.7; rl 0.4625, 0.525, 0.5875, 0.65); at each arm's own end
rl 0.9 > sft 0.8 > chord_mu 0.7. On budget/samples it is 3200 (rl's end, step 200): at 100% rl
(0.9) > sft (step 50: 0.8) > chord_mu (step 100: 0.7); at 25% = 800 samples sft (step 10: 0.6) >
chord_mu (step 25: 0.55) > rl (step 50: 0.525).
"""

from __future__ import annotations

import html
import json
import re

import pytest

from phasescope.errors import UsageError
from phasescope.report import build_report
from phasescope.report.matched import axis_name, matched_table

from .conftest import one_line_error

PLAN = {  # arm: (steps, samples per update, value at step s)
    "sft": (100, 64, lambda s: 0.4 + 0.4 * min(s / 20, 1)),
    "chord_mu": (150, 32, lambda s: 0.4 + 0.3 * min(s / 50, 1)),
    "rl": (200, 16, lambda s: 0.4 + 0.5 * s / 200),
}


@pytest.fixture(scope="module")
def budget_exp(tmp_path_factory):
    exp = tmp_path_factory.mktemp("budget") / "budgets"
    exp.mkdir()
    cfg = {"experiment": {"name": "budgets", "arms": list(PLAN), "seeds": 2}, "world": {"n_eval": 256}}
    (exp / "experiment.json").write_text(json.dumps({"name": "budgets", "config": cfg, "seeds": [0, 1]}))
    for arm, (steps, per, value) in PLAN.items():
        for seed in (0, 1):
            run = exp / arm / f"seed{seed}"
            run.mkdir(parents=True)
            rows = [
                {"step": s, "budget/updates": s, "budget/samples": per * s, "budget/tokens": 10 * per * s,
                 "eval/accuracy": value(s) + 0.002 * seed}
                for s in range(0, steps + 1, 5)
            ]  # fmt: skip
            (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


def ranking_rows(page: str) -> dict[str, list[str]]:
    """'25%' ... '100%', "each arm's own end" -> the arm names of that row, best first."""
    table = page[page.index("Ranking at matched budget") :]
    table = table[: table.index("</table>")]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]:
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out[cells[0]] = [c.split()[0] for c in cells[2:] if c.strip() not in ("", "–")]
    return out


@pytest.fixture(scope="module")
def updates_report(budget_exp, tmp_path_factory):
    return build_report(budget_exp, tmp_path_factory.mktemp("rep-updates"), "eval/accuracy")


def test_report_ranks_arms_at_each_fraction_of_the_matched_budget(updates_report):
    page = updates_report.html.read_text()
    assert "budget/updates = 100, the largest every arm reached" in page
    rows = ranking_rows(page)
    for f in ("25%", "50%", "75%", "100%"):
        assert rows[f] == ["sft", "chord_mu", "rl"], f
    assert rows["each arm's own end"] == ["rl", "sft", "chord_mu"]
    assert "chord_mu 0.551" in page and "rl 0.651" in page  # 25% and 100%: the means of the two seeds
    assert "matched" in updates_report.figures and updates_report.figures["matched"].is_file()
    md = updates_report.markdown.read_text()
    assert "Ranking at matched budget" in md and "rl: still rising: its rank is budget-limited" in md


def test_the_arm_planted_as_still_rising_is_flagged_and_no_other(updates_report):
    page = updates_report.html.read_text()
    assert "rl: still rising: its rank is budget-limited" in page
    assert "rl 0.901 at 200 (still rising)" in page
    assert "sft: still rising" not in page and "chord_mu: still rising" not in page


def test_budget_axis_samples_changes_the_axis_and_the_ranking(budget_exp, tmp_path, cli):
    proc = cli(
        "report", budget_exp, "--out", tmp_path / "s", "--budget-axis", "samples", "-m", "eval/accuracy"
    )
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "s" / "report.html").read_text()
    assert "budget/samples = 3,200, the largest every arm reached" in page
    assert "budget/updates =" not in page
    rows = ranking_rows(page)
    assert rows["100%"] == ["rl", "sft", "chord_mu"]
    assert rows["25%"] == ["sft", "chord_mu", "rl"]
    data = json.loads((tmp_path / "s" / "eval-accuracy" / "compare.json").read_text())
    assert data["budget_axis"] == "budget/samples" and data["matched_budget"] == 3200


def test_compare_takes_the_short_axis_name(budget_exp, cli):
    proc = cli("compare", budget_exp, "--budget-axis", "tokens", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["budget_axis"] == "budget/tokens" and data["matched_budget"] == 32000  # rl: 10*16*200


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_bad_budget_axis_is_one_line_exit_2(budget_exp, cli, command):
    proc = cli(command, budget_exp, "--budget-axis", "flops")
    assert proc.returncode == 2
    assert "--budget-axis must be one of updates, samples, tokens, selection, step" in one_line_error(
        proc, (2,)
    )


def test_axis_names():
    assert axis_name("updates") == axis_name("budget/updates") == "budget/updates"
    assert axis_name("step") == "step" and axis_name(None) is None
    with pytest.raises(UsageError):
        axis_name("budget/flops")


def test_a_comparison_without_budgets_has_no_table():
    assert matched_table({"metric": "m", "direction": "higher", "arms": {}}) is None


def test_replicates_ending_at_different_budgets_meet_on_the_budgets_all_reached(tmp_path):
    # Seed 0 spends 2 budget units per step, seed 1 one (as when a two-stage arm's seeds switch at
    # different steps); value = budget / 100 on both, so the interpolated mean is exact.
    from phasescope.analysis import open_experiment
    from phasescope.analysis.curves import curves_for
    from phasescope.report.matched import _arm_curve

    for seed, per in ((0, 2), (1, 1)):
        run = tmp_path / "e" / "rl" / f"seed{seed}"
        run.mkdir(parents=True)
        rows = [
            {"step": s, "budget/updates": per * s, "eval/accuracy": per * s / 100} for s in range(0, 31, 5)
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    frame = open_experiment(tmp_path / "e").frame
    (curve,) = curves_for(frame, "eval/accuracy")[0]
    grid, values = _arm_curve(frame, curve, "budget/updates")
    assert grid.tolist() == [0, 5, 10, 15, 20, 25, 30]  # seed 1 ends at 30; seed 0 reaches 60
    assert values.shape == (2, 7)
    assert values[0].tolist() == pytest.approx(grid / 100) and values[1].tolist() == pytest.approx(grid / 100)
