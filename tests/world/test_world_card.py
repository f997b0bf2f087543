"""benchmarks/world_card.py writes its tables into a doc, stamped with where the numbers come from
(the run's commit, package versions and CPU model), over (world draw, seed) replicates; its
comparison rows read the project's paired, Holm-corrected comparison, each row says whether it is a
selection criterion of the world, and the overfit row says on which metric it shows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from phasescope.runlog.experiment import arm_dir, cpu_model
from phasescope.runlog.problems import ProblemsWriter

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
    comparison = card.analyses(tmp_path)[card.ACC].comparison
    table = card.arm_table(comparison)
    sft = next(line for line in table if line.startswith("| sft |"))
    # draw means 0.61 and 0.51: sd between draws 0.0707
    assert "| 4 |" in sft and "w0 0.610, w1 0.510" in sft and "| 0.071 |" in sft
    assert "one draw" not in sft and "w0 0.400, w1 0.450" in next(r for r in table if r.startswith("| rl |"))
    # rl: draw means 0.40 and 0.45, sd 0.035; the line of its own names every arm's
    assert card.worlds_line(comparison) == (
        "Between world draws (2 draws; sd of each arm's per-world mean final accuracy): rl 0.035, sft 0.071."
    )


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


# Per-problem experiments: at an evaluation of accuracy a, problems 0 .. a·n − 1 are right, so two arms
# differ on exactly the problems between their accuracies and their paired difference is known.
N = 200
STEPS = (0, 25, 50, 75)
CURVES = {
    # arm: (eval/accuracy, eval/general_accuracy, eval/expert_nll) per evaluation
    "sft": ((0.35, 0.10, 0.70, 0.66), (0.46, 0.40, 0.30, 0.20), (1.0, 0.8, 0.9, 1.2)),
    "rl": ((0.35, 0.40, 0.42, 0.44), (0.46,) * 4, (1.0,) * 4),
    # runs one evaluation longer: level with rl at the matched budget (75 updates), far ahead at its end
    "sft_then_rl": ((0.35, 0.10, 0.44, 0.44, 0.80), (0.46, 0.40, 0.30, 0.25, 0.20), (1.0,) * 5),
    # two problems ahead of rl: within the eval set's noise
    "chord_phi": ((0.35, 0.40, 0.43, 0.45), (0.46,) * 4, (1.0,) * 4),
}


def _bits(rate: float) -> list[bool]:
    k = round(rate * N)
    return [i < k for i in range(N)]


def _problem_experiment(root: Path, curves: dict = CURVES, keys: tuple = ((0, 0), (0, 1), (0, 2))) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = {"experiment": {"name": "card", "arms": list(curves)}, "world": {"n_eval": N}, "model": {}}
    (root / "experiment.json").write_text(json.dumps({"name": "card", "config": config}))
    for arm, (acc, gen, nll) in curves.items():
        for world, seed in keys:
            out = arm_dir(root, arm, seed, world)
            out.mkdir(parents=True)
            writer, rows = ProblemsWriter(out), []
            for i, (a, g, x) in enumerate(zip(acc, gen, nll, strict=True)):
                step = 25 * i
                # each world draw has its own eval sets
                writer.write(step, "eval", [f"w{world}-e{j:03d}" for j in range(N)], _bits(a))
                writer.write(step, "general", [f"w{world}-g{j:03d}" for j in range(N)], _bits(g))
                row = {"step": step, "budget/updates": step, "eval/accuracy": round(a * N) / N}
                rows.append(row | {"eval/general_accuracy": round(g * N) / N, "eval/expert_nll": x})
            writer.close()
            (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def problem_card(card, tmp_path_factory):
    exp = _problem_experiment(tmp_path_factory.mktemp("card") / "exp")
    runs, found = card.load(exp), card.analyses(exp)
    return card.card(runs, found), found


def _row(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(f"| {start}"))


def test_a_comparison_is_reproduced_only_when_the_holm_interval_excludes_0(problem_card):
    lines, found = problem_card
    # the paired bootstrap was the test (per-problem results on both sides), over 3 seeds x 200 problems
    pairs = found["eval/accuracy"].comparison["pairwise"]
    assert {p["test"] for p in pairs} == {"paired hierarchical bootstrap (seeds x problems)"}
    # sft_then_rl − rl: 0 at the matched budget (75 updates: both 0.44), +0.36 at the ends
    row = _row(lines, "SFT-then-RL beats RL")
    assert "matched budget: +0.000, paired 95% [+0.000, +0.000]" in row and "end: +0.360" in row
    assert row.endswith("| matched budget: **no**; end: yes |") and "| independent result |" in row
    assert "Test: paired hierarchical bootstrap (seeds x problems)" in row
    # chord_phi − rl: +0.01 (two problems), inside the noise: never reproduced
    row = _row(lines, "CHORD-φ beats RL")
    assert "end: +0.010" in row and row.endswith("| matched budget: **no**; end: **no** |")
    # the wrong direction is no reproduction either, however clear: chord_phi is 0.35 behind at the end
    row = _row(lines, "CHORD-φ beats SFT-then-RL")
    assert "end: -0.350" in row and row.endswith("end: **no** (sft_then_rl better) |")
    # the general skill: chord_phi keeps 0.46, sft_then_rl ends at 0.20 (0.25 at the matched budget)
    row = _row(lines, "CHORD-φ keeps the general skill better than sft_then_rl")
    assert "matched budget: +0.210" in row and "end: +0.260" in row
    assert row.endswith("| matched budget: yes; end: yes |")


def test_the_verdict_follows_the_holm_interval_not_the_uncorrected_one(card, problem_card):
    _, found = problem_card
    p = card.pair(found["eval/accuracy"].comparison, "sft_then_rl", "rl", "final")
    assert card.pair_cell(p, "end")[1]
    # a pair whose uncorrected interval excludes 0 but whose Holm interval does not is not reproduced
    p = {**p, "diff": 0.05, "ci": [0.01, 0.09], "ci_paired": [0.01, 0.09], "ci_holm": [-0.01, 0.11]}
    assert card.pair_cell(p, "end")[1] is False
    # turned round (b − a), every interval flips and P(a > b) becomes 1 − P
    q = card.pair(found["eval/accuracy"].comparison, "rl", "sft_then_rl", "final")
    assert q["diff"] == pytest.approx(-0.36) and q["ci_holm"][1] < 0
    assert q["prob_improvement"] == pytest.approx(
        1 - card.pair(found["eval/accuracy"].comparison, "sft_then_rl", "rl", "final")["prob_improvement"]
    )


def test_each_row_says_whether_it_was_a_selection_criterion(problem_card):
    lines, _ = problem_card
    for start in ("SFT shifts", "SFT readapts", "SFT overfits", "SFT costs the general skill", "RL alone"):
        assert "| selection criterion |" in _row(lines, start)
    compared = [line for line in lines if "beats" in line or "keeps the general skill" in line]
    assert len(compared) == 4 and all("| independent result |" in line for line in compared)
    # arms the experiment lacks (sft_light_then_rl, chord_mu) give no rows
    assert not any("SFT-light" in line or "CHORD-μ" in line for line in lines)


def test_the_overfit_row_names_its_metric_and_the_eval_sets_noise(card, problem_card):
    lines, _ = problem_card
    row = _row(lines, "SFT overfits")
    # NLL 0.8 -> 1.2: +50%; accuracy 0.70 -> 0.66: a fall of 0.04 within 1.96·√2·√(0.7·0.3/200) = 0.090
    assert "eval/expert_nll rise 50% ± 0% (≥ 20% in 3/3)" in row
    assert "fall 0.040 ± 0.000 (≥ 0.05 in 0/3)" in row and "1.96·√2·se = 0.090" in row
    assert "exceeds it in 0/3 replicates" in row
    assert row.endswith("| yes, on eval/expert_nll; not on eval/accuracy (within noise) |")
    # a fall of 0.06 passes the 0.05 rule yet stays within the noise; 0.25 exceeds it
    m = {"best": 0.70, "nll_rise": 0.5}
    assert card.overfit_row([m | {"fall": 0.06}] * 2, N).endswith("not on eval/accuracy (within noise) |")
    big = card.overfit_row([m | {"fall": 0.25}] * 2, N)
    assert "exceeds it in 2/2" in big and big.endswith("| yes, on eval/expert_nll and eval/accuracy |")
    # no NLL rise, no fall beyond the noise: no overfit; no eval-set size: the noise is said to be unknown
    assert card.overfit_row([m | {"fall": 0.06, "nll_rise": 0.1}] * 2, N).endswith("| no |")
    assert "eval-set size unknown" in card.overfit_row([m | {"fall": 0.06}] * 2, None)


def test_world_draws_are_replicates_and_any_arm_present_is_listed(card, tmp_path):
    # an arm the card has no finding for (luffy) is still in the per-arm table; its runs live in
    # <arm>/seed<k> (draw 0) and <arm>/world<w>-seed<k>
    curves = {"rl": CURVES["rl"], "sft_then_rl": CURVES["sft_then_rl"], "luffy": CURVES["chord_phi"]}
    exp = _problem_experiment(tmp_path / "exp", curves, keys=((0, 0), (0, 1), (1, 0), (1, 1)))
    assert (exp / "luffy" / "world1-seed1" / "problems.jsonl").is_file()
    runs, found = card.load(exp), card.analyses(exp)
    comparison = found[card.ACC].comparison
    assert {p["test"] for p in comparison["pairwise"]} == {
        "paired hierarchical bootstrap ((world, seed) x problems)"
    }
    luffy = _row(card.arm_table(comparison), "luffy |")
    assert luffy.startswith("| luffy | 4 | 0.450 ± 0.000 |") and "w0 0.450, w1 0.450" in luffy
    assert card.worlds_line(comparison).startswith("Between world draws (2 draws;")
    lines = card.card(runs, found)
    row = _row(lines, "SFT-then-RL beats RL")
    assert "Test: paired hierarchical bootstrap ((world, seed) x problems)" in row
    assert row.endswith("| matched budget: **no**; end: yes |")
    # no sft arm: no SFT rows; no chord arms: no CHORD rows
    assert not any(line.startswith("| SFT ") or "CHORD" in line for line in lines)


def test_a_log_without_per_problem_results_names_the_test_over_seeds(card, tmp_path):
    exp = _experiment(tmp_path)
    row = _row(card.card(card.load(exp), card.analyses(exp)), "RL alone plateaus")
    # sft (4 replicates) against rl (2): no problems.jsonl, so Welch over seeds
    assert "best expert arm (sft) − RL end: +0.135, 95% [" in row and "paired" not in row


def test_each_family_of_arms_is_its_own_holm_family(card, tmp_path):
    # CHORD-φ's controls and the other mixes are tested apart from the paper's arms: adding arms to an
    # experiment does not change the paper family's correction
    curves = {**CURVES, "sft_scaled": CURVES["rl"], "luffy": CURVES["sft_then_rl"]}
    exp = _problem_experiment(tmp_path / "exp", curves)
    families = card.family_analyses(exp, set(curves))
    arms = {name: set(f[card.ACC].comparison["arms"]) for name, f in families.items()}
    assert arms == {
        "paper": {"sft", "rl", "sft_then_rl", "chord_phi"},
        "phi_controls": {"rl", "chord_phi", "sft_scaled"},
        "mixes": {"rl", "sft_then_rl", "luffy"},
    }
    tests = {name: f[card.ACC].comparison["multiplicity"]["m"] for name, f in families.items()}
    assert tests == {"paper": 6 * 3, "phi_controls": 3 * 3, "mixes": 3 * 3}  # pairs × final, peak, matched
    controls = card.family_table(families["phi_controls"], card.PHI_COMPARISONS)
    assert "Holm over the 9 tests" in controls[0]
    row = _row(controls, "φ's token shape beats a flat weight")
    assert "chord_phi − sft_scaled: matched budget: +0.010" in row  # two problems: within the noise
    assert row.endswith("| matched budget: **no**; end: **no** |")
    mixes = card.family_table(families["mixes"], card.MIX_COMPARISONS)
    row = _row(mixes, "LUFFY beats RL")
    assert "end: +0.360" in row and row.endswith("| matched budget: **no**; end: yes |")
    assert not any("SRFT" in line for line in mixes)  # an arm the experiment lacks gives no row
    table = card.arm_table(*(f[card.ACC].comparison for f in families.values()))
    assert sum(line.startswith("| rl |") for line in table) == 1 and len(table) == 2 + 6
