"""The embedded world's policy: a tiny GPT-2 built from a `transformers` config.

Built from config (no hub download), so it runs anywhere; it is a real `PreTrainedModel`, so the
trainer, `generate`, `save_pretrained` and `from_pretrained` treat it exactly like a hub model.
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from phasescope.world.tokenizer import CharTokenizer


def build_model(
    tokenizer: CharTokenizer, n_layer: int, n_embd: int, n_head: int, n_positions: int, seed: int
):
    """A freshly initialised GPT-2; dropout off so that evaluation and the loss are deterministic."""
    config = GPT2Config(
        vocab_size=tokenizer.vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)
