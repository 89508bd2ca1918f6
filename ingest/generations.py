"""The crash protocol: a reader or a killed run sees the old index or the new one, never half of one.

Chunk ids are content hashes and Chroma is written before the manifest, so Chroma may run ahead of the
manifest but never behind it. A `dirty` marker brackets every incremental write; a run that finds it deletes
what the manifest does not list and re-reads files whose chunks are missing. A full rebuild fills a new
collection (a generation) under a `manifest.building.json` marker and swaps the manifest at the end; a run
that finds the marker drops every collection the manifest does not name. The lexical side has generations
of its own, named by the manifest (lexical.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import TracebackType

from . import lexical
from . import manifest as mf
from .manifest import Manifest
from .protocols import IndexStore
from .types import Chunk


def new_tag() -> str:
    """A generation's name: the time, to the microsecond."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")


def repair(index_dir: Path, store: IndexStore, old: Manifest | None) -> bool:
    """Repair what a killed run left: an unfinished rebuild, or Chroma ahead of the manifest. True when the
    lexical side may lack files the manifest lists (a killed incremental run saved their entries)."""
    building = index_dir / mf.BUILDING
    dirty = index_dir / mf.DIRTY
    if building.exists() or dirty.exists():
        for name in store.names():  # an unfinished rebuild's, or the one a finished rebuild replaced
            if old is None or name != old.collection:
                store.drop(name)
        building.unlink(missing_ok=True)
    lexical.prune(index_dir, old.lexical if old else None)
    stale = False
    if dirty.exists() and old is not None:
        stale = True
        present = store.ids(old.collection)
        expected = {i for e in old.files.values() for i in e.chunk_ids}
        store.delete(old.collection, sorted(present - expected))
        for entry in old.files.values():
            if not set(entry.chunk_ids) <= present:
                entry.sha256, entry.size = "", -1  # forces a re-read and re-embed
        mf.save(index_dir, old)
        dirty.unlink()
    return stale


class Dirty:
    """`with Dirty(index_dir):` marks an incremental write; the marker is removed only if the block completes,
    so an exception or a kill leaves it for the next run's repair."""

    def __init__(self, index_dir: Path):
        self.path = index_dir / mf.DIRTY

    def __enter__(self) -> Dirty:
        self.path.touch()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.path.unlink()


def begin_rebuild(index_dir: Path, store: IndexStore, m: Manifest) -> None:
    """The building marker names the new collection before anything is written to it."""
    mf.save(index_dir, m, mf.BUILDING)
    store.create(m.collection)  # an empty vault still gets a (searchable, empty) collection


def publish(index_dir: Path, store: IndexStore, m: Manifest, landed: list[Chunk]) -> None:
    """Stamp the manifest, write the lexical generation that matches it, then save it: readers move here."""
    m.last_indexed = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    m.lexical = lexical.refresh(index_dir, m, landed, lambda ids: store.get(m.collection, ids), new_tag())
    mf.save(index_dir, m)
    lexical.prune(index_dir, m.lexical)


def finish_rebuild(index_dir: Path, store: IndexStore, old: Manifest | None, m: Manifest) -> None:
    """After the swap: the replaced collection goes, then the marker (last, so a crash before it still cleans)."""
    if old is not None and old.collection != m.collection:
        store.drop(old.collection)
    (index_dir / mf.BUILDING).unlink(missing_ok=True)
