"""Word-piece counts for the chunker in bounded memory: a 10 MB note is tokenized a slice at a time.

The tokenizer keeps ids, offsets and token strings for every word piece it makes (about 700 bytes each): one
10 MB sentence counted whole held 1.3 GB, and the counts of a 10 MB note's sentences asked for in one call as
much. The chunker only compares a count with its budget, so a text far over it needs no exact count.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from itertools import islice

from .tokens import TokenCounter

BATCH = 512  # texts tokenized per call
LONG = 16_384  # characters: a longer text is first counted by its start
# where the usual pre-tokenizers (BERT's, byte-level BPE, SentencePiece) start a new word: cut just before one,
# a text's start has the same word pieces as the whole text has there, give or take the last word or two
BOUNDARY = frozenset(" \t\n\r" + string.punctuation)
MARGIN = 8  # word pieces the cut may add or drop at the start's end


def head(text: str) -> str | None:
    """text's start cut at a word boundary near LONG characters; None if text is short or has no boundary there."""
    if len(text) <= LONG:
        return None
    for i in range(LONG, LONG - 2048, -1):
        if text[i] in BOUNDARY:
            return text[:i]
    return None


class Counts:
    """Counts of word pieces through a TokenCounter, batched, with long texts counted only as far as needed."""

    def __init__(self, counter: TokenCounter):
        self.counter = counter

    def counts(self, texts: Iterable[str], over: int) -> list[int]:
        """Word pieces of each text, exact up to `over`; a text with more may be given any count above `over`."""
        out: list[int] = []
        for batch in batched(texts):
            starts = [head(t) or t for t in batch]
            found = self.counter.counts(starts)
            for i, (text, start, n) in enumerate(zip(batch, starts, found, strict=True)):
                if start is not text and n <= over + MARGIN:
                    found[i] = self.counter.count(text)  # the start was not enough to tell: count all of it
            out += found
        return out

    def count(self, text: str, over: int) -> int:
        return self.counts([text], over)[0]

    def fit(self, text: str) -> str:
        """TokenCounter.fit, tokenizing only the start of a long text when that start overflows the window."""
        start = head(text)
        if start is not None and self.counter.count(start) > self.counter.window + MARGIN:
            text = start
        return self.counter.fit(text)


def batched(items: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
