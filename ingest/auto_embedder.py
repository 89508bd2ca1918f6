"""The embedder built from settings: the ONNX export when there is one, else sentence-transformers (torch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .embedder import SentenceTransformerEmbedder
from .onnx_encoder import OnnxEmbedder
from .onnx_export import ExportFailed, cache_root, ensure_export, find_export


class AutoEmbedder:
    """Readers only look for the export and, finding none, take the slower torch path to the same model;
    `reread index` calls prepare(), which makes the export if it is missing. Building one is free."""

    def __init__(self, name: str, backend: str = "onnx", cache: Path | None = None, shared: Path | None = None):
        self.name = name
        self.backend = backend
        self.cache = cache  # where `reread index` makes a missing export: the index directory's models/
        self.shared = shared or cache_root()  # the export made at install (make), read only
        self._inner: OnnxEmbedder | SentenceTransformerEmbedder | None = None

    def _find(self) -> Path | None:
        for root in (self.shared, self.cache):
            found = find_export(self.name, root) if root is not None else None
            if found is not None:
                return found
        return None

    def _pick(self) -> OnnxEmbedder | SentenceTransformerEmbedder:
        if self._inner is None:
            root = self._find() if self.backend == "onnx" else None
            self._inner = OnnxEmbedder(self.name, root) if root else SentenceTransformerEmbedder(self.name)
        return self._inner

    def prepare(self, log: Callable[[str], None] = lambda m: None) -> None:
        """Make the ONNX export if it is missing (loads torch once); if it cannot be made, say so and use torch."""
        if self.backend != "onnx" or isinstance(self._inner, OnnxEmbedder):
            return
        try:
            if self._find() is None:
                ensure_export(self.name, self.cache or self.shared, log)
        except ExportFailed as e:
            log(f"{e}; embedding with sentence-transformers (torch) instead")
            return
        self._inner = None  # pick again: the export is there now

    def check(self) -> None:
        """Load the model now, by embedding a few words: a model that cannot load fails before any write."""
        self.embed(["reread checks that the embedding model loads"])

    @property
    def encoder(self) -> str:
        """What computes the vectors, in the index fingerprint: onnx-int8, onnx-fp32 or torch."""
        return getattr(self._pick(), "encoder", "torch")

    @property
    def _model(self):
        """The loaded model or session, None before the first embed (benchmarks/reindex.py reads it)."""
        return self._inner._model if self._inner is not None else None

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self._pick().embed(texts)
