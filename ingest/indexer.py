"""The vault -> the index, incrementally: stat against the manifest, re-embed only what changed.

Crash safety: chunk ids are content hashes, Chroma is written before the manifest, and a `dirty`
marker brackets every write; a run that finds the marker reconciles Chroma with the manifest first.
A full rebuild fills a new collection and swaps the manifest at the end, so readers keep working.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

from . import lexical
from . import manifest as mf
from .auto_embedder import AutoEmbedder
from .chunker import CHUNKER_VERSION, Chunker, ChunkerConfig
from .discover import SourceFile, discover
from .errors import ConfigError, RereadError, UnreadableFile
from .lock import WriterLock
from .manifest import FileEntry, Manifest
from .markdown import PARSER_VERSION
from .progress import NoProgress, Progress
from .settings import Settings
from .store import ChromaStore, embed_hash
from .types import Chunk, IndexReport

BATCH_FILES = 32


def sha256_file(path: Path) -> str:
    """The content hash, or "" for a file that cannot be read (parsing then names the reason)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


@dataclass
class Plan:
    unchanged: list[str] = field(default_factory=list)
    retried: list[SourceFile] = field(default_factory=list)  # failed last time
    touched: dict[str, SourceFile] = field(default_factory=dict)  # same bytes, new mtime
    added: list[SourceFile] = field(default_factory=list)
    changed: list[SourceFile] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renamed: list[tuple[str, SourceFile]] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)

    @property
    def work(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.renamed or self.retried)


def make_plan(files: list[SourceFile], entries: dict[str, FileEntry]) -> Plan:
    """Compare the vault with the manifest; a file is hashed only when its size or mtime moved."""
    plan = Plan()
    current = {f.source for f in files}
    for f in files:
        e = entries.get(f.source)
        if e and e.size == f.size and e.mtime_ns == f.mtime_ns and not e.error:
            plan.unchanged.append(f.source)
            continue
        plan.hashes[f.source] = digest = sha256_file(f.path)
        if e and digest == e.sha256 and not e.error:
            plan.unchanged.append(f.source)
            plan.touched[f.source] = f
        elif e and e.error:  # retried every run: the fix (a setting, permissions) may not touch the file
            plan.retried.append(f)
        elif e:
            plan.changed.append(f)
        else:
            plan.added.append(f)
    gone = [s for s in entries if s not in current]
    by_hash = {entries[s].sha256: s for s in gone if not entries[s].error and entries[s].chunk_ids}
    for f in list(plan.added):
        old = by_hash.pop(plan.hashes.get(f.source, ""), None)
        if old is not None:
            plan.added.remove(f)
            plan.renamed.append((old, f))
    moved = {old for old, _ in plan.renamed}
    plan.removed = [s for s in gone if s not in moved]
    return plan


