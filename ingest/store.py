"""Chroma, queried and written directly (lean metadata, filters as source lists, upserts): embedded or a server."""

from __future__ import annotations

import hashlib
import shutil
import weakref
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from . import chroma_files
from .errors import IndexDamaged, IndexMismatch, RereadError
from .lock import ReadOnlyIndex, guard_disk, private_copy, writable_store
from .rows import allowed_sources, chunk_from, flat, span_of
from .texts import TextStore
from .types import Chunk, Filters

PREFIX = "reread"
MAX_IN = 10_000  # sources in one filtered query
EXACT_MAX = 20_000  # a collection this small is searched exactly when HNSW returns fewer ids than it holds
# A wide search beam: on a collection smaller than ef_search HNSW visits every vector (exact search), and
# near-duplicate notes (a daily template) no longer hide the one that answers; ~ms per query at 100k chunks.
# Chroma saves the HNSW index every sync_threshold adds, and every process that opens the collection replays
# the adds since (~2 ms each at 100k chunks): at its default of 1,000, a fresh search or re-index of a 100k index
# paid up to ~2 CPU-s for the tail the last run left. Saving every 100 adds costs ~40 ms per save at 100k (~3% of
# embedding those 100 chunks) and leaves a tail of at most 99. ef_construction 100 (was 200): building 100k chunks
# took 84.5 s instead of 102.2, HNSW recall@10 against exact search 1.0 either way (benchmarks/search.py).
# max_neighbors 32, not Chroma's 16: with 16, near-identical notes (one template, a number changed) break the graph
# apart, and a search for all 60 of 60 such chunks returned fewer in 16 of 20 builds (0 of 20 with 32); on clustered
# random vectors at 100k, 16 scored recall@10 0.9995 and saved 128 bytes a chunk, which is not worth that.
HNSW = {"space": "cosine", "ef_construction": 100, "ef_search": 1000, "max_neighbors": 32,
        "sync_threshold": 100, "batch_size": 100}


class CollectionMissing(IndexMismatch):
    """The manifest names a collection the store does not have (a rebuild just replaced it, or data loss)."""


def light_overrides() -> None:
    """Before chromadb is imported. It marks ~170 methods with the `overrides` package's decorator, which checks
    each one's signature against its base class as the class is made: ~0.17 CPU-s of every process that opens
    Chroma (a fresh `reread ask` 1.39 -> 1.22), for a check that serves chromadb's own development. The marker
    `EnforceOverrides` looks for is still set; only the check is skipped."""
    try:
        import overrides
    except ImportError:  # a chromadb that no longer uses it
        return
    if getattr(overrides.override, "light", False):
        return

    def mark(method=None, **_options):
        if method is None:  # used with options: @override(check_signature=False)
            return mark
        method.__override__ = True
        return method

    mark.light = True  # type: ignore[attr-defined]
    overrides.override = overrides.overrides = mark


def _exact(col, vector: list[float], k: int) -> list[tuple[str, dict, float]]:
    """Every stored vector against the query: HNSW left a node unreachable (seen after a rename deleted 11
    vectors and re-added them, 1 run in ~5: 87 of 88 returned for n_results 352), and a small collection is
    cheap to search exactly (~10 ms for 5,000 chunks)."""
    import numpy as np

    got = col.get(include=["embeddings", "metadatas"])
    sims = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
    return [(got["ids"][i], got["metadatas"][i], 1.0 - float(sims[i])) for i in np.argsort(-sims)[:k]]


