"""sentence-transformers as an embedder (the Embedder protocol is in protocols.py); it loads lazily, offline."""

from __future__ import annotations

import os

from .models import model_dir


class SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2 (or a local folder); torch is imported on first use only."""

    encoder = "torch"  # in the index fingerprint, beside the model's name

    def __init__(self, name: str, batch_size: int = 32):
        self.name = name
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(model_dir(self.name)), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._load().encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()
