"""The preflight (`phasescope check`): a tiny local model and local JSONL data, as a user with offline
copies would have them; every data problem is an error or a note with its count, and nothing heavy runs."""

import json
import shutil
import time

import pytest

from phasescope.config import load_config
from phasescope.preflight import check_command, preflight
from phasescope.preflight.model import looks_like_path
from tests.fixtures.real_run import REPO

ONE_GPU = REPO / "experiments" / "qwen2.5-0.5b-math-1gpu.toml"
PAPER = REPO / "experiments" / "chord-paper-qwen2.5-7b.toml"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets.config
    import huggingface_hub.constants

    # The session's tiny model imported these before the variable was set: tell them too.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def openr1_rows(n, start=0, answer_every=1, words=5):
    """OpenR1-Math-like rows: problem, answer, generations (a list of R1 traces); `words` sets trace length."""
    rows = []
    for i in range(start, start + n):
        trace = f"<think>{' step' * words}</think> The answer is \\boxed{{{i}}}."
        row = {"problem": f"Problem number {i}: what is {i} + 0?", "generations": [trace], "solution": trace}
        if i % answer_every == 0:
            row["answer"] = str(i)
        rows.append(row)
    return rows


def math500_rows(ids):
    return [
        {"problem": f"Problem number {i}: what is {i} + 0?", "answer": str(i), "solution": f"\\boxed{{{i}}}"}
        for i in ids
    ]


def overrides(model, expert, rl, evals, **more):
    sets = [
        f'model.model_name_or_path="{model}"',
        f'data.expert="{expert}"',
        f'data.rl_prompts="{rl}"',
        "data.eval=[" + ",".join(f'"{e}"' for e in evals) + "]",
        "data.response_field=generations.0",
        "train.eval_early_every=0",
    ]
    return sets + [f"{k.replace('__', '.')}={v}" for k, v in more.items()]


@pytest.fixture
def good(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "openr1.jsonl", openr1_rows(60))
    ev = write_jsonl(tmp_path / "math500.jsonl", math500_rows(range(100, 108)))
    return overrides(
        tiny_model_dir,
        data,
        data,
        [ev],
        data__n_expert=20,
        train__max_steps=10,
        train__eval_steps=5,
        arms__sft_then_rl__sft_steps=5,
    )


def test_good_config_has_no_errors_and_a_summary(good, capsys):
    assert check_command(str(ONE_GPU), good) == 0
    out, err = capsys.readouterr()
    assert err == ""  # no notes
    assert "Qwen2ForCausalLM, 2 layers" in out and "chat template: yes" in out
    assert "expert: " in out and "20 used" in out and "rl_prompts: " in out
    assert "20 left to the expert subset; 40 used" in out
    assert "evaluations at step 0, every 5, step 10: 3 per run" in out
    assert "3 × 8 answers = 24 generated per run" in out and "5 runs: 120" in out
    assert "0 errors, 0 notes: ready to run" in out


def test_missing_model_path_is_named_within_seconds(tmp_path, good, capsys, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("a path went to the hub")
    )
    missing = tmp_path / "models" / "qwen2.5-0.5b"
    t0 = time.perf_counter()
    code = check_command(str(ONE_GPU), [*good, f'model.model_name_or_path="{missing}"'])
    assert code == 2 and time.perf_counter() - t0 < 5
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and f"'{missing}' does not exist" in errors[0]
    assert f"nearest existing folder is {tmp_path}" in errors[0]


@pytest.mark.parametrize(
    "text, is_path",
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", False),
        ("gpt2", False),
        ("./qwen", True),
        ("../m/q", True),
        ("/models/q", True),
        ("~/models/q", True),
        ("models/qwen/v2", True),
    ],
)
def test_what_looks_like_a_path(text, is_path):
    assert looks_like_path(text) is is_path


def test_relative_typo_under_an_existing_folder_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not looks_like_path("models/qwen")
    (tmp_path / "models").mkdir()
    assert looks_like_path("models/qwen")  # one slash, but ./models exists: a typo, not a hub id


def test_hub_id_offline_says_how_to_point_at_a_local_copy(good):
    cfg = load_config(ONE_GPU, [*good, 'model.model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct"'])
    t0 = time.perf_counter()
    rep = preflight(cfg)
    assert time.perf_counter() - t0 < 5
    (err,) = rep.errors
    assert "not in the Hugging Face cache" in err and "HF_HUB_OFFLINE" in err and "local copy" in err