class ChromaStore:
    """One reread index in Chroma. Collections are generations: a full rebuild fills a new one."""

    def __init__(self, index_dir: Path, host: str | None = None, port: int = 8000):
        self.index_dir = Path(index_dir)
        self.host, self.port = host, port
        self.prefix = f"{PREFIX}-{hashlib.sha1(str(self.index_dir.resolve()).encode()).hexdigest()[:10]}"
        self._client = None
        self._copy: Path | None = None  # the private copy a read-only store is read from
        self.texts = TextStore(self.index_dir)  # local, beside the manifest, in server mode too

    @property
    def client(self):
        if self._client is None:
            light_overrides()
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            cfg = ChromaSettings(anonymized_telemetry=False)
            try:
                if self.host:
                    self._client = chromadb.HttpClient(host=self.host, port=self.port, settings=cfg)
                    self._client.heartbeat()
                else:
                    self._client = chromadb.PersistentClient(path=self._path(), settings=cfg)
            except Exception as e:  # chromadb raises plain ValueError/ConnectionError variants
                if self.host:
                    raise RereadError(f"cannot reach the Chroma server at {self.host}:{self.port} ({e}); start it "
                                      "(chroma run) or fix REREAD_CHROMA_HOST/REREAD_CHROMA_PORT") from None
                raise IndexDamaged(str(self.location), f"cannot be opened ({' '.join(str(e).split())})") from None
        return self._client

    def _path(self) -> str:
        """A read-only store (a backup, a read-only mount, another user's index) is read from a private copy:
        Chroma writes to its database even to open it. The copy goes on reopen."""
        folder = self.index_dir / "chroma"
        if writable_store(folder):
            return str(folder)
        self._copy = private_copy(folder)
        weakref.finalize(self, shutil.rmtree, self._copy.parent, True)
        return str(self._copy)

    def _writing(self) -> None:
        if self._copy is not None:  # never write to the private copy of a read-only store: it would be lost
            raise ReadOnlyIndex(self.index_dir, self.index_dir / "chroma")

    @property
    def location(self) -> str:
        """Where the vectors are, for messages: the embedded store's folder or the server."""
        return f"the Chroma server at {self.host}:{self.port}" if self.host else str(self.index_dir / "chroma")

    def damage(self, name: str, texts: bool = True) -> tuple[str, bool]:
        """What is wrong with the embedded store ("" when it looks whole), and whether it cannot be opened at all;
        read with sqlite3, no chromadb, so a no-change run stays light. A server keeps its own data: not inspected.
        The text store is checked too, unless the index predates it (texts=False)."""
        problem, unreadable = self._vector_damage(name)
        if problem or not texts:
            return problem, unreadable
        problem, unreadable = self.texts.problem(name)
        return (f"has vectors without their texts ({problem})", unreadable) if problem else ("", False)

    def _vector_damage(self, name: str) -> tuple[str, bool]:
        return ("", False) if self.host else chroma_files.damage(self.index_dir / "chroma", name)

    def wipe(self) -> None:
        """Remove an embedded store that cannot be opened, so a rebuild starts a new one."""
        if not self.host:
            self.reopen(every=True)  # any client of this process on the old files
            shutil.rmtree(self.index_dir / "chroma", ignore_errors=True)
        self.texts.wipe()

    def reopen(self, every: bool = False) -> None:
        """Forget cached state: a long-lived reader must reopen to see what another process wrote
        (Chroma keeps each collection's vector index in memory, per process)."""
        if (self._client is not None or every) and not self.host:
            light_overrides()
            from chromadb.api.shared_system_client import SharedSystemClient

            if self._client is not None:  # stopped, not just dropped: a dropped one left ~1 MB behind per reopen
                with suppress(Exception):
                    self._client.close()
            SharedSystemClient.clear_system_cache()
        self._client = None
        self.texts.close()  # a connection to a text store another process removed would read the old file
        if self._copy is not None:
            shutil.rmtree(self._copy.parent, ignore_errors=True)
            self._copy = None

    def new_name(self, tag: str) -> str:
        return f"{self.prefix}-{tag}"

    def _collection(self, name: str, create: bool = True):
        client = self.client  # an unreachable server fails here, with its own message
        if create:
            return client.get_or_create_collection(name, configuration={"hnsw": dict(HNSW)}, embedding_function=None)
        try:
            return client.get_collection(name, embedding_function=None)
        except Exception:  # chromadb raises NotFoundError or ValueError depending on the client
            raise CollectionMissing(f"the index's vectors ({name}) are missing from the store; "
                                    "run `reread index` to rebuild them") from None

    def add(self, name: str, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        """Upsert: re-adding after a crash neither fails nor doubles. Texts first: a chunk with a vector always
        has its text (a text without a vector, left by a kill, is an orphan `ids` lists for the repair)."""
        if not chunks:
            return
        self._writing()
        self.texts.put(name, [(c.id, c.text, c.metadata.get("highlights") or []) for c in chunks])
        col, step = self._collection(name), self._batch()
        for i in range(0, len(chunks), step):  # Chroma refuses a write larger than its max batch size
            part = chunks[i:i + step]
            col.upsert(ids=[c.id for c in part], embeddings=vectors[i:i + step], metadatas=[flat(c) for c in part])

    def _batch(self) -> int:
        try:
            return max(1, min(5000, int(self.client.get_max_batch_size())))
        except Exception:  # older servers do not say
            return 1000

    def create(self, name: str) -> None:
        self._writing()
        self.texts.create(name)
        self._collection(name, create=True)

    def delete(self, name: str, ids: list[str]) -> None:
        self._writing()
        col, step = self._collection(name), self._batch()
        for i in range(0, len(ids), step):
            col.delete(ids=ids[i:i + step])
        self.texts.delete(name, ids)

    def stored_vectors(self, name: str, ids: list[str]) -> list[tuple[list[float], str]]:
        """(vector, embedded-text hash) of stored chunks: to keep them without re-embedding."""
        if not ids:
            return []
        got = self._collection(name).get(ids=ids, include=["embeddings", "metadatas"])
        return [(list(map(float, e)), span_of(m or {})[3]) for e, m in zip(got["embeddings"], got["metadatas"],
                                                                           strict=True)]

    def ids(self, name: str) -> set[str]:
        """Every id stored under the collection: with a vector, a text, or both."""
        return set(self._collection(name).get(include=[])["ids"]) | self.texts.ids(name)

    def count(self, name: str) -> int:
        return self._collection(name).count()

    def names(self) -> list[str]:
        """This index's collections, with vectors or texts (a kill between the two leaves one)."""
        found = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        return sorted({n for n in [*found, *self.texts.names()] if n.startswith(self.prefix)})

    def drop(self, name: str) -> None:
        self._writing()
        with suppress(Exception):  # already gone
            self.client.delete_collection(name)
        self.texts.drop(name)
        self.compact()

    def compact(self) -> None:
        """Give back the disk a drop or a purge freed (chroma_files.compact); under the writer lock."""
        self.texts.compact()
        if not self.host:
            chroma_files.compact(self.index_dir / "chroma")

    @guard_disk(writing=False)
    def query(self, name: str, vector: list[float], k: int, filters: Filters | None = None,
              files: Mapping[str, Any] | None = None, texts: bool = True) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity (texts=False: their texts blank, for with_texts to
        fill once the few that are kept are known). A chunk another process deleted since this one loaded the
        collection's vector index (Chroma keeps it in memory) comes back without metadata: skipped."""
        col = self._collection(name, create=False)
        sources = allowed_sources(filters, files)
        # SQLite takes ~32k variables a statement: a long list of sources is searched in parts, the best k kept
        parts = [None] if sources is None else [sources[i:i + MAX_IN] for i in range(0, len(sources), MAX_IN)]
        rows = []
        for part in parts:
            got = col.query(query_embeddings=[vector], n_results=k, include=["metadatas", "distances"],
                            where=None if part is None else {"source": {"$in": part}})
            rows += zip(got["ids"][0], got["metadatas"][0], got["distances"][0], strict=True)
        if sources is None and len(rows) < k and (count := col.count()) > len(rows) and count <= EXACT_MAX:
            rows = _exact(col, vector, k)
        rows.sort(key=lambda r: r[2])
        found = self._texts(name, [r[0] for r in rows[:k] if r[1]], texts)
        return [(chunk_from(i, m, found[i], files), 1.0 - float(dist)) for i, m, dist in rows[:k] if i in found]

    @guard_disk(writing=False)
    def nearest_ids(self, name: str, vector: list[float], k: int) -> list[tuple[str, float]]:
        """The k nearest ids with their cosine, reading no metadata (a few ms even for k in the thousands)."""
        got = self._collection(name, create=False).query(query_embeddings=[vector], n_results=k, include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    @guard_disk(writing=False)
    def get_with_vectors(self, name: str, ids: list[str], files: Mapping[str, Any] | None = None,
                         texts: bool = True) -> dict[str, tuple[Chunk, list[float]]]:
        if not ids:
            return {}
        got = self._collection(name, create=False).get(ids=ids, include=["metadatas", "embeddings"])
        found = self._texts(name, list(got["ids"]), texts)
        return {i: (chunk_from(i, m, found[i], files), list(map(float, e)))
                for i, m, e in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True) if m and i in found}

    @guard_disk(writing=False)
    def get(self, name: str, ids: list[str], files: Mapping[str, Any] | None = None,
            texts: bool = True) -> dict[str, Chunk]:
        """Stored chunks by id (ids no longer stored are absent)."""
        if not ids:
            return {}
        got = self._collection(name, create=False).get(ids=ids, include=["metadatas"])
        found = self._texts(name, list(got["ids"]), texts)
        return {i: chunk_from(i, m, found[i], files)
                for i, m in zip(got["ids"], got["metadatas"], strict=True) if m and i in found}

    def with_texts(self, name: str, chunks: list[Chunk]) -> list[Chunk]:
        """Chunks read with texts=False, their texts and highlights filled in (one deleted since is left out)."""
        found = self._texts(name, [c.id for c in chunks], True)
        for c in chunks:
            if c.id in found:
                c.text, c.metadata["highlights"] = found[c.id]
        return [c for c in chunks if c.id in found]

    def _texts(self, name: str, ids: list[str], read: bool) -> dict[str, tuple[str, list]]:
        """The texts of chunks just read from Chroma (blank for each when not read). One another process deleted
        since is absent (its chunk is skipped); a whole collection gone (a rebuild swapped it out) is
        CollectionMissing: the caller re-reads the manifest."""
        if not read:
            return dict.fromkeys(ids, ("", []))
        got = self.texts.get(name, ids)
        if len(got) < len(ids) and name not in self.texts.names():
            raise CollectionMissing(f"the index's texts ({name}) are missing; run `reread index` to rebuild them")
        return got
