"""`preflight(cfg, arms)`: every check that can fail a real run, done once, before any worker starts.

Model and tokenizer resolve (config and tokenizer files only), every data source opens and has its
fields, the sets are disjoint, the chat template is there when asked for, expert responses fit the
generation cap (`data.max_expert_tokens` / `data.expert_truncation` counted as training applies
them), and the schedule's cost in evaluations is stated. Nothing is generated or trained.
"""

from __future__ import annotations

from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any

from phasescope.arms import needs_dev, needs_expert, needs_rollouts, selects_on_dev, watches_dev
from phasescope.preflight import data as d
from phasescope.preflight import lengths, schedule
from phasescope.preflight.model import load_tokenizer, model_summary, offline, resolve_model
from phasescope.preflight.report import Report, count, share
from phasescope.world.task import Problem, cot_response


def preflight(cfg: Any, arms: list[str] | None = None, for_run: bool = False) -> Report:
    """Check `cfg` for the arms that will run (default: `experiment.arms`); see the module docstring.

    `for_run`: the run starts on this machine, so a package the config needs and this machine lacks
    is an error; `phasescope check` may run elsewhere (a laptop before the GPU node), where it is a note.
    """
    rep = Report()
    arms = list(arms or cfg.experiment.arms)
    unknown = [a for a in arms if a not in cfg.arms]
    if unknown:
        rep.error(f"unknown arm {unknown[0]!r}; defined arms: {', '.join(cfg.arms)}")
        return rep
    seeds = cfg.experiment.seeds
    rep.line("experiment", f"{cfg.experiment.name}: {', '.join(arms)}; {count(seeds, 'seed')}")
    name = cfg.model.model_name_or_path
    if not name:
        answers = _world(cfg, rep)
    else:
        _packages(cfg, rep, for_run)
        tokenizer = _model(name, rep)
        with _quiet_datasets():
            checks = _data(cfg, arms, rep)
        if tokenizer is not None:
            _chat_template(cfg, name, tokenizer, rep)
            if checks.get("expert") and checks["expert"].used:
                _expert_lengths(cfg, tokenizer, checks["expert"], rep)
        answers = sum(len(c.used) for role, c in checks.items() if role.startswith("eval:"))
    _schedule(cfg, rep, answers, runs=len(arms) * seeds, real=bool(name))
    return rep


@contextmanager
def _quiet_datasets():
    """No `datasets` progress bars while sources are drawn: `check` prints a summary, not bars."""
    from datasets import utils as ds_logging  # real data only: the world's check imports no datasets/torch

    was_off = ds_logging.are_progress_bars_disabled()
    ds_logging.disable_progress_bars()
    try:
        yield
    finally:
        if not was_off:
            ds_logging.enable_progress_bars()


def _world(cfg: Any, rep: Report) -> int:
    w = cfg.world
    rep.line("model", f"embedded world: {w.n_layer}-layer GPT-2, width {w.n_embd} (built once, then cached)")
    rep.line(
        "data",
        f"{w.digits}-digit addition: {w.n_expert:,} expert, {w.n_rl_prompts:,} RL prompts, "
        f"{w.n_eval:,} held-out problems per skill (addition, {w.general_skill})",
    )
    _world_lengths(cfg, rep)
    return 3 * w.n_eval  # greedy on both skills, one sample on addition


def _world_lengths(cfg: Any, rep: Report) -> None:
    """The expert's longest chain of thought must fit train.max_completion_length: a cut trace teaches
    answers that never finish, and rollouts in the expert's style can never earn a reward (in a
    3-digit prototype SFT fell to 0.000 accuracy for 600 steps and nothing said why)."""
    d, cap = cfg.world.digits, cfg.train.max_completion_length
    top = 10**d - 1
    need = len(cot_response(Problem(top, top, "+", d)))  # one token per character, the end mark included
    if cap < need:
        rep.error(
            f"train.max_completion_length = {cap} cuts the expert's {d}-digit chain of thought ({need} tokens "
            f"at most) short, so SFT teaches answers that never finish; set train.max_completion_length >= {need}"
        )


PACKAGES_NEEDED = (
    ("math_verify", "phasescope[math]", lambda m: True, "real models (the reward and eval/accuracy)"),
    ("peft", "phasescope[peft]", lambda m: m.lora_r > 0, "model.lora_r > 0"),
    ("vllm", "phasescope[vllm]", lambda m: m.use_vllm, "model.use_vllm = true"),
    ("flash_attn", "flash-attn", lambda m: m.attn_implementation == "flash_attention_2", "flash_attention_2"),
)
"""(module, what to pip install, whether the model config needs it, the setting that does)."""


