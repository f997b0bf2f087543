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

import torch

from phasescope.arms import needs_rollouts
from phasescope.config import Config, DataConfig, ModelConfig
from phasescope.data.mathcheck import has_boxed, is_correct, math_reward
from phasescope.data.sources import Example, load_examples, norm_prompt, prompt_overlap, subset
from phasescope.errors import UsageError
from phasescope.lm import eos_ids, generate_ids, response_nll_sum
from phasescope.train.distributed import process_rank, world_size
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
    from transformers import AutoModelForCausalLM, AutoTokenizer

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
    try:
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


def _gather(items: list) -> list:
    if world_size() == 1:
        return items
    from accelerate.utils import gather_object

    return gather_object(items)


def greedy_responses(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[tuple[str, int]]:
    """(decoded response, length in tokens including the end token) per prompt, one `generate` call."""
    rows = generate_ids(model, tokenizer, prompts, max_new_tokens, 1.0, True, eos_ids(model, tokenizer))
    return [(tokenizer.decode(row, skip_special_tokens=True), len(row)) for row in rows]


def make_math_evaluator(tokenizer, sets: list[EvalSet], max_new_tokens: int, batch_size: int):
    """Greedy held-out evaluation; the first set is the headline.

    First set: eval/accuracy, eval/format_rate (has a boxed answer), eval/response_length (tokens) and,
    when it has expert responses, eval/expert_nll. Further sets: eval/<name>_accuracy and
    eval/<name>_format_rate. Each process evaluates every P-th problem, in the same number of
    `generate` calls (ZeRO-3 / FSDP need every process in every forward pass); results are gathered.
    """

    def shard(n: int) -> list[list[int]]:
        rank, world = process_rank(), world_size()
        mine = list(range(rank, n, world))
        per_process = math.ceil(n / world)
        n_batches = math.ceil(per_process / batch_size)  # the same number of calls on every process
        return [mine[b * batch_size : (b + 1) * batch_size] for b in range(n_batches)]

    @torch.no_grad()
    def evaluate(model, step: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, s in enumerate(sets):
            local = []
            for idx in shard(len(s.prompts)):
                # An empty share still joins the call (with a stand-in prompt) and its result is dropped.
                take = idx or [0]
                res = greedy_responses(model, tokenizer, [s.prompts[i] for i in take], max_new_tokens)
                if idx:
                    for i, (text, n_tok) in zip(idx, res):
                        ok = s.answers[i] is not None and is_correct(text, s.answers[i])
                        local.append((i, ok, has_boxed(text), n_tok))
            rows = _gather(local)
            n = max(len(rows), 1)
            prefix = "eval/" if k == 0 else f"eval/{s.name}_"
            out[f"{prefix}accuracy"] = sum(r[1] for r in rows) / n
            out[f"{prefix}format_rate"] = sum(r[2] for r in rows) / n
            if k == 0:
                out["eval/response_length"] = sum(r[3] for r in rows) / n
                if s.responses:
                    out["eval/expert_nll"] = _expert_nll(model, tokenizer, s, shard)
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


def _eval_sources(dc: DataConfig) -> list[tuple[str, str]]:
    out = []
    for item in dc.eval:
        name, _, src = item.partition("=") if "=" in item.split(":", 1)[0] else ("", "", item)
        src = src or item
        name = name or Path(src.split(":")[0]).stem.replace("-", "_").replace(".", "_") or f"set{len(out)}"
        out.append((name, src))
    return out


def _load_eval_sets(dc: DataConfig, common: dict, report: dict) -> list[tuple[str, list[Example]]]:
    """The named held-out sets; each one's size and skips go into `report`."""
    evals = []
    for name, src in _eval_sources(dc):
        rows, skipped = load_examples(
            src,
            answer_field=dc.answer_field,
            response_field=dc.response_field,
            response_optional=True,
            default_split="test",
            limit=dc.n_eval,
            **common,
        )
        # Expert responses of the held-out set, when every problem has one, give eval/expert_nll.
        has_resp = all(e.response for e in rows)
        if not has_resp:
            rows = [Example(e.prompt, e.answer, None) for e in rows]
        evals.append((name, rows))
        report[f"eval:{name}"] = {
            "source": src,
            "rows": len(rows),
            "skipped": skipped,
            "expert_responses": has_resp,
        }
    return evals


def load_data(
    cfg: Config, log=print
) -> tuple[list[Example], list[Example], list[tuple[str, list[Example]]], dict]:
    """RL prompts, expert rows, named held-out sets, and a report of sizes, skips and overlaps."""
    dc = cfg.data
    common = {"prompt_field": dc.prompt_field, "seed": dc.seed}
    report: dict[str, Any] = {}
    rl: list[Example] = []
    expert: list[Example] = []
    if dc.expert:
        expert, skipped = load_examples(
            dc.expert, response_field=dc.response_field, limit=dc.n_expert, **common
        )
        report["expert"] = {"source": dc.expert, "rows": len(expert), "skipped": skipped}
    if dc.rl_prompts:
        rl, skipped = load_examples(dc.rl_prompts, answer_field=dc.answer_field, **common)
        removed = 0
        if dc.rl_prompts == dc.expert:
            # One source for both (the paper's OpenR1 split): RL prompts are drawn from the problems
            # the expert subset does not use, so the two sets are disjoint and reproducible.
            taken = {norm_prompt(e.prompt) for e in expert}
            kept = [e for e in rl if norm_prompt(e.prompt) not in taken]
            removed, rl = len(rl) - len(kept), kept
        rl = subset(rl, dc.n_rl_prompts, dc.seed)
        report["rl_prompts"] = {
            "source": dc.rl_prompts,
            "rows": len(rl),
            "skipped": skipped,
            "excluded_expert_problems": removed,
        }
    evals = _load_eval_sets(dc, common, report)
    # The paper keeps RL prompts and expert problems disjoint; phasescope reports overlaps, never drops rows.
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
        )
        for name, rows in evals
    ]


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
    from datasets import Dataset

    rl, expert, evals, report = load_data(cfg, log=log)
    if needs_rollouts(cfg.arms[arm_name], cfg.train.max_steps) and not rl:
        raise UsageError(f"arm {arm_name} has an RL term and needs data.rl_prompts")
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    dc = cfg.data
    # An arm without rollouts still needs a prompt dataset for TRL's loop: the expert problems serve.
    prompts = [render_prompt(tokenizer, dc, e.prompt) for e in (rl or expert)]
    answers = [e.answer for e in rl] or [None] * len(prompts)
    expert_prompts = [render_prompt(tokenizer, dc, e.prompt) for e in expert]
    expert_responses = [render_response(tokenizer, dc, e.prompt, e.response) for e in expert]
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
    return Setup(
        model=model,
        tokenizer=tokenizer,
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
    from phasescope.runlog.writer import write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "data.json", json.loads(json.dumps(report, default=str)))
