"""Vectors for a batch of chunks: the stored vector wherever the model would read the same text, the rest computed.

A chunk's vector depends only on its embedded text (header included), so an edit re-embeds just the chunks
whose text is new, and a rename re-embeds nothing unless the title in the header changed.
"""

from __future__ import annotations

import hashlib

from .protocols import Embedder, IndexStore
from .types import Chunk


def embed_hash(embed_text: str) -> str:
    """The key of a stored vector: what the model read, so a changed header (a renamed title) re-embeds."""
    return hashlib.sha256(embed_text.encode()).hexdigest()[:16]


def stored_vectors(store: IndexStore, collection: str, ids: list[str]) -> dict[str, list[float]]:
    """Vectors already in the store for these chunk ids, keyed by the hash of the text that was embedded."""
    if not ids:
        return {}
    return {h: vec for _, vec, h in store.texts_and_vectors(collection, ids) if h}


def vectors_for(chunks: list[Chunk], stored: dict[str, list[float]], embedder: Embedder) -> list[list[float]]:
    """One vector per chunk, in order: reused by embedded-text hash, the rest embedded in one call (the
    embedder batches it), and the embedder not called at all when everything is reused."""
    vectors: list[list[float] | None] = [stored.get(embed_hash(c.embed_text)) for c in chunks]
    todo = [i for i, v in enumerate(vectors) if v is None]
    for i, v in zip(todo, embedder.embed([chunks[i].embed_text for i in todo]) if todo else [], strict=True):
        vectors[i] = v
    return vectors  # type: ignore[return-value]
