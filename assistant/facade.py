"""The Python facade the CLI and the UI share: Assistant(settings, embedder=None, store=None, llm=None)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ingest import manifest as mf
from ingest.embedder import SentenceTransformerEmbedder
from ingest.errors import IndexMismatch, IndexMissing
from ingest.indexer import Indexer
from ingest.progress import Progress
from ingest.settings import Settings
from ingest.store import ChromaStore, CollectionMissing
from ingest.types import Answer, Hit, IndexReport

from . import prompt
from .extractive import ExtractiveAnswerer
from .llm import OpenAIChat, resolve
from .retrieval import dense_search

BACKENDS = ("auto", "openai", "extractive")


class Assistant:
    """Production code passes only settings and gets the real parts; tests pass their own at the edge."""

    def __init__(self, settings: Settings, embedder=None, store=None, llm=None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir).resolve()
        # both load lazily (the model on first embed, the Chroma client on first use): building them is free
        self.embedder = embedder or SentenceTransformerEmbedder(settings.embed_model)
        self.store = store or ChromaStore(self.index_dir, settings.chroma_host, settings.chroma_port)
        self._llm = llm
        self._seen: str | None = None

    def index(self, vault: Path | None = None, full: bool = False, progress: Progress | None = None,
              log: Callable[[str], None] = lambda m: None) -> IndexReport:
        indexer = Indexer(self.settings, self.embedder, self.store, progress=progress, log=log)
        return indexer.run(vault, full)

    def manifest(self) -> mf.Manifest:
        m = mf.load(self.index_dir)
        if m is None:
            raise IndexMissing(f"nothing is indexed in {self.index_dir} yet; run `reread index` first")
        if m.fingerprint.get("embed_model") != self.settings.embed_model:
            raise IndexMismatch(f"the index was built with {m.fingerprint.get('embed_model')} but "
                                f"REREAD_EMBED_MODEL is {self.settings.embed_model}; run `reread index` to rebuild")
        return m

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        m = self._current_manifest()
        vector = self.embedder.embed([query])[0]
        try:
            return dense_search(self.store, vector, m.collection, k or self.settings.top_k)
        except CollectionMissing:  # a rebuild swapped collections between our manifest read and the query
            self.store.reopen()
            return dense_search(self.store, vector, self._current_manifest().collection, k or self.settings.top_k)

    def _current_manifest(self) -> mf.Manifest:
        m = self.manifest()
        if m.last_indexed != self._seen:
            if self._seen is not None:
                self.store.reopen()  # the index changed since we last read it, maybe by another process
            self._seen = m.last_indexed
        return m

    def passage(self, citation, context: int = 400) -> tuple[str, str, str]:
        """(before, quote, after) around a citation, read from the source as it was indexed."""
        m = self.manifest()
        path = Path(m.vault) / citation.source
        entry = m.files.get(citation.source)
        if citation.page:
            from pypdf import PdfReader

            reader = PdfReader(path)
            if reader.is_encrypted:
                reader.decrypt("")
            text = reader.pages[citation.page - 1].extract_text()
        else:
            text = path.read_bytes().decode((entry.encoding if entry else None) or "utf-8", errors="replace")
        s, e = citation.start, citation.end
        if text[s:e] != citation.quote:  # edited since it was indexed: show the quote as indexed
            return "", citation.quote, ""
        lead = "…" if s > context else ""
        tail = "…" if e + context < len(text) else ""
        return lead + text[max(0, s - context):s], text[s:e], text[e:e + context] + tail

    def backend(self, name: str | None = None) -> str:
        name = name or self.settings.backend
        if name == "auto":
            return "openai" if (self._llm or self.settings.api_key or self.settings.openai_base_url) else "extractive"
        return name

    @property
    def llm(self):
        if self._llm is None:
            s = self.settings
            self._llm = OpenAIChat(s.llm_model, s.api_key, s.openai_base_url, s.llm_timeout)
        return self._llm

    def ask(self, question: str, k: int | None = None, backend: str | None = None) -> Answer:
        answer = None
        for part in self.ask_stream(question, k, backend, stream=False):
            if isinstance(part, Answer):
                answer = part
        assert answer is not None
        return answer

    def ask_stream(self, question: str, k: int | None = None, backend: str | None = None,
                   stream: bool = True) -> Iterator[str | Answer]:
        """Yields the LLM's text as it comes, then the final Answer (markers checked, quotes found)."""
        name = self.backend(backend)
        llm = self.llm if name == "openai" else None  # a missing key fails before any retrieval
        hits = self.search(question, k)
        if llm is None:
            yield ExtractiveAnswerer(self.embedder).answer(question, hits)
            return
        if not hits:
            yield resolve(question, "", hits, name)
            return
        msgs = prompt.messages(question, hits)
        if stream:
            parts = []
            for delta in llm.stream(msgs):
                parts.append(delta)
                yield delta
            text = "".join(parts)
        else:
            text = llm.complete(msgs)
        yield resolve(question, text, hits, name)

    def status(self) -> dict:
        m = mf.load(self.index_dir)
        return {"vault": m.vault if m else str(Path(self.settings.notes_dir).resolve()),
                "index_dir": str(self.index_dir),
                "notes": sum(1 for f in m.files.values() if not f.error) if m else 0,
                "chunks": m.chunks if m else 0,
                "embed_model": m.fingerprint.get("embed_model") if m else self.settings.embed_model,
                "store": self.settings.store_mode,
                "last_indexed": m.last_indexed if m else None,
                "failed": sum(1 for f in m.files.values() if f.error) if m else 0,
                "collection": m.collection if m else None}
