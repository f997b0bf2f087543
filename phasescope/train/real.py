"""A real Hugging Face model and real data: the counterpart of the embedded world for `train_one`.

`hf_setup(cfg, arm_name, seed)` returns the `Setup` that `train_one` needs to train one arm, exactly
as `world_setup` does: the model and tokenizer (hub id or local path, loaded with `from_pretrained`), the RL prompt
dataset with reference answers, the math-verify reward, the expert (prompt, response) pairs, the
held-out evaluator, and the extra GRPOConfig / trainer arguments (bf16, vLLM, LoRA).

Prompts are the user message `data.prompt_template` (with `{prompt}` replaced by the problem)
wrapped in the tokenizer's chat template (with the generation prompt), so rollouts, expert rows and
evaluation all see the same text. An expert response is the assistant turn exactly as the chat
template renders it, up to and including the end-of-turn token, so SFT teaches the model to stop.

Held-out evaluation (`make_math_evaluator`) is greedy and sharded across processes (each generates
its share; results are gathered), so it also runs under DeepSpeed ZeRO-3 / FSDP, where every process
must take part in each forward pass.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from phasescope.arms import needs_rollouts
from phasescope.arms.mixing import is_paired
from phasescope.config import Config, DataConfig, ModelConfig
from phasescope.data.mathcheck import has_boxed, is_correct, math_reward
from phasescope.data.selection import draw_set, eval_sources, limit_expert
from phasescope.data.sources import Example, draw_examples, prompt_overlap
from phasescope.errors import UsageError
from phasescope.lm import eos_ids, generate_ids, response_nll_sum
from phasescope.runlog.problems import PAYLOAD_KEY, hashed_ids
from phasescope.runlog.writer import write_json_atomic
from phasescope.train.distributed import process_rank, world_size
from phasescope.train.paired import paired_dataset
from phasescope.train.setup import Setup, expert_set

# --- model and tokenizer ------------------------------------------------------------------------------


def resolve_dtype(name: str) -> torch.dtype | str:
    """model.dtype → what from_pretrained takes: "auto" is transformers' (the checkpoint's own dtype);
    bf16_if_supported is bf16 on a GPU that supports it, else fp32 (phasescope's old "auto")."""
    if name == "auto":
        return "auto"
    if name == "bf16_if_supported":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_model_and_tokenizer(mc: ModelConfig):
    """`AutoModelForCausalLM` / `AutoTokenizer.from_pretrained(model.model_name_or_path)`; left padding."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(mc.model_name_or_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the tokenizer of {mc.model_name_or_path!r}: {exc}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(mc.dtype)}
    if mc.attn_implementation:
        kwargs["attn_implementation"] = mc.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(mc.model_name_or_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the model {mc.model_name_or_path!r}: {exc}") from None
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def lora_config(mc: ModelConfig):
    """A peft LoraConfig from model.lora_*, or None when model.lora_r is 0."""
    if not mc.lora_r:
        return None
    try:  # peft is an optional extra (phasescope[peft]): imported only for LoRA
        from peft import LoraConfig
    except ImportError:
        raise UsageError("model.lora_r needs peft: pip install 'phasescope[peft]'") from None
    targets = mc.lora_target_modules
    return LoraConfig(
        r=mc.lora_r,
        lora_alpha=mc.lora_alpha,
        lora_dropout=mc.lora_dropout,
        target_modules="all-linear" if targets == ["all-linear"] else list(targets),
        task_type="CAUSAL_LM",
    )


# --- prompts and responses as text ----------------------------------------------------------------------


def _messages(dc: DataConfig, problem: str) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": dc.system_prompt}] if dc.system_prompt else []
    return msgs + [{"role": "user", "content": dc.prompt_template.replace("{prompt}", problem)}]


def _use_chat(tokenizer, dc: DataConfig) -> bool:
    return dc.chat_template and bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer, dc: DataConfig, problem: str) -> str:
    """The prompt text the model sees: the chat template with its generation prompt, or the plain template."""
    if not _use_chat(tokenizer, dc):
        return dc.prompt_template.replace("{prompt}", problem)
    return tokenizer.apply_chat_template(_messages(dc, problem), tokenize=False, add_generation_prompt=True)


def render_response(tokenizer, dc: DataConfig, problem: str, response: str) -> str:
    """The SFT target: the assistant turn as the chat template renders it, through the end-of-turn token."""
    eos = tokenizer.eos_token or ""
    if _use_chat(tokenizer, dc):
        prompt = render_prompt(tokenizer, dc, problem)
        msgs = [*_messages(dc, problem), {"role": "assistant", "content": response}]
        full = tokenizer.apply_chat_template(msgs, tokenize=False)
        if full.startswith(prompt):
            turn = full[len(prompt) :]
            if eos and eos in turn:
                return turn[: turn.rindex(eos) + len(eos)]
            return turn.rstrip("\n") + eos
    return response + eos


# --- evaluation --------------------------------------------------------------------------------------------


@dataclass
class EvalSet:
    name: str
    prompts: list[str]
    answers: list[str | None]
    responses: list[str] | None = None
    """Rendered expert responses (for eval/expert_nll), or None."""
    ids: list[str] | None = None
    """Problem ids for problems.jsonl (`problems.hashed_ids` of the raw problem text); None: of the prompts."""


def _gather(items: list) -> list:
    if world_size() == 1:
        return items
    return gather_object(items)


def greedy_responses(
    model, tokenizer, prompts: list[str], max_new_tokens: int
) -> list[tuple[str, int, bool]]:
    """(decoded response, length in tokens including the end token, whether it hit `max_new_tokens`
    without an end token) per prompt, one `generate` call."""
    stop = eos_ids(model, tokenizer)
    rows = generate_ids(model, tokenizer, prompts, max_new_tokens, 1.0, True, stop)
    return [
        (tokenizer.decode(row, skip_special_tokens=True), len(row), is_truncated(row, stop)) for row in rows
    ]


def is_truncated(row: list[int], stop: list[int]) -> bool:
    """An answer cut off by the length cap: it has no end token (`generate_ids` cuts after the first)."""
    return not row or row[-1] not in stop


def make_math_evaluator(tokenizer, sets: list[EvalSet], max_new_tokens: int, batch_size: int):
    """Greedy held-out evaluation; the first set is the headline.

    First set: eval/accuracy, eval/format_rate (has a boxed answer), eval/response_length (tokens),
    eval/truncated_rate (share of answers cut off at `max_new_tokens`) and,
    when it has expert responses, eval/expert_nll. Further sets: eval/<name>_accuracy and
    eval/<name>_format_rate. Each process evaluates every P-th problem, in the same number of
    `generate` calls (ZeRO-3 / FSDP need every process in every forward pass); results are gathered.
    Per-problem correctness comes back under `PAYLOAD_KEY`: split `eval` for the first set, its name
    for the others.
    """
    ids = [s.ids if s.ids is not None else hashed_ids(s.prompts) for s in sets]

    def shard(n: int) -> list[list[int]]:
        rank, world = process_rank(), world_size()
        mine = list(range(rank, n, world))
        per_process = math.ceil(n / world)
        n_batches = math.ceil(per_process / batch_size)  # the same number of calls on every process
        return [mine[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)]

    @torch.no_grad()
    def evaluate(model, step: int) -> dict[str, float]:
        out: dict[str, Any] = {}
        payload = {}
        for k, s in enumerate(sets):
            local = []
            for idx in shard(len(s.prompts)):
                # An empty share still joins the call (with a stand-in prompt) and its result is dropped.
                take = idx or [0]
                res = greedy_responses(model, tokenizer, [s.prompts[i] for i in take], max_new_tokens)
                if idx:
                    for i, (text, n_tok, cut) in zip(idx, res):
                        ok = s.answers[i] is not None and is_correct(text, s.answers[i])
                        local.append((i, ok, has_boxed(text), n_tok, cut))
            rows = _gather(local)
            n = max(len(rows), 1)
            prefix = "eval/" if k == 0 else f"eval/{s.name}_"
            out[f"{prefix}accuracy"] = sum(r[1] for r in rows) / n
            out[f"{prefix}format_rate"] = sum(r[2] for r in rows) / n
            correct = np.zeros(len(s.prompts), dtype=bool)  # gathered rows come in rank order
            correct[[r[0] for r in rows]] = [r[1] for r in rows]
            payload["eval" if k == 0 else s.name] = (ids[k], correct)
            if k == 0:
                out["eval/response_length"] = sum(r[3] for r in rows) / n
                out["eval/truncated_rate"] = sum(r[4] for r in rows) / n
                if s.responses:
                    out["eval/expert_nll"] = _expert_nll(model, tokenizer, s, shard)
        out[PAYLOAD_KEY] = payload
        return out

    return evaluate


def _expert_nll(model, tokenizer, s: EvalSet, shard) -> float:
    total, count = 0.0, 0
    for idx in shard(len(s.prompts)):
        take = idx or [0]
        for j in range(0, len(take), 4):  # long expert traces: a few rows per forward pass
            part = take[j : j + 4]
            with torch.no_grad():
                t, c = response_nll_sum(
                    model, tokenizer, [s.prompts[i] for i in part], [s.responses[i] for i in part]
                )
            if idx:
                total, count = total + float(t), count + int(c)
    sums = _gather([(total, count)])
    tokens = sum(c for _, c in sums)
    return sum(t for t, _ in sums) / max(tokens, 1)


# --- data ---------------------------------------------------------------------------------------------


def _drawn_report(source: str, drawn) -> dict[str, Any]:
    return {
        "source": source,
        "rows": len(drawn.examples),
        "skipped": drawn.skipped,
        "skipped_by": drawn.skipped_by,
        "rows_read": drawn.read,
    }


def load_data(
    cfg: Config, log=print, answers: bool = False
) -> tuple[list[Example], list[Example], list[tuple[str, list[Example]]], dict]:
    """RL prompts, expert rows, named held-out sets, and a report of sizes, skips and overlaps.

    `answers`: the expert rows need their answers too (a per-prompt arm's RL prompts are the expert
    problems); rows without one are then skipped, which can change the expert subset.

    Each subset is `data.selection.draw_set`'s, the rule the preflight counts with.
    """
    dc = cfg.data
    report: dict[str, Any] = {}
    rl: list[Example] = []
    expert: list[Example] = []
    if dc.expert:
        drawn = draw_set(dc, "expert", dc.expert)
        if answers:  # a per-prompt arm scores rollouts of the expert problems: their answers are needed
            common = {"prompt_field": dc.prompt_field, "seed": dc.seed, "limit": dc.n_expert}
            drawn = draw_examples(
                dc.expert, response_field=dc.response_field, answer_field=dc.answer_field, **common
            )
        expert = drawn.examples
        report["expert"] = _drawn_report(dc.expert, drawn)
    if dc.rl_prompts:
        # One source for both (the paper's OpenR1 split): RL prompts skip the expert subset's problems.
        drawn = draw_set(dc, "rl_prompts", dc.rl_prompts, expert)
        rl = drawn.examples
        report["rl_prompts"] = {
            **_drawn_report(dc.rl_prompts, drawn),
            "excluded_expert_problems": drawn.excluded,
        }
    evals = []
    for name, src in eval_sources(dc.eval):
        drawn = draw_set(dc, "eval", src)
        evals.append((name, drawn.examples))
        has_resp = bool(drawn.examples) and all(e.response for e in drawn.examples)
        report[f"eval:{name}"] = {**_drawn_report(src, drawn), "expert_responses": has_resp}
    # Overlaps are errors in the preflight unless data.allow_overlap; either way they are counted here.
    if rl and expert:
        report["overlap_rl_expert"] = prompt_overlap(rl, expert)
    for name, rows in evals:
        report[f"overlap_eval:{name}_train"] = prompt_overlap(rows, rl + expert)
    for key, value in report.items():
        if key.startswith("overlap") and value:
            log(f"data: {value} prompts overlap ({key})")
    return rl, expert, evals, report


# --- everything train_one needs --------------------------------------------------------------------------


def _eval_sets(tokenizer, dc: DataConfig, evals: list[tuple[str, list[Example]]]) -> list[EvalSet]:
    return [
        EvalSet(
            name,
            [render_prompt(tokenizer, dc, e.prompt) for e in rows],
            [e.answer for e in rows],
            [render_response(tokenizer, dc, e.prompt, e.response) for e in rows]
            if rows and rows[0].response
            else None,
            hashed_ids([e.prompt for e in rows]),
        )
        for name, rows in evals
    ]


def cap_expert_responses(
    tokenizer, dc: DataConfig, prompts: list[str], responses: list[str], report: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """`data.max_expert_tokens` applied to the rendered expert responses (truncate or drop), counted
    in `report["expert_limit"]` (data.json). A truncated response keeps its first tokens and so has
    no end-of-turn token: SFT then teaches the start of a long answer, not where to stop."""
    limit, mode = dc.max_expert_tokens, dc.expert_truncation
    ids = tokenizer(responses, add_special_tokens=False)["input_ids"] if responses else []
    kept, lengths = limit_expert([len(x) for x in ids], limit, mode)
    over = sum(len(x) > limit for x in ids) if limit else 0
    report["expert_limit"] = {
        "max_expert_tokens": limit,
        "expert_truncation": mode,
        "responses": len(ids),
        "over_limit": over,
        "truncated": over if mode == "truncate" else 0,
        "dropped": len(ids) - len(kept),
        "kept": len(kept),
    }
    if ids and not kept:
        raise UsageError(
            f"data.max_expert_tokens = {limit} drops all {len(ids)} expert responses; "
            'raise it or set data.expert_truncation = "truncate"'
        )
    cut = [tokenizer.decode(ids[i][:n]) if n < len(ids[i]) else responses[i] for i, n in zip(kept, lengths)]
    return [prompts[i] for i in kept], cut


def _precision_and_generation(cfg: Config, dtype: torch.dtype) -> dict[str, Any]:
    """GRPOConfig's bf16/fp16 (from the loaded model's dtype, on a GPU) and vLLM settings."""
    on_gpu = torch.cuda.is_available()
    out: dict[str, Any] = {
        "bf16": on_gpu and dtype == torch.bfloat16,
        "fp16": on_gpu and dtype == torch.float16,
    }
    if cfg.model.use_vllm:
        out.update(
            use_vllm=True,
            vllm_mode=cfg.model.vllm_mode,
            vllm_gpu_memory_utilization=cfg.model.vllm_gpu_memory_utilization,
        )
    return out


def hf_setup(cfg: Config, arm_name: str, seed: int, log=print) -> Setup:
    """Model, tokenizer, datasets, reward, expert set and evaluator for a real model (see module doc)."""
    rl, expert, evals, report = load_data(cfg, log=log, answers=is_paired(cfg.arms[arm_name]))
    arm = cfg.arms[arm_name]
    if needs_rollouts(arm, cfg.train.max_steps) and not rl and not is_paired(arm):
        raise UsageError(f"arm {arm_name} has an RL term and needs data.rl_prompts")
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    dc = cfg.data
    # An arm without rollouts still needs a prompt dataset for TRL's loop: the expert problems serve.
    prompts = [render_prompt(tokenizer, dc, e.prompt) for e in (rl or expert)]
    answers = [e.answer for e in rl] or [None] * len(prompts)
    expert_prompts = [render_prompt(tokenizer, dc, e.prompt) for e in expert]
    expert_responses = [render_response(tokenizer, dc, e.prompt, e.response) for e in expert]
    expert_prompts, expert_responses = cap_expert_responses(
        tokenizer, dc, expert_prompts, expert_responses, report
    )
    sets = _eval_sets(tokenizer, dc, evals)
    evaluator = (
        make_math_evaluator(tokenizer, sets, cfg.train.max_completion_length, dc.eval_batch_size)
        if sets
        else (lambda model, step: {})
    )
    peft = lora_config(cfg.model)
    report["model"] = {
        "name_or_path": cfg.model.model_name_or_path,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(model.dtype).replace("torch.", ""),
        "chat_template": _use_chat(tokenizer, dc),
    }
    # Per-prompt arms' RL prompts: the kept expert rows, each with its problem's answer; a demonstration
    # counts as correct (reward 1.0: `mix_losses.py`).
    answer_of = {render_prompt(tokenizer, dc, e.prompt): e.answer for e in expert}
    if is_paired(cfg.arms[arm_name]) and not all(answer_of.get(p) for p in expert_prompts):
        raise UsageError(
            f"arm {arm_name} trains RL on the expert problems (each with its own demonstration), so "
            "data.expert needs an answer field; set data.answer_field for that source"
        )
    paired = paired_dataset(
        expert_prompts, [answer_of.get(p) for p in expert_prompts], [1.0] * len(expert_prompts)
    )
    return Setup(
        model=model,
        tokenizer=tokenizer,
        paired_dataset=paired if expert_prompts else None,
        train_dataset=Dataset.from_dict({"prompt": prompts, "answer": answers}),
        reward_funcs=[math_reward],
        expert=expert_set(tokenizer, expert_prompts, expert_responses, cfg, seed),
        evaluator=evaluator,
        probe_seed=dc.seed,
        grpo_kwargs=_precision_and_generation(cfg, model.dtype),
        trainer_kwargs={"peft_config": peft} if peft is not None else {},
        data_report=report,
    )


def write_data_report(out_dir: Path, report: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "data.json", json.loads(json.dumps(report, default=str)))
