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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Damage:
    """A part of the index found unreadable or missing, and what a run does about it."""

    path: str
    problem: str
    rebuild: bool  # the manifest or the vectors are lost: the index is rebuilt; else the lexical side is rewritten
    wipe: bool = False  # the vector store cannot be opened: it is removed before the rebuild

    @property
    def warning(self) -> dict[str, str]:
        done = "the index was rebuilt from the vault" if self.rebuild else "it was written again from the vectors"
        return {"source": self.path, "warning": f"{self.problem}: {done}"}


def inspect(index_dir: Path, store: IndexStore, m: Manifest) -> Damage | None:
    """What a plain run must repair besides the vault's changes: a missing or unreadable vector store, or a
    lexical generation that is missing or not as it was written. Stats and one SQLite query: no chromadb."""
    damage = getattr(store, "damage", None)
    # an index older than the text store has none to check: the format change rebuilds it, reusing its vectors
    problem, unreadable = damage(m.collection, m.format >= mf.TEXTS_SINCE) if damage is not None else ("", False)
    if problem:
        return Damage(str(getattr(store, "location", "the vector store")), problem, rebuild=True, wipe=unreadable)
    if not m.lexical:
        return None
    folder = index_dir / lexical.DIR / m.lexical
    sizes = lexical_sizes(folder)
    if not sizes:
        return Damage(str(folder), "is missing", rebuild=False)
    if not m.lexical_sizes:  # written before sizes were recorded: read it once, then record them
        try:
            lexical.load(index_dir, m.lexical)
        except Exception as e:  # whatever numpy, json or bm25s raise for damaged bytes
            why = f"{type(e).__name__}: {' '.join(str(e).split())}"
            return Damage(str(folder), f"is unreadable ({why})", rebuild=False)
        m.lexical_sizes = sizes
        mf.save(index_dir, m)
        return None
    changed = sorted(k for k in m.lexical_sizes.keys() | sizes.keys() if sizes.get(k) != m.lexical_sizes.get(k))
    if changed:
        return Damage(str(folder), f"was changed since it was written ({', '.join(changed)})", rebuild=False)
    return None


def lexical_sizes(folder: Path) -> dict[str, int]:
    """Each file of a lexical generation with its size, by path inside the folder."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


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
    elif old is None:  # a rebuild from nothing (no manifest, or a damaged one): the marker has nothing to repair
        dirty.unlink(missing_ok=True)  # left, it made the next run repair a clean index (the kill -9 test, rarely)
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
    m.lexical = lexical.refresh(index_dir, m, landed, lambda ids: store.get(m.collection, ids, m.files), new_tag())
    m.lexical_sizes = lexical_sizes(index_dir / lexical.DIR / m.lexical)
    mf.save(index_dir, m)
    lexical.prune(index_dir, m.lexical)


def finish_rebuild(index_dir: Path, store: IndexStore, old: Manifest | None, m: Manifest) -> None:
    """After the swap: the replaced collection goes (and any other, when the old manifest was unreadable), then
    the marker (last, so a crash before it still cleans)."""
    for name in store.names() if old is None else [old.collection]:
        if name != m.collection:
            store.drop(name)
    (index_dir / mf.BUILDING).unlink(missing_ok=True)
