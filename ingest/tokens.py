"""Counting word pieces with the embedding model's own tokenizer, never truncated or padded."""

from __future__ import annotations

import re
from pathlib import Path

# What BERT's normalizer leaves as whitespace (Unicode White_Space, less the control characters it deletes, which
# join their neighbours instead): its pre-tokenizer splits there, and no word piece ever spans one.
BERT_WORD = re.compile(r"[^\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
MAX_WORDS = 500_000  # distinct words remembered before the memory is emptied (~50 MB)


class TokenCounter:
    """Counts and cuts text by the model's tokenizer.json (the light Rust tokenizer, no torch).

    With a BERT tokenizer (MiniLM's), a text's count is the sum of its words' counts, each word tokenized once
    per process: the chunker counts every sentence of a vault, and most words recur (chunking the help vault,
    0.92 -> 0.47 CPU-s with the changes beside it). Any other tokenizer counts each text whole."""

    def __init__(self, tokenizer_json: Path, window: int):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.no_truncation()  # the bundled tokenizer.json truncates and pads at 128
        self._tok.no_padding()
        self.window = window
        bert = (type(self._tok.normalizer).__name__, type(self._tok.pre_tokenizer).__name__,
                type(self._tok.model).__name__) == ("BertNormalizer", "BertPreTokenizer", "WordPiece")
        self._words: dict[str, int] | None = {} if bert else None

    def counts(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, special tokens excluded."""
        if not texts:
            return []
        if self._words is None:
            return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]
        split = [BERT_WORD.findall(t) for t in texts]
        known = self._words
        if len(known) > MAX_WORDS:
            known.clear()
        new = list({w for words in split for w in words if w not in known})
        if new:
            known.update(zip(new, (len(e.ids) for e in self._tok.encode_batch(new, add_special_tokens=False)),
                             strict=True))
        return [sum(known[w] for w in words) for words in split]

    def count(self, text: str) -> int:
        return self.counts([text])[0]

    def fit(self, text: str) -> str:
        """Cut text so that it and the special tokens fit the window."""
        enc = self._tok.encode(text, add_special_tokens=False)
        room = self.window - 2  # [CLS] and [SEP]
        if len(enc.ids) <= room:
            return text
        return text[: enc.offsets[room - 1][1]]