def _packages(cfg: Any, rep: Report, for_run: bool) -> None:
    for module, pip, needed, why in PACKAGES_NEEDED:
        if needed(cfg.model) and find_spec(module) is None:
            msg = f"{why} needs {module}, which is not installed here: pip install '{pip}'"
            (rep.error if for_run else rep.note)(msg)


def _model(name: str, rep: Report) -> Any:
    info, err = resolve_model(name)
    if err:
        rep.error(err)
        return None
    rep.line("model", f"{name} ({info.where})")
    rep.line("model", model_summary(info))
    rep.facts["model"] = {"name_or_path": name, "where": info.where, "weights": info.weights}
    if info.folder is not None and not info.weights:
        msg = f"model {name!r}: no weight files (*.safetensors, *.bin) in {info.folder}"
        if info.where == "local folder":
            rep.error(msg + "; copy the whole folder save_pretrained wrote")
            return None
        if offline():
            rep.error(
                msg + f" and HF_HUB_OFFLINE is set; download them where there is network (hf download {name})"
            )
            return None
        rep.note(msg + "; they download at the first run")
    tokenizer, err = load_tokenizer(info)
    if err:
        rep.error(err)
        return None
    rep.line("tokenizer", f"{type(tokenizer).__name__}, {len(tokenizer):,} tokens")
    return tokenizer


def _chat_template(cfg: Any, name: str, tokenizer: Any, rep: Report) -> None:
    has = bool(getattr(tokenizer, "chat_template", None))
    rep.line(
        "tokenizer",
        f"chat template: {'yes' if has else 'none'} (data.chat_template = {str(cfg.data.chat_template).lower()})",
    )
    if cfg.data.chat_template and not has:
        rep.note(
            f"the tokenizer of {name!r} has no chat template, so prompts and expert responses are plain text "
            "although data.chat_template = true; use a tokenizer with one (an instruct model's), or set "
            "data.chat_template = false to say plain text is meant"
        )


def _sources(cfg: Any, arms: list[str], rep: Report) -> list[tuple[str, str]]:
    """(role, source) of every source the arms read, expert first (RL prompts may skip its problems)."""
    dc = cfg.data
    steps = cfg.train.max_steps
    rl_arms = [a for a in arms if needs_rollouts(cfg.arms[a], steps)]
    expert_arms = [a for a in arms if needs_expert(cfg.arms[a], steps)]
    uses_rl, uses_expert = bool(rl_arms), bool(expert_arms)
    out = []
    if uses_expert and not dc.expert:
        rep.error(f"arms {', '.join(expert_arms)} use expert rows but data.expert is empty; set data.expert")
    if uses_rl and not dc.rl_prompts:
        rep.error(
            f"arms {', '.join(rl_arms)} use RL rollouts but data.rl_prompts is empty; set data.rl_prompts"
        )
    if dc.expert and uses_expert:
        out.append(("expert", dc.expert))
    if dc.rl_prompts and uses_rl:
        out.append(("rl_prompts", dc.rl_prompts))
    if not dc.dev:
        _no_dev(cfg, arms, rep)
    elif any(needs_dev(cfg.arms[a]) for a in arms):
        out.append(("dev", dc.dev))
    out += [(f"eval:{name}", src) for name, src in d.eval_sources(dc.eval)]
    return out


def _no_dev(cfg: Any, arms: list[str], rep: Report) -> None:
    """An error per kind of arm that reads a dev split, when data.dev is empty."""
    selecting = [a for a in arms if selects_on_dev(cfg.arms[a])]
    watching = [a for a in arms if watches_dev(cfg.arms[a])]
    if selecting:
        rep.error(
            f"arms {', '.join(selecting)} choose the SFT→RL switch on a dev split (sft_steps best/auto) but "
            "data.dev is empty; set data.dev (a source disjoint from data.eval), or give sft_steps a number"
        )
    if watching:
        rep.error(
            f"arms {', '.join(watching)} steer μ by a dev metric (phase_metric) but data.dev is empty; "
            "set data.dev (a source disjoint from data.eval)"
        )


