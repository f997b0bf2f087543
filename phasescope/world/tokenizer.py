"""A character-level Hugging Face tokenizer for the embedded world.

It is a real `transformers` tokenizer (save/load, padding, `batch_decode`), so TRL and the rest of
the trainer treat it exactly like a hub tokenizer. `;` doubles as the end-of-sequence token, so
generation stops at the end of an answer.
"""

from __future__ import annotations

import json
import os

from transformers import PreTrainedTokenizer

PAD = "_"
ALPHABET = "0123456789+-=|;>"


class CharTokenizer(PreTrainedTokenizer):
    """One token per character of `ALPHABET`, plus a padding token."""

    vocab_files_names = {"vocab_file": "vocab.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file: str | None = None, **kwargs):
        if vocab_file is not None:
            with open(vocab_file) as f:
                self._vocab = json.load(f)
        else:
            self._vocab = {ch: i for i, ch in enumerate(PAD + ALPHABET)}
        self._inv = {i: ch for ch, i in self._vocab.items()}
        kwargs.setdefault("pad_token", PAD)
        kwargs.setdefault("eos_token", ";")
        kwargs.setdefault("padding_side", "left")
        super().__init__(**kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        return list(text)

    def _convert_token_to_id(self, token: str) -> int:
        if token not in self._vocab:
            raise ValueError(f"character {token!r} is not in the embedded world's alphabet {ALPHABET!r}")
        return self._vocab[token]

    def _convert_id_to_token(self, index: int) -> str:
        return self._inv[index]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        # No BOS/EOS added on encode: prompts end at "=", responses carry their own ";".
        return token_ids_0 + (token_ids_1 or [])

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None):
        path = os.path.join(save_directory, (filename_prefix + "-" if filename_prefix else "") + "vocab.json")
        with open(path, "w") as f:
            json.dump(self._vocab, f)
        return (path,)
