"""Vectors for a batch of chunks: the stored vector wherever the model would read the same text, the rest computed.

A chunk's vector depends only on its embedded text (header included), so an edit re-embeds just the chunks
whose text is new, and a rename re-embeds nothing unless the title in the header changed.
"""

from __future__ import annotations

import hashlib

from .progress import Progress
from .protocols import Embedder, IndexStore
from .types import Chunk

SLICE = 512  # chunks embedded per call: progress about every 8 CPU-seconds (~70 chunks a CPU-second)


def embed_hash(embed_text: str) -> str:
    """The key of a stored vector: what the model read, so a changed header (a renamed title) re-embeds."""
    return hashlib.sha256(embed_text.encode()).hexdigest()[:16]


def stored_vectors(store: IndexStore, collection: str, ids: list[str]) -> dict[str, list[float]]:
    """Vectors already in the store for these chunk ids, keyed by the hash of the text that was embedded."""
    if not ids:
        return {}
    return {h: vec for vec, h in store.stored_vectors(collection, ids) if h}


def vectors_for(chunks: list[Chunk], stored: dict[str, list[float]], embedder: Embedder,
                progress: Progress | None = None) -> list[list[float]]:
    """One vector per chunk, in order: reused by embedded-text hash, the rest embedded, and the embedder not called
    at all when everything is reused. Embedded in slices of similar length (sorted first, so they pad no more
    than one call would), with progress after each: a 10 MB note is ~12,000 chunks and minutes of embedding."""
    vectors: list[list[float] | None] = [stored.get(embed_hash(c.embed_text)) for c in chunks]
    # a text repeated across notes (a template's boilerplate section) is embedded once
    same: dict[str, list[int]] = {}
    for i, v in enumerate(vectors):
        if v is None:
            same.setdefault(chunks[i].embed_text, []).append(i)
    todo = sorted(same, key=len)
    if progress is not None and len(todo) > SLICE:
        progress.detail("embedding", 0, len(todo))
    for start in range(0, len(todo), SLICE):
        part = todo[start:start + SLICE]
        for text, v in zip(part, embedder.embed(part), strict=True):
            for i in same[text]:
                vectors[i] = v
        if progress is not None and len(todo) > SLICE:
            progress.detail("embedding", start + len(part), len(todo))
    return vectors  # type: ignore[return-value]