def _data(cfg: Any, arms: list[str], rep: Report) -> dict[str, d.SourceCheck]:
    """Open every source, draw the subsets training draws, count skipped rows, check overlaps."""
    dc = cfg.data
    checks: dict[str, d.SourceCheck] = {}
    for role, src in _sources(cfg, arms, rep):
        expert = checks["expert"].used if "expert" in checks else None
        c = d.check_source(dc, role, src, expert)
        if c.error:
            rep.error(f"data.{role.split(':')[0]}: {c.error}")
            continue
        if c.skipped:
            rep.note(d.skip_note(c, dc))
        checks[role] = c
    for role, c in checks.items():
        limit = {"expert": dc.n_expert, "rl_prompts": dc.n_rl_prompts}.get(role, dc.n_eval)
        key = {"expert": "n_expert", "rl_prompts": "n_rl_prompts"}.get(role, "n_eval")
        skipped = f", {sum(c.skipped.values()):,} skipped" if c.skipped else ""
        if c.left_to_expert:
            skipped += f", {c.left_to_expert:,} left to the expert subset"
        short = f" (data.{key} = {limit:,} asks for more)" if limit > len(c.used) else ""
        rep.line("data", f"{role}: {c.source}: {count(c.rows, 'row')}{skipped}; {len(c.used):,} used{short}")
        rep.facts.setdefault("data", {})[role] = {
            "source": c.source,
            "rows": c.rows,
            "skipped": dict(c.skipped),
            "used": len(c.used),
        }
    _overlaps(cfg, checks, rep)
    return checks


def _overlaps(cfg: Any, checks: dict[str, d.SourceCheck], rep: Report) -> None:
    allow = cfg.data.allow_overlap
    pairs = [("rl_prompts", "expert")]
    pairs += [
        (r, other) for r in checks if r.startswith("eval:") for other in ("expert", "rl_prompts", "dev")
    ]
    found = []
    for a, b in pairs:
        if a not in checks or b not in checks:
            continue
        ca, cb = checks[a], checks[b]
        k = d.overlap(ca.used, cb.used)
        rep.facts.setdefault("overlaps", {})[f"{a}&{b}"] = k
        found.append(f"{a}∩{b} {k}")
        if not k:
            continue
        msg = f"{ca.source}: {k:,} of the {len(ca.used):,} {a} problems are also in the {b} set ({cb.source})"
        if b == "dev":
            # Never allowed: the switch would be chosen on the test problems it is then scored on.
            rep.error(
                msg + "; the SFT→RL switch (or chord_phase's μ) would be selected on the test set: "
                "make data.dev disjoint"
            )
        elif allow:
            rep.note(msg + "; kept because data.allow_overlap = true")
        else:
            rep.error(msg + "; remove them from one file, or set data.allow_overlap = true to keep them")
    if found:
        rep.line("overlaps", ", ".join(found) + (" (allowed)" if allow else ""))


def _expert_lengths(cfg: Any, tokenizer: Any, expert: d.SourceCheck, rep: Report) -> None:
    """Token counts of the expert responses training will use (plus the end-of-turn token)."""
    cap = cfg.train.max_completion_length
    limit, mode = cfg.data.max_expert_tokens or None, cfg.data.expert_truncation
    ids = tokenizer([e.response for e in expert.used], add_special_tokens=False)["input_ids"]
    effect = lengths.cap_effect([len(x) + 1 for x in ids], cap, limit, mode)
    rep.line("expert", lengths.expert_length_summary(effect, cap))
    rep.facts["expert_lengths"] = {**effect.__dict__, "cap": cap}
    for text in (lengths.cap_note(effect, cap, expert.source),):
        if text:
            rep.note(text)
    err = lengths.limit_error(effect, expert.source)
    if err:
        rep.error(err)
    elif effect.mode == "drop" and effect.affected:
        rep.note(
            f"{expert.source}: {share(effect.affected, effect.n)} expert responses dropped by data.max_expert_tokens"
        )


def _schedule(cfg: Any, rep: Report, answers: int, runs: int, real: bool) -> None:
    tc = cfg.train
    steps, every = tc.max_steps, tc.eval_steps
    early, until = tc.eval_early_every or 0, tc.eval_early_until
    plan = schedule.eval_plan(steps, every, early, until)
    for text in schedule.eval_cost_lines(plan, answers, runs, tc.max_completion_length):
        rep.line("schedule", text)
    rep.facts["evaluations"] = {
        "per_run": len(plan.eval_steps),
        "early": plan.early_only,
        "answers_per_evaluation": answers,
    }
    if real and plan.early_only:
        rep.note(
            f"train.eval_early_every = {early} adds {plan.early_only} evaluations in the first {until} steps "
            f"({plan.early_only * answers:,} answers generated per run); set train.eval_early_every = 0 to skip them"
        )
    if real and not cfg.data.eval:
        rep.note(
            "data.eval is empty: no held-out curve will be logged, so there are no phases to read; add a held-out set"
        )
