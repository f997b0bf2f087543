"""Issue 23: every failure the first fuzzing found, reproduced from its description. Each ends in one
`error:` line and exit 2, or in a clean result with a note where tolerance applies; `--json` output is
strict JSON; figures draw "no data" rather than fail; reading a run never writes into its logs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.report.conftest import make_experiment

os.environ.setdefault("MPLBACKEND", "Agg")


def _strict(text: str):
    def refuse(name):
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def _one_error(res, code: int = 2) -> str:
    assert "Traceback" not in res.stderr and res.returncode == code, res.stderr
    errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, res.stderr
    return errors[0]


@pytest.fixture
def toy(tmp_path):
    return make_experiment(
        tmp_path, arms=("sft", "chord_phi"), seeds=2, steps=60, eval_every=5, with_probes=False
    )


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _write_rows(path: Path, rows: list) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_odd_cells_in_metrics_jsonl_are_dropped_with_a_count(cli, toy):
    """stages() raised TypeError on a step that is not a number; odd cells are now counted per metric."""
    f = toy / "sft" / "seed0" / "metrics.jsonl"
    rows = _rows(f)
    rows[3]["step"], rows[4]["step"] = "x", [4]
    rows[10]["eval/accuracy"], rows[20]["eval/accuracy"] = "0.5", {"a": 1}
    _write_rows(f, rows)
    res = cli("segment", toy, "-m", "eval/accuracy", "--json", "-")
    assert res.returncode == 0, res.stderr
    assert "2 row(s) without a numeric 'step' were skipped" in res.stderr
    assert "dropped 2 non-numeric cell(s): eval/accuracy (2)" in res.stderr
    assert len(_strict(res.stdout)) == 2


def test_cut_off_trainer_state_names_the_line(cli, tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text('{"log_history": [\n{"step": 1, "loss": 2.0},\n{"step": 2, "lo')
    line = _one_error(cli("segment", f))
    assert str(f) in line and "not valid JSON" in line and "line 3" in line


def test_cut_off_last_line_of_a_live_log_is_a_note(cli, toy):
    f = toy / "sft" / "seed0" / "metrics.jsonl"
    f.write_text(f.read_text() + '{"step": 61, "eval/acc')
    res = cli("segment", toy)
    assert res.returncode == 0 and "skipped a truncated final line (line 62)" in res.stderr


def test_a_broken_line_in_the_middle_is_named(cli, toy):
    f = toy / "sft" / "seed0" / "metrics.jsonl"
    lines = f.read_text().splitlines()
    lines[5] = lines[5][:10]
    f.write_text("\n".join(lines) + "\n")
    res = cli("segment", toy)
    assert res.returncode == 0 and "skipped 1 unreadable line(s) (line 6)" in res.stderr


@pytest.mark.parametrize("where", ["trainer_state", "metrics_line", "experiment_json"])
def test_deep_nesting_is_no_recursion_error(cli, toy, tmp_path, where):
    deep = "[" * 100_000 + "]" * 100_000
    if where == "trainer_state":
        f = tmp_path / "trainer_state.json"
        f.write_text('{"log_history": ' + deep + "}")
        assert "nested too deeply" in _one_error(cli("segment", f))
        return
    if where == "metrics_line":
        f = toy / "sft" / "seed0" / "metrics.jsonl"
        f.write_text(f.read_text() + '{"step": 70, "eval/accuracy": ' + deep + "}\n")
        res = cli("segment", toy)
        assert res.returncode == 0 and "skipped a truncated final line" in res.stderr
        return
    (toy / "experiment.json").write_text('{"config": ' + deep + "}")
    res = cli("compare", toy, "--json", "-")
    assert res.returncode == 0 and "nested too deeply" in res.stderr, res.stderr
    _strict(res.stdout)


def test_huge_integers_in_cells_and_seed_names(cli, toy):
    f = toy / "sft" / "seed0" / "metrics.jsonl"
    rows = _rows(f)
    rows[5]["eval/accuracy"] = 10**400
    rows[7]["step"] = 10**30
    _write_rows(f, rows)
    f.write_text(f.read_text() + '{"step": 99, "eval/accuracy": ' + "9" * 5000 + "}\n")
    (toy / "chord_phi" / "seed1").rename(toy / "chord_phi" / ("seed" + "9" * 40))
    res = cli("segment", toy, "-m", "eval/accuracy", "--json", "-")
    assert res.returncode == 0, res.stderr
    assert (
        "NaN/inf or beyond ±1e150 value(s)" in res.stderr and "skipped a truncated final line" in res.stderr
    )
    _strict(res.stdout)


def test_too_few_seeds_for_the_permutation_test_is_no_test(cli, tmp_path):
    exp = make_experiment(
        tmp_path, arms=("sft", "chord_phi"), seeds=2, steps=60, eval_every=5, with_probes=False
    )
    for f in (exp / "chord_phi" / "seed1").iterdir():
        f.unlink()
    (exp / "chord_phi" / "seed1").rmdir()
    res = cli("compare", exp, "--json", "-")
    assert res.returncode == 0, res.stderr
    pairs = _strict(res.stdout)["pairwise"]
    assert pairs and all(p["n_a"] + p["n_b"] == 3 and p["p_perm"] is None for p in pairs)
    assert all("one seed" in p["caveat"] for p in pairs)


def test_permutation_p_needs_two_values_a_side():
    from phasescope.analysis.compare import permutation_p

    assert permutation_p([0.5], [0.4, 0.6]) == (None, None)
    assert permutation_p([0.5, float("nan")], [0.4, 0.6]) == (None, None)
    p, p_min = permutation_p([0.1, 0.2], [0.8, 0.9])
    assert p == pytest.approx(1 / 3) and p_min == pytest.approx(1 / 3)


def test_all_nan_column(cli, toy):
    f = toy / "sft" / "seed0" / "metrics.jsonl"
    rows = _rows(f)
    for r in rows:
        r["eval/general_accuracy"] = float("nan")
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = cli("compare", toy, "--json", "-", "-m", "eval/general_accuracy")
    assert res.returncode == 0, res.stderr
    _strict(res.stdout)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(config=["a list"]),
        lambda m: m["config"].update(world=["a list"]),
        lambda m: m["config"]["world"].update(n_eval="256"),
        lambda m: m["config"].update(model="m"),
        lambda m: m.update(name=5, versions=[1]),
    ],
)
def test_experiment_json_of_other_types(cli, toy, edit):
    meta = json.loads((toy / "experiment.json").read_text())
    edit(meta)
    (toy / "experiment.json").write_text(json.dumps(meta))
    res = cli("compare", toy, "--json", "-")
    assert res.returncode == 0, res.stderr
    _strict(res.stdout)


@pytest.mark.parametrize("data", [[1, 2], {"eval:x": [64]}, {"eval:x": {"rows": "64"}}, "text"])
def test_data_json_of_other_types(cli, toy, data):
    meta = json.loads((toy / "experiment.json").read_text())
    meta["config"]["model"] = {"model_name_or_path": "/models/m"}
    (toy / "experiment.json").write_text(json.dumps(meta))
    for d in toy.glob("*/seed*"):
        (d / "data.json").write_text(json.dumps(data))
    res = cli("segment", toy, "-m", "eval/accuracy", "--json", "-")
    assert res.returncode == 0, res.stderr
    assert all(r["eval_n"] is None for r in _strict(res.stdout))


def test_segment_json_has_no_nan(cli, tmp_path):
    """A constant curve has undefined statistics: they are null in the JSON, not NaN."""
    f = tmp_path / "log.csv"
    f.write_text("step,loss\n" + "".join(f"{i},0.5\n" for i in range(30)))
    res = cli("segment", f, "-m", "loss", "--json", "-")
    assert res.returncode == 0, res.stderr
    text = json.dumps(_strict(res.stdout))
    assert "NaN" not in res.stdout and "Infinity" not in res.stdout and text


def test_an_unexpected_exception_is_one_line_exit_1(cli, monkeypatch, tmp_path):
    import phasescope.runlog.open as opened

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr(opened, "load_curves", boom)
    line = _one_error(cli("segment", tmp_path), code=1)
    assert "internal error" in line and "--debug" in line


@pytest.mark.parametrize("fill", ["0.5", "NaN"])
def test_report_on_constant_or_missing_values(cli, toy, tmp_path, fill):
    for f in toy.glob("*/seed*/metrics.jsonl"):
        text = f.read_text()
        for key in ("eval/general_accuracy", "eval/expert_nll", "train/mu"):
            rows = [json.loads(x) for x in text.splitlines()]
            for r in rows:
                if key in r:
                    r[key] = float(fill)
            text = "".join(json.dumps(r) + "\n" for r in rows)
        f.write_text(text)
    res = cli("report", toy, "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "report.html").is_file()


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "analysis" not in p.relative_to(root).parts
    }


def test_reading_a_run_never_writes_into_it(cli, tmp_path):
    """segment, compare, report and watch read a run directory; only analysis/ may change."""
    exp = make_experiment(tmp_path, arms=("sft", "chord_phi"), seeds=2, steps=60, eval_every=5)
    before = _digest(exp)
    for argv in (
        ["segment", exp],
        ["segment", exp, "-m", "eval/accuracy", "--json", "-"],
        ["compare", exp],
        ["compare", exp, "--json", "-"],
        ["report", exp],
        ["watch", exp, "-m", "eval/accuracy", "--until-idle", "0.2", "--poll", "0.1"],
    ):
        assert cli(*argv).returncode == 0
    assert _digest(exp) == before
    written = {p.relative_to(exp).parts[0] for p in exp.rglob("*") if p.is_file()} - {"sft", "chord_phi"}
    assert written == {"experiment.json", "analysis"}


@pytest.mark.parametrize("vals", [np.full((2, 5), np.nan), np.zeros((1, 0)), np.full((3, 5), 0.5)])
def test_a_panel_with_nothing_to_draw_says_no_data(vals):
    import matplotlib.pyplot as plt

    from phasescope.report.plots import _mean_band

    fig, ax = plt.subplots()
    _mean_band(ax, np.arange(vals.shape[1]), vals, {"color": "k", "ls": "-", "label": "a"})
    fig.canvas.draw()  # the axis scaling runs here: it must not fail on a constant series either
    texts = [t.get_text() for t in ax.texts]
    assert texts == (["no data"] if not np.isfinite(vals).any() else [])
    plt.close(fig)
