"""A chunk as a Chroma row and back: the few metadata entries a citation needs (the rest is per file, in the
manifest, or in the text store), and a filter as the list of sources it allows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .sources import kind_of
from .types import Chunk, Filters
from .vectors import embed_hash

SPAN = "span"  # the metadata key of "start:end:page:embed-hash"
SECTIONS = "sections"  # JSON [[heading start, start, heading], ...]: the later sections a packed chunk holds


def folders(source: str) -> list[str]:
    """Every folder a source lies under, outermost first: "a/b/n.md" -> ["a", "a/b"]."""
    parts = source.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def flat(chunk: Chunk) -> dict[str, Any]:
    """What a citation needs, per chunk, in as few metadata entries as will do: each costs ~80 bytes in Chroma's
    SQLite beside its value (a row, its key, two indexes), so offsets and the embedded text's hash share one.
    What is per file (title, author, tags, kind) is in the manifest once (FileEntry); filters become the list of
    sources they allow (allowed_sources). The display text and highlights are in the text store (texts.py):
    Chroma would keep a text twice and uncompressed, as a document in a full-text index we never query (about
    3 KB a chunk) and as metadata in an index over every string. 4.66 -> 4.0 -> ~3.3 KB a chunk on disk at 100k."""
    meta = {"source": chunk.source, "heading": chunk.heading,
            SPAN: f"{chunk.start}:{chunk.end}:{chunk.page or 0}:{embed_hash(chunk.embed_text)}"}
    if chunk.metadata.get("sections"):  # the small sections packed into it after the first
        meta[SECTIONS] = json.dumps(chunk.metadata["sections"], ensure_ascii=False)
    return meta


def span_of(meta: dict[str, Any]) -> tuple[int, int, int, str]:
    start, end, page, digest = str(meta.get(SPAN) or "0:0:0:").split(":", 3)
    return int(start), int(end), int(page), digest


def chunk_from(chunk_id: str, meta: dict[str, Any], text: tuple[str, list], files: Mapping[str, Any] | None = None
               ) -> Chunk:
    """A stored chunk: its metadata, its (text, highlights) from the text store, and what is per file taken from
    the manifest's entries (blank without them)."""
    start, end, page, _ = span_of(meta)
    entry = (files or {}).get(meta["source"])
    metadata: dict[str, Any] = {"tags": list(getattr(entry, "tags", None) or []), "highlights": list(text[1])}
    if getattr(entry, "author", ""):
        metadata["author"] = entry.author
    if getattr(entry, "aliases", None):
        metadata["aliases"] = list(entry.aliases)
    if meta.get(SECTIONS):
        metadata["sections"] = [(int(hs), int(s), str(h)) for hs, s, h in json.loads(meta[SECTIONS])]
    return Chunk(id=chunk_id, source=meta["source"], kind=kind_of(meta["source"]), title=getattr(entry, "title", ""),
                 heading=meta.get("heading", ""), page=page or None, start=start, end=end,
                 text=text[0], metadata=metadata)


def allowed_sources(filters: Filters | None, files: Mapping[str, Any] | None = None) -> list[str] | None:
    """The sources a filter allows (None: no filter), read from the manifest's entries: tags and kind are per
    file and a folder is a prefix of the source, so no chunk carries them. Without entries only a filter by
    source can be read."""
    if not filters:
        return None
    if files is None:
        if filters.tags or filters.folders or filters.kinds:
            raise ValueError("filters by tag, folder or kind need the manifest's file entries")
        return list(filters.sources)
    return [s for s, e in files.items() if e.chunk_ids and filters.matches(s, e.kind, e.tags)]
