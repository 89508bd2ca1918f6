"""What the filters can offer: the tags, folders, kinds and sources of what is indexed now."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.manifest import Manifest
from ingest.rows import folders


@dataclass(frozen=True)
class Facets:
    """Each list sorted, without duplicates; files that failed to index are left out."""

    tags: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()  # every folder a source lies under, "a" and "a/b" for a/b/n.md
    kinds: tuple[str, ...] = ()  # note | pdf
    sources: tuple[str, ...] = ()  # every note and book, relative to the vault root


def facets_of(m: Manifest | None) -> Facets:
    if m is None:
        return Facets()
    files = [f for f in m.files.values() if not f.error and f.chunk_ids]
    return Facets(tags=tuple(sorted({t for f in files for t in f.tags}, key=str.casefold)),
                  folders=tuple(sorted({d for f in files for d in folders(f.source)})),
                  kinds=tuple(sorted({f.kind for f in files})),
                  sources=tuple(sorted(f.source for f in files)))
