"""Dense retrieval over the index's current collection."""

from __future__ import annotations

from ingest.types import Hit


def dense_search(store, vector: list[float], collection: str, k: int) -> list[Hit]:
    found = store.query(collection, vector, k)
    return [Hit(chunk=c, rank=i, score=s) for i, (c, s) in enumerate(found, start=1)]
