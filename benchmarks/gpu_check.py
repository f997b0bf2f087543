"""GPU check: phasescope's `rl` and `chord_phi` arms vs plain TRL GRPOTrainer on one model and batch.

A randomly initialised Qwen2-architecture model the size of Qwen2.5-0.5B (494M parameters, vocabulary
151,936) is built from config — no hub, no internet — with a byte-level Qwen2 tokenizer padded to the
full vocabulary and a chat template. Prompts and expert responses are tests/fixtures/data/math_tiny.jsonl.
Each trainer runs `--steps` updates of the same batch (prompts × rollouts, max completion length);
a random model rarely stops, so rollouts run to the maximum length and every trainer generates the
same number of tokens. Printed per trainer (median over steps after the first): step time, generate
time, generated tokens/s, and peak GPU memory. Run through benchmarks/gpu_check.sh.

    python benchmarks/gpu_check.py [--steps 6] [--prompts 16] [--generations 8] [--max-new 256] [--dry-run]

--dry-run: a tiny model on the CPU, 2 steps, to check the script end to end without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_model_dir(path: Path, dry: bool) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

    from tests.fixtures.tiny_model import CHAT_TEMPLATE, SPECIAL, _byte_chars

    vocab_size = 151_936
    chars = _byte_chars()
    vocab = {ch: i for i, ch in enumerate(chars)}
    # Fill the vocabulary with 2- and 3-byte strings (decodable, never produced by encode without merges).
    n_fill = vocab_size - len(SPECIAL) - len(vocab)
    for a in chars:
        for b in chars:
            if len(vocab) >= 256 + n_fill:
                break
            vocab.setdefault(a + b, len(vocab))
    i = 0
    while len(vocab) < 256 + n_fill:
        vocab.setdefault(chars[i % 256] + chars[(i // 256) % 256] + chars[(i // 65536) % 256], len(vocab))
        i += 1
    for tok in SPECIAL:
        vocab[tok] = len(vocab)
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    size = (
        dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
        if dry
        else dict(
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
        )
    )
    config = Qwen2Config(
        vocab_size=len(vocab),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"],
        bos_token_id=None,
        rope_theta=1_000_000.0,
        **size,
    )
    torch.manual_seed(0)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = Qwen2ForCausalLM(config).to(dtype)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def phasescope_config(model_dir: Path, out: Path, a):
    from phasescope.config import load_config

    data = REPO / "tests" / "fixtures" / "data" / "math_tiny.jsonl"
    return load_config(
        None,
        [
            f'model.model_name_or_path="{model_dir}"',
            "model.gradient_checkpointing=true",
            f'data.rl_prompts="{data}"',
            f'data.expert="{data}"',
            "data.response_field=generations.0",
            "data.n_expert=8",
            f"train.max_steps={a.steps}",
            f"train.prompts_per_step={a.prompts}",
            f"train.num_generations={a.generations}",
            f"train.expert_batch_size={a.expert}",
            f"train.max_completion_length={a.max_new}",
            "train.learning_rate=1e-6",
            "train.probes=false",
            f"train.eval_steps={a.steps + 1}",
            f'experiment.out="{out}"',
            'experiment.arms=["rl", "chord_phi"]',
        ],
    )


GEN: list[tuple[float, int, int]] = []  # (seconds, generated tokens, completions) per generation call


def install_generation_timer() -> None:
    """Time TRL's rollout generation (both trainers inherit it) and count the tokens it returns."""
    import torch
    from trl import GRPOTrainer

    orig = GRPOTrainer._generate_single_turn

    def timed(self, *args, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = orig(self, *args, **kwargs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        GEN.append((time.perf_counter() - t0, sum(len(c) for c in out[0]), len(out[0])))
        return out

    GRPOTrainer._generate_single_turn = timed


def _gen_stats() -> tuple[float, float, float]:
    """Median generate seconds, generated tokens/s and response length over the calls after the first."""
    calls = GEN[1:] or GEN
    GEN.clear()
    if not calls:
        return float("nan"), float("nan"), float("nan")
    return (
        statistics.median(c[0] for c in calls),
        statistics.median(c[1] / c[0] for c in calls),
        statistics.median(c[1] / c[2] for c in calls),
    )


def _peak_reset():
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


def run_phasescope(arm: str, cfg, out: Path) -> dict:
    from phasescope.train.train_one import train_one

    _peak_reset()
    GEN.clear()
    t0 = time.perf_counter()
    model = train_one(cfg, arm, 0, out / arm)
    wall = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out / arm / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "time/step_s" in r][1:]  # drop the first update (warm-up)
    gen_s, gen_tps, resp_len = _gen_stats()
    del model
    return {
        "trainer": f"phasescope {arm}",
        "step_s": statistics.median(r["time/step_s"] for r in rows),
        "generate_s": gen_s,
        "gen_tokens_per_s": gen_tps,
        "response_len": resp_len,
        "peak_gib": _peak_gib(),
        "wall_s": wall,
    }


def run_plain_trl(cfg, model_dir: Path, out: Path) -> dict:
    """TRL's own GRPOTrainer with the same model, data, batch and generation settings."""
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from phasescope.train.real import hf_setup, resolve_dtype

    real = hf_setup(cfg, "rl", 0, log=lambda *_: None)
    tc = cfg.train
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t0)

    args = GRPOConfig(
        output_dir=str(out / "trl"),
        max_steps=tc.max_steps,
        learning_rate=tc.learning_rate,
        per_device_train_batch_size=tc.prompts_per_step * tc.num_generations,
        num_generations=tc.num_generations,
        max_completion_length=tc.max_completion_length,
        temperature=tc.temperature,
        top_k=0,
        top_p=1.0,
        beta=0.0,
        epsilon=tc.epsilon,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        gradient_checkpointing=True,
        **real.grpo_kwargs,
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=resolve_dtype(cfg.model.dtype))
    _peak_reset()
    GEN.clear()
    t0 = time.perf_counter()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=real.reward_funcs,
        args=args,
        train_dataset=real.train_dataset,
        processing_class=real.tokenizer,
        callbacks=[Timer()],
    )
    trainer.train()
    wall = time.perf_counter() - t0
    gen_s, gen_tps, resp_len = _gen_stats()
    return {
        "trainer": "plain TRL GRPOTrainer",
        "step_s": statistics.median(times[1:] or times),
        "generate_s": gen_s,
        "gen_tokens_per_s": gen_tps,
        "response_len": resp_len,
        "peak_gib": _peak_gib(),
        "wall_s": wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--expert", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--out", default=os.environ.get("OUT") or tempfile.mkdtemp(prefix="gpu_check_"))
    ap.add_argument("--dry-run", action="store_true", help="tiny model on the CPU, 2 steps")
    a = ap.parse_args()
    import torch

    if a.dry_run:
        a.steps, a.prompts, a.generations, a.expert, a.max_new = 2, 2, 2, 2, 8
        torch.set_num_threads(1)
    elif not torch.cuda.is_available():
        print("error: no CUDA GPU (use --dry-run to check the script on a CPU)", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_MODE", "disabled")
    t0 = time.perf_counter()
    model_dir = build_model_dir(out / "model", a.dry_run)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (dry run)"
    print(f"device: {device}; model built in {time.perf_counter() - t0:.0f} s", flush=True)
    cfg = phasescope_config(model_dir, out / "runs", a)
    install_generation_timer()
    results = []
    for arm in ("rl", "chord_phi"):
        results.append(run_phasescope(arm, cfg, out / "runs"))
        print(json.dumps(results[-1]), flush=True)
    results.append(run_plain_trl(cfg, model_dir, out))
    print(json.dumps(results[-1]), flush=True)
    rollouts = a.prompts * a.generations
    print(
        f"\n{rollouts} rollouts ({a.prompts} prompts x {a.generations}) of up to {a.max_new} tokens"
        f" (+ {a.expert} expert rows for chord_phi), median of steps 2..{a.steps}; {device}"
    )
    print(f"{'trainer':<24}{'step s':>9}{'gen s':>9}{'gen tok/s':>11}{'resp len':>10}{'peak GiB':>10}")
    for r in results:
        print(
            f"{r['trainer']:<24}{r['step_s']:>9.2f}{r['generate_s']:>9.2f}{r['gen_tokens_per_s']:>11.0f}"
            f"{r['response_len']:>10.0f}{r['peak_gib']:>10.2f}"
        )
    print(f"total wall time {time.perf_counter() - t0:.0f} s")
    (out / "gpu_check.json").write_text(json.dumps({"device": device, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
