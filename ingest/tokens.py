"""Counting word pieces with the embedding model's own tokenizer, never truncated or padded."""

from __future__ import annotations

from pathlib import Path


class TokenCounter:
    """Counts and cuts text by the model's tokenizer.json (the light Rust tokenizer, no torch)."""

    def __init__(self, tokenizer_json: Path, window: int):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.no_truncation()  # the bundled tokenizer.json truncates and pads at 128
        self._tok.no_padding()
        self.window = window

    def counts(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, special tokens excluded."""
        if not texts:
            return []
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def count(self, text: str) -> int:
        return self.counts([text])[0]

    def fit(self, text: str) -> str:
        """Cut text so that it and the special tokens fit the window."""
        enc = self._tok.encode(text, add_special_tokens=False)
        room = self.window - 2  # [CLS] and [SEP]
        if len(enc.ids) <= room:
            return text
        return text[: enc.offsets[room - 1][1]]
