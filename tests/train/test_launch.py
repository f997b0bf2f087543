"""The entry points run the preflight first: `phasescope check`, `phasescope run` (a bad model path
exits 2 in seconds, before any arm starts or anything is written) and the launcher (only its arm;
no second copy of an arm's steps without --resume or --overwrite)."""

import json
import os
import subprocess
import sys
import time

from phasescope.cli import main
from tests.fixtures.real_run import REPO, real_overrides

EXPERIMENT = REPO / "experiments" / "qwen2.5-0.5b-math-1gpu.toml"


def _cli(args, capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _sets(overrides: list[str]) -> list[str]:
    return [x for s in overrides for x in ("--set", s)]


def test_check_on_a_good_config_exits_0_and_prints_the_summary(tiny_model_dir, tmp_path, capsys):
    # The tiny set's expert traces (about 130 tokens) are cut to the 12-token cap: no note is left.
    sets = _sets([*real_overrides(tiny_model_dir, tmp_path), "data.max_expert_tokens=12"])
    code, out, err = _cli(["check", EXPERIMENT, *sets], capsys)
    assert code == 0 and err == "", err
    assert "data.max_expert_tokens = 12 truncates 8 responses" in out
    assert "Qwen2ForCausalLM, 2 layers" in out and "eval:math_tiny_eval" in out
    assert "overlaps    rl_prompts∩expert 0, eval:math_tiny_eval∩expert 0" in out
    assert out.rstrip().endswith("0 errors, 0 notes: ready to run")
    assert not (tmp_path / "qwen2.5-0.5b-math").exists()  # check writes nothing
    code, out, err = _cli(["check", EXPERIMENT, *sets, "--set", 'model.model_name_or_path="./nope"'], capsys)
    assert code == 2 and "0 errors" not in out and "1 error, 0 notes: not ready" in out
    assert [x for x in err.splitlines() if x.startswith("error:")] == [
        x for x in err.splitlines() if x.strip()
    ]  # one line per error, nothing else


def test_run_with_a_missing_model_path_exits_2_in_seconds_before_any_arm(tiny_model_dir, tmp_path):
    sets = _sets([*real_overrides(tiny_model_dir, tmp_path / "runs"), 'model.model_name_or_path="./nope"'])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "phasescope.cli", "run", str(EXPERIMENT), *sets],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    seconds = time.perf_counter() - t0
    assert res.returncode == 2, res.stderr[-2000:]
    assert seconds < 30  # interpreter start and imports; the check itself is instant (see test_preflight)
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("error: model.model_name_or_path './nope' does not exist")
    assert not (tmp_path / "runs").exists()  # no run directory, no experiment.json, no worker


def test_launcher_refuses_an_arm_dir_with_steps_unless_resume_or_overwrite(tiny_model_dir, tmp_path, capsys):
    arm = tmp_path / "qwen2.5-0.5b-math" / "chord_phi" / "seed0"
    arm.mkdir(parents=True)
    (arm / "metrics.jsonl").write_text(json.dumps({"step": 0, "eval/accuracy": 0.1}) + "\n")
    # sft_then_rl's settings are invalid here (sft_steps ≥ steps): launching chord_phi must not mind.
    sets = _sets([*real_overrides(tiny_model_dir, tmp_path), "arms.sft_then_rl.sft_steps=50"])
    code, _, err = _cli(["launch", EXPERIMENT, "--arm", "chord_phi", *sets], capsys)
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert (
        line
        == f"error: {arm} already has logged steps; continue it with --resume, replace it with --overwrite, or choose another --seed/--name"
    )
    code, _, err = _cli(
        ["launch", EXPERIMENT, "--arm", "chord_phi", "--resume", "--overwrite", *sets], capsys
    )
    assert code == 2 and "pass one of them" in err
    code, _, err = _cli(["launch", EXPERIMENT, "--arm", "nope", *sets], capsys)
    assert code == 2 and "unknown arm 'nope'" in err


def test_launcher_checks_its_arm_before_any_process_group(tiny_model_dir, tmp_path, capsys):
    sets = _sets([*real_overrides(tiny_model_dir, tmp_path), 'data.rl_prompts=""'])
    code, _, err = _cli(["launch", EXPERIMENT, "--arm", "rl", *sets], capsys)
    assert code == 2 and "use RL rollouts but data.rl_prompts is empty" in err
    assert not (tmp_path / "qwen2.5-0.5b-math").exists()


def test_duplicate_step_note_counts_steps_not_values(tmp_path):
    from phasescope.analysis import load_curves

    arm = tmp_path / "sft" / "seed0"
    arm.mkdir(parents=True)
    rows = [{"step": s, **{f"eval/m{k}": 0.1 * s for k in range(20)}} for s in range(6)]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (arm / "metrics.jsonl").write_text(text + text)  # a finished arm relaunched without --resume
    _, notes = load_curves(tmp_path)
    (note,) = [n for n in notes if "duplicated step" in n]
    assert note.startswith("6 duplicated step(s) in sft (6)")


def test_launch_trains_its_arm_once_and_refuses_a_second_copy(tiny_model_dir, tmp_path, capsys):
    """One process (no accelerate launch needed): the arm trains; relaunching it is refused (exit 2),
    so metrics.jsonl never gets a second copy of its steps."""
    sets = _sets([*real_overrides(tiny_model_dir, tmp_path), "data.max_expert_tokens=12"])
    code, _, err = _cli(["launch", EXPERIMENT, "--arm", "sft", *sets], capsys)
    assert code == 0, err[-2000:]
    exp = tmp_path / "qwen2.5-0.5b-math"
    metrics = exp / "sft" / "seed0" / "metrics.jsonl"
    steps = [json.loads(x)["step"] for x in metrics.read_text().splitlines()]
    assert steps == [0, 1, 2]
    meta = json.loads((exp / "experiment.json").read_text())
    assert list(meta["arms"]) == ["sft"] and meta["config"]["experiment"]["arms"] == ["sft"]
    data = json.loads((exp / "sft" / "seed0" / "data.json").read_text())
    assert data["expert_limit"]["truncated"] == 8  # all 8 traces (about 130 tokens) cut to 12
    code, _, err = _cli(["launch", EXPERIMENT, "--arm", "sft", *sets], capsys)
    assert code == 2 and "already has logged steps" in err
    assert [json.loads(x)["step"] for x in metrics.read_text().splitlines()] == steps


def test_the_launch_module_takes_the_cli_options_and_gives_its_one_line_errors(
    tiny_model_dir, tmp_path, capsys
):
    """`python -m phasescope.train.launch` (what the accelerate configs run) parses the options of
    `phasescope launch` itself (the library never imports the CLI) and refuses as the CLI does."""
    from phasescope.train.launch import main as launch_main

    def wrapper(args) -> tuple[int, str]:
        try:
            launch_main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, capsys.readouterr().err

    sets = _sets([*real_overrides(tiny_model_dir, tmp_path), 'data.rl_prompts=""'])
    for args in (["--arm", "nope", *sets], ["--arm", "rl", *sets]):
        assert wrapper([EXPERIMENT, *args]) == _cli(["launch", EXPERIMENT, *args], capsys)[::2]
    code, err = wrapper([EXPERIMENT, "--arm", "rl", *sets])
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith("error:") and "data.rl_prompts is empty" in line
    code, err = wrapper([EXPERIMENT, "--seed", "x"])  # no --arm, a bad --seed: argparse's usage error
    assert code == 2 and "--arm" in err and "Traceback" not in err
    assert not (tmp_path / "qwen2.5-0.5b-math").exists()
