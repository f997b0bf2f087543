"""A real Hugging Face model and real data: the counterpart of the embedded world for `train_one`.

`build_real(cfg, seed)` returns what `train_one` needs to train one arm, exactly as the world path
does: the model and tokenizer (hub id or local path, loaded with `from_pretrained`), the RL prompt
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from phasescope.config import Config, DataConfig, ModelConfig
from phasescope.data.mathcheck import has_boxed, is_correct, math_reward
from phasescope.data.sources import Example, load_examples, norm_prompt, prompt_overlap, subset
from phasescope.errors import UsageError


@dataclass
class RealSetup:
    model: Any
    tokenizer: Any
    train_dataset: Any
    reward_funcs: list[Callable]
    expert_prompts: list[str]
    expert_responses: list[str]
    evaluator: Callable[[torch.nn.Module, int], dict[str, float]]
    grpo_kwargs: dict[str, Any] = field(default_factory=dict)
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)
    data_report: dict[str, Any] = field(default_factory=dict)


# --- model and tokenizer ------------------------------------------------------------------------------


def resolve_dtype(name: str) -> torch.dtype:
    """model.dtype → torch dtype; auto is bf16 on a GPU that supports it, else fp32."""
    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_model_and_tokenizer(mc: ModelConfig):
    """`AutoModelForCausalLM` / `AutoTokenizer.from_pretrained(model.name_or_path)`; left padding."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(mc.name_or_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the tokenizer of {mc.name_or_path!r}: {exc}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(mc.dtype)}
    if mc.attn_implementation:
        kwargs["attn_implementation"] = mc.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(mc.name_or_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the model {mc.name_or_path!r}: {exc}") from None
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


def _dist():
    from accelerate import PartialState

    state = PartialState()
    return state.process_index, state.num_processes


def _gather(items: list) -> list:
    rank, world = _dist()
    if world == 1:
        return items
    from accelerate.utils import gather_object

    return gather_object(items)


def _eos_ids(model, tokenizer) -> list[int]:
    ids = {tokenizer.eos_token_id}
    gc_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gc_eos if isinstance(gc_eos, list) else [gc_eos])
    return sorted(i for i in ids if i is not None)


@torch.no_grad()
def greedy_responses(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[tuple[str, int]]:
    """(decoded response, length in tokens including the end token) per prompt, one `generate` call."""
    device = next(model.parameters()).device
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    eos = _eos_ids(model, tokenizer)
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        temperature=None,
        top_p=None,
        top_k=None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos,
    )
    results = []
    for row in out[:, enc["input_ids"].size(1) :].tolist():
        end = next((i for i, t in enumerate(row) if t in eos), None)
        row = row if end is None else row[: end + 1]
        results.append((tokenizer.decode(row, skip_special_tokens=True), len(row)))
    return results


@torch.no_grad()
def nll_sums(model, tokenizer, prompts: list[str], responses: list[str]) -> tuple[float, int]:
    """(sum of −log p, number of tokens) of `responses` given `prompts`."""
    from phasescope.train.sequences import completion_logits, encode_pairs, token_logprobs

    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in encode_pairs(tokenizer, prompts, responses).items()}
    logp = token_logprobs(completion_logits(model, batch), batch["completion_ids"])
    mask = batch["completion_mask"].float()
    return float(-(logp * mask).sum()), int(mask.sum())


def make_math_evaluator(tokenizer, sets: list[EvalSet], max_new_tokens: int, batch_size: int):
    """Greedy held-out evaluation; the first set is the headline.

    First set: eval/accuracy, eval/format_rate (has a boxed answer), eval/response_length (tokens) and,
    when it has expert responses, eval/expert_nll. Further sets: eval/<name>_accuracy and
    eval/<name>_format_rate. Each process evaluates every P-th problem, in the same number of
    `generate` calls (ZeRO-3 / FSDP need every process in every forward pass); results are gathered.
    """

    def shard(n: int) -> list[list[int]]:
        rank, world = _dist()
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
            t, c = nll_sums(model, tokenizer, [s.prompts[i] for i in part], [s.responses[i] for i in part])
            if idx:
                total, count = total + t, count + c
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


def build_real(cfg: Config, seed: int, log=print) -> RealSetup:
    """Model, tokenizer, datasets, reward, expert pairs and evaluator for a real model (see module doc)."""
    from datasets import Dataset

    rl, expert, evals, report = load_data(cfg, log=log)
    needs_rl = any(cfg.arms[a].schedule != "constant" or cfg.arms[a].mu < 1.0 for a in cfg.experiment.arms)
    if needs_rl and not rl:
        raise UsageError("an arm with an RL term needs data.rl_prompts")
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    dc = cfg.data
    prompts = [render_prompt(tokenizer, dc, e.prompt) for e in rl] or [
        render_prompt(tokenizer, dc, e.prompt) for e in expert
    ]
    answers = [e.answer for e in rl] or [None] * len(prompts)
    train_ds = Dataset.from_dict({"prompt": prompts, "answer": answers})
    expert_prompts = [render_prompt(tokenizer, dc, e.prompt) for e in expert]
    expert_responses = [render_response(tokenizer, dc, e.prompt, e.response) for e in expert]
    sets = [
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
    evaluator = (
        make_math_evaluator(tokenizer, sets, cfg.train.max_completion_length, dc.eval_batch_size)
        if sets
        else (lambda model, step: {})
    )
    dtype = resolve_dtype(cfg.model.dtype)
    on_gpu = torch.cuda.is_available()
    grpo_kwargs: dict[str, Any] = {
        "bf16": on_gpu and dtype == torch.bfloat16,
        "fp16": on_gpu and dtype == torch.float16,
    }
    if cfg.model.use_vllm:
        grpo_kwargs.update(
            use_vllm=True,
            vllm_mode=cfg.model.vllm_mode,
            vllm_gpu_memory_utilization=cfg.model.vllm_gpu_memory_utilization,
        )
    trainer_kwargs: dict[str, Any] = {}
    peft = lora_config(cfg.model)
    if peft is not None:
        trainer_kwargs["peft_config"] = peft
    report["model"] = {
        "name_or_path": cfg.model.name_or_path,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(dtype).replace("torch.", ""),
        "chat_template": _use_chat(tokenizer, dc),
    }
    return RealSetup(
        model=model,
        tokenizer=tokenizer,
        train_dataset=train_ds,
        reward_funcs=[math_reward],
        expert_prompts=expert_prompts,
        expert_responses=expert_responses,
        evaluator=evaluator,
        grpo_kwargs=grpo_kwargs,
        trainer_kwargs=trainer_kwargs,
        data_report=report,
    )


def write_data_report(out_dir: Path, report: dict[str, Any]) -> None:
    from phasescope.runlog.writer import write_json_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "data.json", json.loads(json.dumps(report, default=str)))