def test_hub_id_found_in_the_cache(good, tmp_path, tiny_model_dir):
    snap = tmp_path / "hf-cache" / "models--org--tiny" / "snapshots" / "abc123def4567"
    shutil.copytree(tiny_model_dir, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123def4567")
    rep = preflight(load_config(ONE_GPU, [*good, 'model.model_name_or_path="org/tiny"']))
    assert rep.ok, rep.errors
    assert "org/tiny (HF cache (commit abc123def456))" in rep.summary()


def test_rl_rows_without_answer_are_counted(tmp_path, tiny_model_dir):
    rl = write_jsonl(tmp_path / "rl.jsonl", openr1_rows(200, answer_every=2))
    expert = write_jsonl(tmp_path / "expert.jsonl", openr1_rows(10, start=1000))
    rep = preflight(load_config(ONE_GPU, overrides(tiny_model_dir, expert, rl, [])))
    notes = [n for n in rep.notes if n.startswith(rl)]
    assert len(notes) == 1 and "100 of 200 rl_prompts rows skipped (100 without 'answer')" in notes[0]
    assert "data.answer_field" in notes[0] and "no row has" not in notes[0]  # half the rows have one
    assert rep.facts["data"]["rl_prompts"] == {
        "source": rl,
        "rows": 200,
        "skipped": {"answer": 100},
        "used": 100,
    }


def test_eval_overlap_with_expert_is_an_error_unless_allowed(tmp_path, tiny_model_dir):
    expert = write_jsonl(tmp_path / "expert.jsonl", openr1_rows(100))
    rl = write_jsonl(tmp_path / "rl.jsonl", openr1_rows(50, start=500))
    ev = write_jsonl(tmp_path / "eval.jsonl", math500_rows([*range(17), *range(200, 223)]))  # 17 of 40 shared
    cfg = load_config(ONE_GPU, overrides(tiny_model_dir, expert, rl, [ev]))
    rep = preflight(cfg)
    (err,) = rep.errors
    assert err.startswith(f"{ev}: 17 of the 40 eval:eval problems are also in the expert set ({expert})")
    assert "data.allow_overlap = true" in err
    assert rep.facts["overlaps"] == {
        "rl_prompts&expert": 0,
        "eval:eval&expert": 17,
        "eval:eval&rl_prompts": 0,
    }
    cfg.data.allow_overlap = True
    rep = preflight(cfg)
    assert rep.ok and any("17 of the 40" in n and "allow_overlap" in n for n in rep.notes)


def test_list_valued_field_says_list_and_suggests_name_0(tmp_path, tiny_model_dir):
    data = write_jsonl(tmp_path / "openr1.jsonl", openr1_rows(20))
    sets = [*overrides(tiny_model_dir, data, data, []), "data.response_field=generations"]
    rep = preflight(load_config(ONE_GPU, sets))
    (err,) = rep.errors
    assert (
        data in err
        and "'generations' is a list (1 item in the first such row)" in err
        and "use 'generations.0'" in err
    )


def test_missing_chat_template_is_a_note(tmp_path, tiny_model_dir, good):
    plain = tmp_path / "plain-model"
    shutil.copytree(tiny_model_dir, plain)
    (plain / "chat_template.jinja").unlink()
    rep = preflight(load_config(ONE_GPU, [*good, f'model.model_name_or_path="{plain}"']))
    assert rep.ok and "chat template: none (data.chat_template = true)" in rep.summary()
    (note,) = rep.notes
    assert "has no chat template" in note and "data.chat_template = false" in note
    rep = preflight(
        load_config(ONE_GPU, [*good, f'model.model_name_or_path="{plain}"', "data.chat_template=false"])
    )
    assert rep.notes == []


def test_expert_responses_over_the_cap(tmp_path, tiny_model_dir):
    rows = openr1_rows(6, words=2) + openr1_rows(4, start=50, words=40)  # 4 of 10 far longer than 64 tokens
    expert = write_jsonl(tmp_path / "expert.jsonl", rows)
    rl = write_jsonl(tmp_path / "rl.jsonl", openr1_rows(10, start=500))
    sets = overrides(tiny_model_dir, expert, rl, [], train__max_completion_length=64)
    cfg = load_config(ONE_GPU, sets)
    rep = preflight(cfg)
    (note,) = [n for n in rep.notes if n.startswith(expert)]
    assert note.startswith(
        f"{expert}: 40% (4 of 10) expert responses are longer than train.max_completion_length = 64"
    )
    assert rep.facts["expert_lengths"]["over_cap"] == 4
    cfg.data.max_expert_tokens, cfg.data.expert_truncation = 64, "drop"
    rep = preflight(cfg)
    assert "data.max_expert_tokens = 64 drops 4 responses" in rep.summary()
    assert f"{expert}: 40% (4 of 10) expert responses dropped by data.max_expert_tokens" in rep.notes
    cfg.data.max_expert_tokens = 8
    (err,) = preflight(cfg).errors
    assert "drops all 10 expert responses" in err


@pytest.mark.parametrize("experiment", [ONE_GPU, PAPER], ids=["1gpu", "paper"])
def test_experiment_files_pass_with_local_stand_ins(experiment, tmp_path, tiny_model_dir):
    """The shipped real-model files, with the model and data swapped for local copies in README formats."""
    openr1 = write_jsonl(tmp_path / "openr1.jsonl", openr1_rows(300))
    math500 = write_jsonl(tmp_path / "math500.jsonl", math500_rows(range(1000, 1040)))
    aime = write_jsonl(
        tmp_path / "aime24.jsonl", [{"problem": f"AIME {i}", "answer": str(i)} for i in range(30)]
    )
    sets = [
        f'model.model_name_or_path="{tiny_model_dir}"',
        f'data.rl_prompts="{openr1}"',
        f'data.expert="{openr1}"',
        f'data.eval=["{math500}", "aime24={aime}"]',
        "data.n_expert=100",
        "data.n_rl_prompts=150",
    ]
    rep = preflight(load_config(experiment, sets))
    assert rep.ok, rep.errors  # packages this machine lacks (vllm, flash-attn) are notes for `check`
    assert rep.facts["data"]["expert"]["used"] == 100 and rep.facts["data"]["rl_prompts"]["used"] == 150
    assert rep.facts["overlaps"]["rl_prompts&expert"] == 0
    assert rep.facts["data"]["eval:aime24"]["used"] == 30


def test_launcher_checks_only_its_arm(tmp_path, tiny_model_dir):
    expert = write_jsonl(tmp_path / "expert.jsonl", openr1_rows(10))
    sets = [
        f'model.model_name_or_path="{tiny_model_dir}"',
        f'data.expert="{expert}"',
        'data.rl_prompts=""',
        "data.eval=[]",
    ]
    sets += ["data.response_field=generations.0", "train.eval_early_every=0"]
    cfg = load_config(ONE_GPU, sets)
    assert preflight(cfg, ["sft"]).ok  # pure SFT needs no RL prompts
    assert any("data.rl_prompts is empty" in e for e in preflight(cfg, ["rl"]).errors)


def test_the_embedded_world_checks_in_a_blink():
    t0 = time.perf_counter()
    rep = preflight(load_config(None))
    assert rep.ok and time.perf_counter() - t0 < 1
    text = rep.summary()
    assert "embedded world" in text and "600 steps" in text
    assert "30 per run" in text and "30 × 600 answers = 18,000 generated per run" in text


def test_missing_data_path_is_named_and_hub_data_offline_says_local_copy(good, tmp_path):
    typo = tmp_path / "data" / "opnr1.jsonl"
    rep = preflight(load_config(ONE_GPU, [*good, f'data.expert="{typo}"']))
    (err,) = rep.errors
    assert err.startswith(f"data.expert: '{typo}' does not exist (the nearest existing folder is {tmp_path})")
    rep = preflight(load_config(ONE_GPU, [*good, 'data.eval=["HuggingFaceH4/MATH-500:test"]']))
    (err,) = rep.errors
    assert err.startswith("data.eval: cannot read data source 'HuggingFaceH4/MATH-500:test'")
    assert "\n" not in err and err.endswith("(a JSONL/Parquet file or a save_to_disk folder)")


def test_online_without_network_fails_after_one_request(good, monkeypatch):
    """Not offline, but no route to the hub: one metadata request each, no retry loop, then one line."""
    import huggingface_hub

    calls = []

    def unreachable(self, repo_id, repo_type=None, timeout=None):
        calls.append((repo_id, repo_type))
        raise ConnectionError("Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", unreachable)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("retried"))
    sets = [
        *good,
        'model.model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct"',
        'data.eval=["HuggingFaceH4/MATH-500:test"]',
    ]
    rep = preflight(load_config(ONE_GPU, sets))
    assert calls == [("Qwen/Qwen2.5-0.5B-Instruct", "model"), ("HuggingFaceH4/MATH-500", "dataset")]
    model_err, data_err = rep.errors
    assert "the hub cannot be reached (ConnectionError)" in model_err and "HF_HUB_OFFLINE=1" in model_err
    assert model_err.endswith(
        "or point model.model_name_or_path at a local copy (a folder written by save_pretrained)"
    )
    assert data_err.startswith("data.eval: dataset 'HuggingFaceH4/MATH-500': the hub cannot be reached")


