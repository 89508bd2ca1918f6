"""The seams reread's parts meet at: what an embedder, a vector store and a chat model must do, and no more.

Only the methods the code really calls are here, so a test can pass an honest fake (a few lines) where the
real part would load a model, open Chroma or reach a server. The real ones: ingest/auto_embedder.py,
ingest/store.py (ChromaStore), assistant/llm.py (OpenAIChat). Nothing heavy is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from .types import Chunk, Filters

if TYPE_CHECKING:
    from .manifest import FileEntry


class Embedder(Protocol):
    """Texts -> unit vectors. The indexer, the retriever and the extractive answerer call only this."""

    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class PreparedEmbedder(Embedder, Protocol):
    """An embedder that also names its encoder and can make it ready. Optional: the indexer asks with getattr,
    so a plain Embedder (a test's fake) is fingerprinted by the encoder setting and needs no preparing."""

    @property
    def encoder(self) -> str: ...  # in the index fingerprint: vectors of two encoders never mix

    def prepare(self, log: Callable[[str], None]) -> None: ...  # e.g. the ONNX export, made once


class IndexStore(Protocol):
    """What the indexer writes and reads back: collections are generations, chunk ids are content hashes."""

    def new_name(self, tag: str) -> str: ...

    def create(self, name: str) -> None: ...

    def names(self) -> list[str]: ...

    def drop(self, name: str) -> None: ...

    def add(self, name: str, chunks: list[Chunk], vectors: list[list[float]]) -> None: ...  # an upsert

    def delete(self, name: str, ids: list[str]) -> None: ...

    def ids(self, name: str) -> set[str]: ...

    def get(self, name: str, ids: list[str], files: Mapping[str, FileEntry] | None = None) -> dict[str, Chunk]: ...

    def stored_vectors(self, name: str, ids: list[str]) -> list[tuple[list[float], str]]: ...  # (vector, hash)

    def compact(self) -> None: ...


class SearchStore(Protocol):
    """What the retriever and the facade read with. texts=False leaves the texts blank (the retriever reads a
    hundred candidates to keep five), with_texts fills them in."""

    def query(self, name: str, vector: list[float], k: int, filters: Filters | None = None,
              files: Mapping[str, FileEntry] | None = None, texts: bool = True) -> list[tuple[Chunk, float]]: ...

    def nearest_ids(self, name: str, vector: list[float], k: int) -> list[tuple[str, float]]: ...

    def get(self, name: str, ids: list[str], files: Mapping[str, FileEntry] | None = None,
            texts: bool = True) -> dict[str, Chunk]: ...

    def get_with_vectors(self, name: str, ids: list[str], files: Mapping[str, FileEntry] | None = None,
                         texts: bool = True) -> dict[str, tuple[Chunk, list[float]]]: ...

    def with_texts(self, name: str, chunks: list[Chunk]) -> list[Chunk]: ...

    def reopen(self) -> None: ...


class VectorStore(IndexStore, SearchStore, Protocol):
    """Both sides: what the facade holds and hands to the indexer and the retriever."""


class ChatModel(Protocol):
    """An LLM behind the openai backend: messages in, the reply whole or as it comes."""

    def complete(self, messages: list[dict[str, str]]) -> str: ...

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...
