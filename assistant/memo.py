"""Vectors of short texts remembered across one process's questions."""

from __future__ import annotations

import threading
from collections import OrderedDict


class MemoEmbedder:
    """An answer embeds the same texts twice: the question (to search, then to weigh candidate sentences) and the
    first candidates' sentences (re-read by the retriever, then weighed by the offline answerer). Each is
    computed once; the least recently used are forgotten past `size`. The UI asks from many threads, so the
    memo is locked (the embedding itself is not). Anything else is the wrapped embedder's."""

    def __init__(self, inner, size: int = 4096):
        self.inner = inner
        self.size = size
        self._memo: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def embed(self, texts: list[str]) -> list[list[float]]:
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            found = {t: self._memo[t] for t in wanted if t in self._memo}
            for t in found:
                self._memo.move_to_end(t)
        missing = [t for t in wanted if t not in found]
        if missing:
            computed = dict(zip(missing, self.inner.embed(missing), strict=True))
            found.update(computed)
            with self._lock:
                self._memo.update(computed)
                while len(self._memo) > self.size:
                    self._memo.popitem(last=False)
        return [found[t] for t in texts]
