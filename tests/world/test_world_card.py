"""benchmarks/world_card.py writes its tables into a doc, stamped with where the numbers come from
(the run's commit, package versions and CPU model), over (world draw, seed) replicates."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from phasescope.runlog.experiment import arm_dir, cpu_model

CARD = Path(__file__).resolve().parents[2] / "benchmarks" / "world_card.py"


@pytest.fixture(scope="module")
def card():
    spec = importlib.util.spec_from_file_location("world_card", CARD)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _experiment(root: Path) -> Path:
    record = {
        "git_commit": "0123456789abcdef",
        "started": "2026-12-03T12:00:00+00:00",
        "versions": {"python": "3.11.7", "torch": "9.9.9", "transformers": "8.8.8", "trl": "7.7.7"},
        "host": {"platform": "Linux", "cpus": 2, "cpu": "Test CPU 3000"},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "experiment.json").write_text(json.dumps(record))
    finals = {
        "sft": {(0, 0): 0.60, (0, 1): 0.62, (1, 0): 0.50, (1, 1): 0.52},
        "rl": {(0, 0): 0.40, (1, 0): 0.45},
    }
    for arm, reps in finals.items():
        for (world, seed), end in reps.items():
            out = arm_dir(root, arm, seed, world)
            out.mkdir(parents=True)
            accs = [0.35, 0.10, 0.70, end]
            rows = [
                {
                    "step": 25 * i,
                    "eval/accuracy": a,
                    "eval/general_accuracy": 0.46 - 0.05 * i,
                    "eval/expert_nll": 1.0,
                }
                for i, a in enumerate(accs)
            ]
            (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_the_card_reads_world_draws_and_their_spread(card, tmp_path):
    runs = card.load(_experiment(tmp_path))
    assert sorted(runs["sft"]) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    table = card.arm_table(runs)
    sft = next(line for line in table if line.startswith("| sft |"))
    # draw means 0.61 and 0.51: sd between draws 0.0707
    assert "| 4 |" in sft and "w0 0.610, w1 0.510" in sft and "| 0.071 |" in sft
    assert "one draw" not in sft and "w0 0.400, w1 0.450" in next(r for r in table if r.startswith("| rl |"))


def test_write_stamps_the_section_and_replaces_it_on_a_rerun(card, tmp_path):
    exp = _experiment(tmp_path / "exp")
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nkept text\n")
    assert card.main([str(exp), "--write", str(doc)]) == 0
    first = doc.read_text()
    stamp = next(line for line in first.splitlines() if line.startswith("Run at commit"))
    for part in (
        "`0123456789`",
        "torch 9.9.9",
        "transformers 8.8.8",
        "trl 7.7.7",
        "CPU: Test CPU 3000, 2 cores",
    ):
        assert part in stamp
    assert "numpy " in stamp and "phasescope " in stamp  # not in the record: this machine's versions
    assert "kept text" in first and first.count(card.BEGIN) == 1 and "| sft | 4 |" in first
    assert card.main([str(exp), "--write", str(doc)]) == 0
    assert doc.read_text().count(card.BEGIN) == 1 and doc.read_text().count("kept text") == 1


def test_a_record_without_a_cpu_names_this_machines(card, tmp_path):
    exp = _experiment(tmp_path)
    record = json.loads((exp / "experiment.json").read_text())
    del record["host"]["cpu"]
    (exp / "experiment.json").write_text(json.dumps(record))
    assert card.stamp(exp)["cpu"].startswith(cpu_model()) and "this machine" in card.stamp(exp)["cpu"]


def test_cpu_model_reads_proc_cpuinfo():
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        pytest.skip("no /proc/cpuinfo")
    names = [
        ln.split(":", 1)[1].strip() for ln in info.read_text().splitlines() if ln.startswith("model name")
    ]
    assert cpu_model() == (names[0] if names else cpu_model())


def test_machine_diff_finds_where_two_runs_part_and_stamps_its_section(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(CARD.parent))  # machine_diff imports world_card as a sibling script
    spec = importlib.util.spec_from_file_location("machine_diff", CARD.parent / "machine_diff.py")
    diff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diff)
    runs = []
    for name, late in (("a", 0.5), ("b", 0.25)):
        exp = _experiment(tmp_path / name)
        run = arm_dir(exp, "chord_mu", 0)
        run.mkdir(parents=True)
        rows = [
            {"step": 0, "stage": "mixed", "eval/accuracy": 0.35, "time/step_s": 1.0 if name == "a" else 2.0},
            {"step": 1, "stage": "mixed", "train/loss": 0.3, "rollout/reward_mean": 0.5},
            {
                "step": 2,
                "stage": "mixed",
                "train/loss": 0.3 if name == "a" else 0.303,
                "rollout/reward_mean": 0.5,
            },
            {
                "step": 3,
                "stage": "mixed",
                "train/loss": 0.2,
                "rollout/reward_mean": late,
                "eval/accuracy": late,
            },
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        runs.append(exp)
    lines = diff.table(runs)
    mu = next(line for line in lines if line.startswith("| chord_mu |"))
    # timings never count; the loss parts at step 2 (by 1%), the sampled reward and accuracy at step 3
    assert mu == "| chord_mu | 0.500 / 0.250 | 2 | 1.0e-02 | 3 | 3 |"
    # identical curves (seed 0 of world draw 0 is read): nothing parts
    assert "| sft | 0.600 / 0.600 | never | - (no SFT term) | never | never |" in lines
    doc = tmp_path / "results.md"
    assert diff.main([str(r) for r in runs] + ["--write", str(doc)]) == 0
    text = doc.read_text()
    assert "<!-- machine-diff: begin" in text and "CPU: Test CPU 3000" in text and "| chord_mu |" in text