class Indexer:
    """Touches the model and Chroma only when there is work: no chromadb or torch for a no-change run."""

    def __init__(self, settings: Settings, embedder=None, store=None, progress: Progress | None = None,
                 log: Callable[[str], None] = lambda msg: None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir).resolve()
        # both load lazily (the model on first embed, the Chroma client on first use): building them is free
        self.embedder = embedder or AutoEmbedder(settings.embed_model, settings.embed_backend,
                                                 cache=self.index_dir / "models")
        self.store = store or ChromaStore(self.index_dir, settings.chroma_host, settings.chroma_port)
        self.progress = progress or NoProgress()
        self.log = log
        self._chunker: Chunker | None = None
        self._landed: list[Chunk] = []  # this run's new chunks, for the lexical side
        self._lexical_stale = False

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            from .models import model_dir, window
            from .tokens import TokenCounter

            name = self.settings.embed_model
            counter = TokenCounter(model_dir(name) / "tokenizer.json", window(name))
            self._chunker = Chunker(counter, ChunkerConfig(self.settings.chunk_size, self.settings.chunk_overlap))
        return self._chunker

    def fingerprint(self) -> dict:
        # the encoder beside the model: int8 ONNX and torch vectors differ slightly, and must never mix
        encoder = getattr(self.embedder, "encoder", self.settings.embed_backend)
        return {"format": mf.FORMAT, "embed_model": self.settings.embed_model, "encoder": encoder,
                "chunker": CHUNKER_VERSION, "parser": PARSER_VERSION, "chunk_size": self.settings.chunk_size,
                "chunk_overlap": self.settings.chunk_overlap, "store": self.settings.store_mode}

    def run(self, vault: Path | None = None, full: bool = False) -> IndexReport:
        t0 = perf_counter()
        vault = Path(vault or self._remembered_vault() or self.settings.notes_dir).expanduser().resolve()
        if not vault.is_dir():
            raise ConfigError(f"the vault {vault} is not a folder; set REREAD_NOTES_DIR in .env or pass --vault DIR")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        report = IndexReport()
        with WriterLock(self.index_dir, self.settings.lock_timeout):
            prepare = getattr(self.embedder, "prepare", None)
            if prepare is not None:  # the ONNX export, made once if missing: before the fingerprint names it
                prepare(self.log)
            exports = [] if self.settings.index_exports else [vault / self.settings.export_folder]
            files = discover(vault, exclude=[self.index_dir, *exports])
            old = mf.load(self.index_dir)
            reason = self._rebuild_reason(old, vault, full)
            self._cleanup(old)
            if reason:
                report.messages.append(reason)
                self.log(reason)
                self._rebuild(vault, files, old, report)
            else:
                self._update(vault, files, old, report)
            if reason or report.added or report.updated or report.removed or report.renamed:
                self.store.compact()  # pages Chroma's write-ahead log freed
        report.seconds = perf_counter() - t0
        return report

    def _remembered_vault(self) -> str | None:
        """With neither --vault nor REREAD_NOTES_DIR given, an index keeps the vault it was built from."""
        if "notes_dir" in self.settings.model_fields_set:
            return None
        try:
            old = mf.load(self.index_dir)
        except RereadError:
            return None
        return old.vault if old is not None and Path(old.vault).is_dir() else None

    def _rebuild_reason(self, old: Manifest | None, vault: Path, full: bool) -> str:
        if old is None:
            return ""
        if full:
            return "full rebuild requested: re-embedding every file"
        if old.fingerprint != self.fingerprint():
            diff = {k: (old.fingerprint.get(k), v) for k, v in self.fingerprint().items()
                    if old.fingerprint.get(k) != v}
            what = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items())
            return f"the index was built with other settings ({what}): rebuilding it cleanly"
        if old.vault != str(vault):
            return f"the index held the vault {old.vault}; replacing it with an index of {vault}"
        return ""

    def _cleanup(self, old: Manifest | None) -> None:
        """Repair what a killed run left: an unfinished rebuild, or Chroma ahead of the manifest."""
        building = self.index_dir / mf.BUILDING
        dirty = self.index_dir / mf.DIRTY
        if building.exists() or dirty.exists():
            for name in self.store.names():  # an unfinished rebuild's, or the one a finished rebuild replaced
                if old is None or name != old.collection:
                    self.store.drop(name)
            building.unlink(missing_ok=True)
        lexical.prune(self.index_dir, old.lexical if old else None)
        if dirty.exists() and old is not None:
            self._lexical_stale = True  # a killed run may have saved file entries the lexical side lacks
            present = self.store.ids(old.collection)
            expected = {i for e in old.files.values() for i in e.chunk_ids}
            self.store.delete(old.collection, sorted(present - expected))
            for entry in old.files.values():
                if not set(entry.chunk_ids) <= present:
                    entry.sha256, entry.size = "", -1  # forces a re-read and re-embed
            mf.save(self.index_dir, old)
            dirty.unlink()

    def _stamp(self, m: Manifest) -> None:
        m.last_indexed = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def _update(self, vault: Path, files: list[SourceFile], m: Manifest | None, report: IndexReport) -> None:
        if m is None:
            self._rebuild(vault, files, None, report)
            return
        plan = make_plan(files, m.files)
        report.unchanged = len(plan.unchanged)
        for s, f in plan.touched.items():
            m.files[s].mtime_ns, m.files[s].size = f.mtime_ns, f.size
        if plan.work or self._lexical_stale or not m.lexical:
            dirty = self.index_dir / mf.DIRTY
            dirty.touch()
            self.progress.start(len(plan.added) + len(plan.changed) + len(plan.renamed) + len(plan.retried),
                                "indexing")
            for s in plan.removed:
                self.store.delete(m.collection, m.files.pop(s).chunk_ids)
            report.removed = len(plan.removed)
            jobs = [(f, m.files.get(f.source), False) for f in plan.changed + plan.added + plan.retried]
            jobs += [(f, m.files.pop(old), True) for old, f in plan.renamed]
            for i in range(0, len(jobs), BATCH_FILES):
                self._process(jobs[i:i + BATCH_FILES], m, m.collection, plan.hashes, report)
                mf.save(self.index_dir, m)  # progress survives a crash; the dirty marker covers the rest
            self._stamp(m)
            self._lexical(m)
            mf.save(self.index_dir, m)
            lexical.prune(self.index_dir, m.lexical)
            self.progress.finish()
            report.added = sum(1 for f in plan.added + plan.retried if not m.files[f.source].error)
            report.updated = sum(1 for f in plan.changed if not m.files[f.source].error)
            report.renamed = sum(1 for _, f in plan.renamed if not m.files[f.source].error)
            dirty.unlink()
        elif plan.touched:
            mf.save(self.index_dir, m)
        report.chunks = m.chunks

    def _rebuild(self, vault: Path, files: list[SourceFile], old: Manifest | None, report: IndexReport) -> None:
        tag = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
        m = Manifest(self.fingerprint(), str(vault), self.store.new_name(tag))
        mf.save(self.index_dir, m, mf.BUILDING)
        self.store.create(m.collection)  # an empty vault still gets a (searchable, empty) collection
        self.progress.start(len(files), "indexing")
        hashes: dict[str, str] = {}
        jobs = [(f, None, False) for f in files]
        for i in range(0, len(jobs), BATCH_FILES):
            self._process(jobs[i:i + BATCH_FILES], m, m.collection, hashes, report)
        self.progress.finish()
        report.added = sum(1 for e in m.files.values() if not e.error)
        report.removed = len(set(old.files) - set(m.files)) if old else 0
        report.chunks = m.chunks
        self._stamp(m)
        self._lexical(m)
        mf.save(self.index_dir, m)  # the swap: readers move to the new collection here
        lexical.prune(self.index_dir, m.lexical)
        if old is not None and old.collection != m.collection:
            self.store.drop(old.collection)
        (self.index_dir / mf.BUILDING).unlink(missing_ok=True)  # last, so a crash before it still cleans up

    def _lexical(self, m: Manifest) -> None:
        name = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
        m.lexical = lexical.refresh(self.index_dir, m, self._landed, lambda ids: self.store.get(m.collection, ids),
                                    name)
        self._landed = []

    def _process(self, jobs: list[tuple[SourceFile, FileEntry | None, bool]], m: Manifest, collection: str,
                 hashes: dict[str, str], report: IndexReport) -> None:
        """Parse, chunk, embed (reusing stored vectors where the text is the same) and write a batch."""
        from .sources import parse_source

        max_bytes = int(self.settings.max_file_mb * 1e6)
        landed: list[tuple[SourceFile, FileEntry | None, bool, list[Chunk], str, list[str], str | None]] = []
        for f, prev, moved in jobs:
            digest = hashes.get(f.source) or sha256_file(f.path)
            try:
                try:
                    doc = parse_source(f.source, f.path, max_bytes)
                    chunks = self.chunker.chunk(doc)
                except UnreadableFile:
                    raise
                except Exception as e:  # one odd file must not stop the rest of the vault from landing
                    raise UnreadableFile(f.source, f"could not be parsed ({type(e).__name__}: {e}); "
                                                   "list it in .rereadignore and report the file") from e
                if not chunks:
                    raise UnreadableFile(f.source, "no text to index")
            except UnreadableFile as e:
                report.failed.append({"source": f.source, "error": e.reason})
                if prev is not None and prev.chunk_ids:
                    self.store.delete(collection, prev.chunk_ids)
                m.files[f.source] = FileEntry(f.source, "pdf" if f.path.suffix.lower() == ".pdf" else "note",
                                              f.size, f.mtime_ns, digest, [], error=e.reason)
                self.progress.advance()
                continue
            for w in doc.warnings:
                report.warnings.append({"source": f.source, "warning": w})
            landed.append((f, prev, moved, chunks, digest, doc.warnings, doc.metadata.get("encoding")))

        old_ids = [i for _, prev, *_ in landed if prev for i in prev.chunk_ids]
        stored = self._stored(collection, old_ids)
        all_chunks: list[Chunk] = []
        vectors: list[list[float] | None] = []
        for _, _, _, chunks, *_ in landed:
            for c in chunks:
                all_chunks.append(c)
                vectors.append(stored.get(embed_hash(c.embed_text)))
        todo = [i for i, v in enumerate(vectors) if v is None]
        for i, v in zip(todo, self.embedder.embed([all_chunks[i].embed_text for i in todo]) if todo else [],
                        strict=True):
            vectors[i] = v
        self.store.add(collection, all_chunks, vectors)  # type: ignore[arg-type]
        self._landed += all_chunks
        for f, prev, _, chunks, digest, warnings, encoding in landed:
            new_ids = [c.id for c in chunks]
            if prev is not None:
                self.store.delete(collection, sorted(set(prev.chunk_ids) - set(new_ids)))
            m.files[f.source] = FileEntry(f.source, chunks[0].kind, f.size, f.mtime_ns, digest, new_ids,
                                          encoding, list(warnings), tags=list(chunks[0].metadata.get("tags") or []))
            self.progress.advance()

    def _stored(self, collection: str, ids: list[str]) -> dict[str, list[float]]:
        """Vectors already in the store for these chunk ids, keyed by the hash of the text that was embedded."""
        if not ids:
            return {}
        return {h: vec for _, vec, h in self.store.texts_and_vectors(collection, ids) if h}