def test_a_field_no_row_has_is_an_error_naming_the_fields(good):
    rep = preflight(load_config(ONE_GPU, [*good, "data.answer_field=final_answer"]))
    errs = [e for e in rep.errors if "final_answer" in e]
    assert len(errs) == 2  # the RL prompts and the eval set both need it
    assert errs[0].startswith("data.rl_prompts: data source ") and "(60 rows; fields: [" in errs[0]
    assert errs[0].endswith("no row has a field 'final_answer'")


def test_packages_this_machine_lacks_stop_a_run_but_not_a_check(good, monkeypatch):
    import importlib.util

    from phasescope.preflight import PreflightError, run_preflight

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m: None if m == "vllm" else real_find_spec(m))
    cfg = load_config(ONE_GPU, [*good, "model.use_vllm=true"])
    rep = preflight(cfg)
    assert (
        rep.ok
        and "model.use_vllm = true needs vllm, which is not installed here: pip install 'phasescope[vllm]'"
        in rep.notes
    )
    with pytest.raises(PreflightError, match="^model.use_vllm = true needs vllm"):
        run_preflight(cfg, err=lambda _: None)


def test_preflight_draws_the_subsets_training_draws(tiny_model_dir, tmp_path):
    """The same expert, RL and eval subsets as train/real.load_data (so its counts are the run's)."""
    from phasescope.preflight.checks import _data
    from phasescope.preflight.report import Report
    from phasescope.train.real import load_data
    from tests.fixtures.real_run import real_overrides

    cfg = load_config(ONE_GPU, [*real_overrides(tiny_model_dir, tmp_path), "data.n_rl_prompts=10"])
    rl, expert, evals, _ = load_data(cfg, log=lambda *_: None)
    checks = _data(cfg, cfg.experiment.arms, Report())
    assert checks["expert"].used == expert and checks["rl_prompts"].used == rl
    assert checks["eval:math_tiny_eval"].used == evals[0][1]


