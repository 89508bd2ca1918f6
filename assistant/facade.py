"""The Python facade the CLI and the UI share: Assistant(settings, embedder=None, store=None, llm=None)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from ingest import manifest as mf
from ingest.auto_embedder import AutoEmbedder
from ingest.errors import IndexDamaged, IndexMismatch, IndexMissing, RereadError
from ingest.indexer import Indexer
from ingest.progress import Progress
from ingest.settings import Settings
from ingest.store import ChromaStore
from ingest.types import Answer, Filters, Hit, IndexReport

from . import prompt
from .conversation import standalone_question
from .extractive import ExtractiveAnswerer
from .facets import Facets, facets_of
from .llm import OpenAIChat, resolve
from .memo import MemoEmbedder
from .refusal import RefusalConfig, grounded, refusal
from .retrieval import Retriever
from .sharing import SharedStore, Sharing

BACKENDS = ("auto", "openai", "extractive")


class Assistant:
    """Production code passes only settings and gets the real parts; tests pass their own at the edge."""

    def __init__(self, settings: Settings, embedder=None, store=None, llm=None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir).resolve()
        # both load lazily (the model on first embed, the Chroma client on first use): building them is free
        self.embedder = embedder or AutoEmbedder(settings.embed_model, settings.embed_backend,
                                                 cache=self.index_dir / "models")
        self.store = store or ChromaStore(self.index_dir, settings.chroma_host, settings.chroma_port)
        self._llm = llm
        self._sharing = Sharing(self.store)  # the UI's sessions and its Re-index use this store from many threads
        self._manifest: tuple[tuple[int, int, int], mf.Manifest | None] | None = None
        self._variants: dict[str, Assistant] = {}  # using_model's copies, one per LLM model
        self._query_embedder = MemoEmbedder(self.embedder)  # questions and candidate sentences, not chunks
        self.retriever = Retriever(self.store, self._query_embedder, self.index_dir)
        self.refusal = RefusalConfig()

    def index(self, vault: Path | None = None, full: bool = False, progress: Progress | None = None,
              log: Callable[[str], None] = lambda m: None) -> IndexReport:
        """Index the vault through this assistant's store, while other threads keep searching it."""
        indexer = Indexer(self.settings, self.embedder, SharedStore(self.store, self._sharing), progress=progress,
                          log=log)
        if self._sharing.seen is not None:  # a client is open: another process's writes first, or it misses them
            self._sharing.refresh(self._version(), warm=False)  # (none open: nothing to refresh, no manifest read)
        with self._sharing.using(writing=True):
            try:
                return indexer.run(vault, full)
            finally:  # the version this run saved, from the indexer: no read of a 100k-chunk manifest back
                self._sharing.wrote(version(indexer.manifest) if indexer.manifest is not None else self._version())

    def manifest(self) -> mf.Manifest:
        m = self._read_manifest()
        if m is None:
            raise IndexMissing(f"nothing is indexed in {self.index_dir} yet; run `reread index` first")
        if m.fingerprint.get("embed_model") != self.settings.embed_model:
            raise IndexMismatch(f"the index was built with {m.fingerprint.get('embed_model')} but "
                                f"REREAD_EMBED_MODEL is {self.settings.embed_model}; run `reread index` to rebuild")
        return m

    def _read_manifest(self) -> mf.Manifest | None:
        """The manifest, parsed again only when its file was replaced (every save is a rename): a warm search
        over a 100k-chunk index no longer pays ~85 ms to re-read 5 MB of JSON."""
        try:
            st = (self.index_dir / mf.MANIFEST).stat()
        except FileNotFoundError:
            return None
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._manifest is None or self._manifest[0] != sig:
            self._manifest = (sig, mf.load(self.index_dir))
        return self._manifest[1]

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, rescore: bool = False
               ) -> list[Hit]:
        """The k passages that best match the query (dense and lexical, fused), within the filters. An answer's
        search (rescore) re-reads the first candidates sentence by sentence: better sources for ~100 ms."""
        k = k or self.settings.top_k
        m = self.manifest()
        try:
            return self._retrieve(m, query, k, filters, rescore)
        except Exception as e:
            now = self.manifest()
            if version(now) == version(m):  # the index did not move under the read: a real failure
                if isinstance(e, FileNotFoundError):  # a part of the index gone from under the manifest
                    raise IndexDamaged(e.filename or str(self.index_dir), "is missing") from None
                raise
        # a run swapped generations during the read (Chroma says so in several ways: a collection not found,
        # a missing segment, a lexical file gone): read the new ones
        return self._retrieve(now, query, k, filters, rescore)

    def _retrieve(self, m: mf.Manifest, query: str, k: int, filters: Filters | None, rescore: bool) -> list[Hit]:
        self._sharing.refresh(version(m))  # the index changed since we last read it, maybe by another process
        with self._sharing.using():
            return self.retriever.retrieve(m, query, k, filters, rescore)

    def _version(self) -> str | None:
        """The index's version, None when there is none or it cannot be read."""
        try:
            m = self._read_manifest()
        except RereadError:
            return None
        return version(m) if m else None

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

    def ask(self, question: str, k: int | None = None, backend: str | None = None,
            filters: Filters | None = None) -> Answer:
        return self.chat([], question, k, backend, filters)

    def chat(self, history: list[tuple[str, str]], question: str, k: int | None = None,
             backend: str | None = None, filters: Filters | None = None) -> Answer:
        """Answer a question that may follow earlier turns ((question, answer text) pairs, oldest first)."""
        answer = None
        for part in self.chat_stream(history, question, k, backend, filters, stream=False):
            if isinstance(part, Answer):
                answer = part
        assert answer is not None
        return answer

    def ask_stream(self, question: str, k: int | None = None, backend: str | None = None,
                   filters: Filters | None = None, stream: bool = True) -> Iterator[str | Answer]:
        return self.chat_stream([], question, k, backend, filters, stream)

    def chat_stream(self, history: list[tuple[str, str]], question: str, k: int | None = None,
                    backend: str | None = None, filters: Filters | None = None,
                    stream: bool = True) -> Iterator[str | Answer]:
        """Yields the LLM's text as it comes, then the final Answer (markers checked, quotes found).
        A follow-up is made standalone before retrieval; notes that cannot answer get no LLM call."""
        name = self.backend(backend)
        llm = self.llm if name == "openai" else None  # a missing key fails before any retrieval
        standalone = standalone_question(history, question, llm) if history else question
        hits = self.search(standalone, k, filters, rescore=True)
        extra = {"standalone": standalone if standalone != question else "",
                 "model": self.settings.llm_model if llm is not None else ""}
        ev = self.retriever.evidence(standalone, hits, self.refusal.depth)
        if not grounded(ev, self.refusal):
            yield refusal(question, hits, name, unmatched=ev.unmatched, **extra)
            return
        if llm is None:
            answer = ExtractiveAnswerer(self._query_embedder).answer(standalone, hits)
            yield replace(answer, question=question, nearest=[] if answer.found else hits, **extra)
            return
        p = prompt.build(question, hits, history=history, budget_tokens=self.settings.llm_context_tokens)
        if stream:
            parts = []
            for delta in llm.stream(p.messages):
                parts.append(delta)
                yield delta
            text = "".join(parts)
        else:
            text = llm.complete(p.messages)
        answer = resolve(question, text, p.hits, name)  # only sources the model was shown can be cited
        yield replace(answer, nearest=[] if answer.found else hits, **extra)

    def status(self) -> dict:
        m = self._read_manifest()
        return {"vault": m.vault if m else str(Path(self.settings.notes_dir).resolve()),
                "index_dir": str(self.index_dir),
                "notes": sum(1 for f in m.files.values() if not f.error) if m else 0,
                "chunks": m.chunks if m else 0,
                "embed_model": m.fingerprint.get("embed_model") if m else self.settings.embed_model,
                "encoder": m.fingerprint.get("encoder", "torch") if m else self.settings.embed_backend,
                "store": self.settings.store_mode,
                "last_indexed": m.last_indexed if m else None,
                "failed": sum(1 for f in m.files.values() if f.error) if m else 0,
                "collection": m.collection if m else None}

    def facets(self) -> Facets:
        """The tags, folders, kinds and sources a filter can choose from: what is indexed now."""
        return facets_of(self._read_manifest())

    def using_model(self, model: str) -> Assistant:
        """This assistant with another LLM model: the same settings otherwise, embedder, store and retriever.
        One per model is kept, so a session switching back and forth builds no new clients."""
        if not model or model == self.settings.llm_model:
            return self
        variants = self._variants
        if model not in variants:
            other = Assistant(self.settings.model_copy(update={"llm_model": model}), self.embedder, self.store)
            other.retriever, other.refusal, other._sharing = self.retriever, self.refusal, self._sharing
            other._query_embedder = self._query_embedder  # the retriever's: one memo for both
            variants[model] = other
        return variants[model]


def version(m: mf.Manifest) -> str:
    """What a reader has open: the collection and the lexical generation (named to the microsecond, new on every
    run that wrote; last_indexed is to the second, and two runs in one second share it)."""
    return f"{m.collection}/{m.lexical}/{m.last_indexed}"
