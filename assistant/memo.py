"""Vectors of short texts remembered across one process's questions."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class MemoEmbedder:
    """An answer embeds the same texts twice: the question (to search, then to weigh candidate sentences) and the
    first candidates' sentences (re-read by the retriever, then weighed by the offline answerer). Each is
    computed once; the least recently used are forgotten past `size` (float32, ~1.5 KB each). A text is
    remembered per encoder: a Re-index that makes the ONNX export switches a torch-started process to it, and the
    two encoders' vectors must never mix. The UI asks from many threads, so the memo is locked (the embedding
    itself is not). Anything else is the wrapped embedder's."""

    def __init__(self, inner, size: int = 4096):
        self.inner = inner
        self.size = size
        self._memo: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        if name == "inner" or name.startswith("__"):  # a copy or unpickling, before __init__ ran
            raise AttributeError(name)
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        encoder = str(getattr(self.inner, "encoder", ""))
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            found = {t: self._memo[(encoder, t)] for t in wanted if (encoder, t) in self._memo}
            for t in found:
                self._memo.move_to_end((encoder, t))
        missing = [t for t in wanted if t not in found]
        if missing:
            computed = {t: np.asarray(v, dtype=np.float32)
                        for t, v in zip(missing, self.inner.embed(missing), strict=True)}
            found.update(computed)
            with self._lock:
                self._memo.update(((encoder, t), v) for t, v in computed.items())
                while len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        return [found[t].tolist() for t in texts]