def test_dev_split_overlapping_eval_is_an_error_even_when_overlaps_are_allowed(tmp_path, tiny_model_dir):
    expert = write_jsonl(tmp_path / "expert.jsonl", openr1_rows(100))
    rl = write_jsonl(tmp_path / "rl.jsonl", openr1_rows(50, start=500))
    ev = write_jsonl(tmp_path / "eval.jsonl", math500_rows(range(200, 240)))
    dev = write_jsonl(tmp_path / "dev.jsonl", math500_rows([*range(230, 235), *range(300, 320)]))  # 5 shared
    sets = [*overrides(tiny_model_dir, expert, rl, [ev]), "arms.sft_then_rl.sft_steps=best"]
    rep = preflight(load_config(ONE_GPU, [*sets, f'data.dev="{dev}"', "data.allow_overlap=true"]))
    (err,) = rep.errors
    assert err.startswith(f"{ev}: 5 of the 40 eval:eval problems are also in the dev set ({dev})")
    assert "selected on the test set" in err
    assert rep.facts["overlaps"]["eval:eval&dev"] == 5
    # No dev split at all for an arm that selects on one: an error that says how to fix it.
    (err,) = preflight(load_config(ONE_GPU, sets)).errors
    assert "sft_then_rl choose the SFT→RL switch on a dev split" in err and "set data.dev" in err
    disjoint = write_jsonl(tmp_path / "dev2.jsonl", math500_rows(range(300, 320)))
    assert preflight(load_config(ONE_GPU, [*sets, f'data.dev="{disjoint}"'])).ok


def test_chord_phase_steers_on_the_dev_split_so_a_real_run_needs_one(tmp_path, tiny_model_dir):
    expert = write_jsonl(tmp_path / "expert.jsonl", openr1_rows(100))
    rl = write_jsonl(tmp_path / "rl.jsonl", openr1_rows(50, start=500))
    ev = write_jsonl(tmp_path / "eval.jsonl", math500_rows(range(200, 240)))
    sets = [*overrides(tiny_model_dir, expert, rl, [ev]), 'experiment.arms=["chord_phase"]']
    (err,) = preflight(load_config(ONE_GPU, sets)).errors
    assert err.startswith("arms chord_phase steer μ by a dev metric (phase_metric) but data.dev is empty")
    # the dev split is checked against the held-out set as for a selecting arm
    shared = write_jsonl(tmp_path / "dev.jsonl", math500_rows([*range(230, 235), *range(300, 320)]))
    (err,) = preflight(load_config(ONE_GPU, [*sets, f'data.dev="{shared}"'])).errors
    assert "also in the dev set" in err and "chord_phase's μ) would be selected on the test set" in err
    disjoint = write_jsonl(tmp_path / "dev2.jsonl", math500_rows(range(300, 320)))
    rep = preflight(load_config(ONE_GPU, [*sets, f'data.dev="{disjoint}"']))
    assert rep.ok and rep.facts["data"]["dev"]["used"] == 20
    # an arm watching a training metric reads no dev split
    train_only = [*sets, "arms.chord_phase.phase_metric='train/loss'"]
    assert preflight(load_config(ONE_GPU, train_only)).ok
