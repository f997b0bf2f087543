"""A tiny Qwen2-architecture model and a byte-level Qwen2 tokenizer with a chat template, built from
config (no hub), saved with `save_pretrained` so that tests load it the way a hub id is loaded."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _byte_chars() -> list[str]:
    """GPT-2's byte → printable-character table (what byte-level BPE vocabularies are written in)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def build_tiny_model(path: Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Save a tiny Qwen2ForCausalLM and its Qwen2Tokenizer (256 byte tokens, no merges) to `path`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

    vocab = {ch: i for i, ch in enumerate(_byte_chars())}
    for tok in SPECIAL:
        vocab[tok] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|endoftext|>"],
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def teach_short_answers(path: Path, problems: list[str], answers: list[str], steps: int = 80) -> Path:
    """Fine-tune the saved tiny model at `path` (in place) to answer `\\boxed{answer}` and stop, in the
    chat format training uses: a base whose held-out answers end well before a small length cap."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from phasescope.config import DataConfig
    from phasescope.train.real import render_prompt

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    dc = DataConfig()
    texts = [render_prompt(tok, dc, p) + f"\\boxed{{{a}}}<|im_end|>" for p, a in zip(problems, answers)]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(**enc, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(path)
    return path
