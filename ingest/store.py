"""Chroma behind llama-index's ChromaVectorStore: embedded on disk, or a Chroma server."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from .errors import IndexMismatch, RereadError
from .types import Chunk

PREFIX = "reread"


class CollectionMissing(IndexMismatch):
    """The manifest names a collection the store does not have (a rebuild just replaced it, or data loss)."""


def _flat(chunk: Chunk) -> dict[str, Any]:
    m = chunk.metadata
    return {"source": chunk.source, "kind": chunk.kind, "title": chunk.title, "heading": chunk.heading,
            "page": chunk.page or 0, "start": chunk.start, "end": chunk.end,
            "tags": ",".join(m.get("tags") or []), "author": m.get("author") or "",
            "has_highlights": bool(m.get("highlights")), "highlights": json.dumps(m.get("highlights") or []),
            "frontmatter": json.dumps(m.get("frontmatter") or {}, ensure_ascii=False),
            "embed_hash": hashlib.sha256(chunk.embed_text.encode()).hexdigest()[:16]}


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    metadata: dict[str, Any] = {"tags": [t for t in str(meta.get("tags") or "").split(",") if t],
                                "highlights": json.loads(meta.get("highlights") or "[]"),
                                "frontmatter": json.loads(meta.get("frontmatter") or "{}")}
    if meta.get("author"):
        metadata["author"] = meta["author"]
    return Chunk(id=chunk_id, source=meta["source"], kind=meta["kind"], title=meta.get("title", ""),
                 heading=meta.get("heading", ""), page=int(meta.get("page") or 0) or None,
                 start=int(meta["start"]), end=int(meta["end"]), text=text, metadata=metadata)


class ChromaStore:
    """One reread index in Chroma. Collections are generations: a full rebuild fills a new one."""

    def __init__(self, index_dir: Path, host: str | None = None, port: int = 8000):
        self.index_dir = Path(index_dir)
        self.host, self.port = host, port
        self.prefix = f"{PREFIX}-{hashlib.sha1(str(self.index_dir.resolve()).encode()).hexdigest()[:10]}"
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            cfg = ChromaSettings(anonymized_telemetry=False)
            try:
                if self.host:
                    self._client = chromadb.HttpClient(host=self.host, port=self.port, settings=cfg)
                    self._client.heartbeat()
                else:
                    self._client = chromadb.PersistentClient(path=str(self.index_dir / "chroma"), settings=cfg)
            except Exception as e:  # chromadb raises plain ValueError/ConnectionError variants
                if self.host:
                    raise RereadError(f"cannot reach the Chroma server at {self.host}:{self.port} ({e}); start it "
                                      "(chroma run) or fix REREAD_CHROMA_HOST/REREAD_CHROMA_PORT") from None
                raise RereadError(f"cannot open {self.index_dir / 'chroma'} ({e}); "
                                  "run `reread index --full` to rebuild it") from None
        return self._client

    def reopen(self) -> None:
        """Forget cached state: a long-lived reader must reopen to see what another process wrote
        (Chroma keeps each collection's vector index in memory, per process)."""
        if self._client is not None and not self.host:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        self._client = None

    def new_name(self, tag: str) -> str:
        return f"{self.prefix}-{tag}"

    def _collection(self, name: str, create: bool = True):
        client = self.client  # an unreachable server fails here, with its own message
        if create:
            return client.get_or_create_collection(name, configuration={"hnsw": {"space": "cosine"}})
        try:
            return client.get_collection(name)
        except Exception:  # chromadb raises NotFoundError or ValueError depending on the client
            raise CollectionMissing(f"the index's vectors ({name}) are missing from the store; "
                                    "run `reread index --full` to rebuild") from None

    def _vector_store(self, name: str, create: bool = True):
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self._collection(name, create))

    def add(self, name: str, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        if not chunks:
            return
        from llama_index.core.schema import TextNode

        ids = [c.id for c in chunks]
        self.delete(name, ids)  # add is not an upsert; re-adding after a crash must not fail or double
        nodes = [TextNode(id_=c.id, text=c.text, embedding=v, metadata=_flat(c), start_char_idx=c.start,
                          end_char_idx=c.end, excluded_embed_metadata_keys=list(_flat(c)))
                 for c, v in zip(chunks, vectors, strict=True)]
        store, step = self._vector_store(name), self._batch()
        for i in range(0, len(nodes), step):  # Chroma refuses a write larger than its max batch size
            store.add(nodes[i:i + step])

    def _batch(self) -> int:
        try:
            return max(1, min(5000, int(self.client.get_max_batch_size())))
        except Exception:  # older servers do not say
            return 1000

    def create(self, name: str) -> None:
        self._collection(name, create=True)

    def delete(self, name: str, ids: list[str]) -> None:
        col, step = self._collection(name), self._batch()
        for i in range(0, len(ids), step):
            col.delete(ids=ids[i:i + step])

    def texts_and_vectors(self, name: str, ids: list[str]) -> list[tuple[str, list[float], str]]:
        """(display text, vector, embed-text hash) of stored chunks: to move or keep them without re-embedding."""
        if not ids:
            return []
        got = self._collection(name).get(ids=ids, include=["embeddings", "metadatas", "documents"])
        return [(d or "", list(map(float, e)), (m or {}).get("embed_hash", ""))
                for d, e, m in zip(got["documents"], got["embeddings"], got["metadatas"], strict=True)]

    def ids(self, name: str) -> set[str]:
        return set(self._collection(name).get(include=[])["ids"])

    def count(self, name: str) -> int:
        return self._collection(name).count()

    def names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.client.list_collections()
                if (c if isinstance(c, str) else c.name).startswith(self.prefix)]

    def drop(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except Exception:  # already gone
            pass

    def query(self, name: str, vector: list[float], k: int) -> list[tuple[Chunk, float]]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        query = VectorStoreQuery(query_embedding=vector, similarity_top_k=k)
        result = self._vector_store(name, create=False).query(query)
        out = []
        for node, sim in zip(result.nodes, result.similarities or [], strict=False):
            cosine = 1.0 + math.log(sim) if sim > 0 else -1.0  # llama-index reports exp(-distance)
            out.append((chunk_from(node.node_id, node.get_content(), node.metadata), cosine))
        return out
