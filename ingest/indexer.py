"""The vault -> the index, incrementally: stat against the manifest, re-embed only what changed.

The orchestrator: planning the diff is plan.py, reading a file prepare.py, its vectors vectors.py, and what
keeps a killed run or a reader safe generations.py. Here is only the order they run in.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from . import generations as gen
from . import lexical
from . import manifest as mf
from .auto_embedder import AutoEmbedder
from .chunker import Chunker
from .discover import SourceFile, discover
from .errors import ConfigError, IndexDamaged, RereadError
from .lock import DiskFull, ReadOnlyIndex, WriterLock, disk_full, read_only_part
from .manifest import FileEntry, Manifest
from .plan import FileJob, fingerprint, make_plan, rebuild_reason
from .prepare import Prepared, Preparer
from .progress import NoProgress, Progress
from .protocols import Embedder, IndexStore
from .settings import Settings
from .store import ChromaStore
from .types import Chunk, IndexReport
from .vectors import stored_vectors, vectors_for

BATCH_FILES = 32  # files written together; an incremental run saves the manifest after each batch
# A rebuild embeds at least this many chunks per call, over several batches: sorted by length together they pad
# less (200 generated notes: +3.9% padded word pieces in one-batch calls, +0.6% in one call).
EMBED_AHEAD = 1024
# The most disk a chunk takes as it lands (vector, metadata, Chroma's write-ahead log and segment, the lexical side):
# ~7.4 KB measured on 240 short chunks; twice that is asked for free before each write.
BYTES_PER_CHUNK = 16 << 10


@dataclass(frozen=True)
class OldVectors:
    """What a rebuild may reuse: the collection it replaces and that index's files (their chunk ids)."""

    collection: str
    files: dict[str, FileEntry]

    def ids(self, sources: Iterable[str]) -> list[str]:
        """The old chunk ids of these files (a file new to the vault has none)."""
        return [i for s in sources if s in self.files for i in self.files[s].chunk_ids]


class Indexer:
    """Touches the model and Chroma only when there is work: no chromadb or torch for a no-change run."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: IndexStore | None = None,
                 progress: Progress | None = None, log: Callable[[str], None] = lambda msg: None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir).resolve()
        # both load lazily (the model on first embed, the Chroma client on first use): building them is free
        self.embedder: Embedder = embedder or AutoEmbedder(settings.embed_model, settings.embed_backend,
                                                           cache=self.index_dir / "models")
        self.store: IndexStore = store or ChromaStore(self.index_dir, settings.chroma_host, settings.chroma_port)
        self.progress = progress or NoProgress()
        self.log = log
        self.preparer = Preparer(settings)
        self._landed: list[Chunk] = []  # this run's new chunks, for the lexical side
        self.manifest: Manifest | None = None  # what the last run saved: the caller need not read it back
        self._early: tuple[tuple[int, int, int] | None, Manifest | None] | None = None  # read before the lock

    @property
    def chunker(self) -> Chunker:
        return self.preparer.chunker

    def fingerprint(self) -> dict:
        # the encoder beside the model: int8 ONNX and torch vectors differ slightly, and must never mix
        return fingerprint(self.settings, getattr(self.embedder, "encoder", self.settings.embed_backend))

    def run(self, vault: Path | None = None, full: bool = False) -> IndexReport:
        t0 = perf_counter()
        vault = Path(vault or self._remembered_vault() or self.settings.notes_dir).expanduser().resolve()
        if not vault.is_dir():
            raise ConfigError(f"the vault {vault} is not a folder; set REREAD_NOTES_DIR in .env or pass --vault DIR")
        self.index_dir.mkdir(parents=True, exist_ok=True)
        report = IndexReport()
        # the chunker tokenizes a few short texts per call: on 2 cores the tokenizers' thread pool cost 40% more
        # CPU than one thread (200 generated notes: 1.15 -> 0.82 CPU-s chunking); the same word pieces either way
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with WriterLock(self.index_dir, self.settings.lock_timeout):
            read_only = read_only_part(self.index_dir)
            if read_only is not None:  # refused before anything is written, not with SQLite's error midway
                raise ReadOnlyIndex(self.index_dir, read_only)
            try:
                self._locked(vault, full, report)
            except DiskFull as e:  # stopped before a write, or met reading back stored vectors: this run failed
                raise DiskFull(self.index_dir, e.cause, writing=True, written=e.written) from None
            except RereadError:
                raise
            except Exception as e:  # a full disk is one line; the crash protocol keeps the index as it was
                if not self.settings.chroma_host and disk_full(self.index_dir, e):
                    raise DiskFull(self.index_dir, e, writing=True) from None
                raise
        report.seconds = perf_counter() - t0
        return report

    def _locked(self, vault: Path, full: bool, report: IndexReport) -> None:
        """The run, under the writer lock: repair, then rebuild or update."""
        prepare = getattr(self.embedder, "prepare", None)
        if prepare is not None:  # the ONNX export, made once if missing: before the fingerprint names it
            prepare(self.log)
        exports = [] if self.settings.index_exports else [vault / self.settings.export_folder]
        files = discover(vault, exclude=[self.index_dir, *exports], warnings=report.warnings)  # loops, links out
        old, damage = self._inspect()
        if damage is not None and damage.rebuild:
            old = None  # nothing to keep: rebuilt as a first run would build it
        reason = rebuild_reason(old, self.fingerprint(), vault, full)
        if (reason or old is None) and files:
            self._check_model()  # before anything in the index is touched
        if damage is not None:
            self._note(report, damage)
            if damage.wipe:
                self.store.wipe()
            elif old is not None:
                old.lexical = ""  # written again from the stored chunks by this run's publish
        old, stale = self._repair(old, report, bool(files))
        if old is None:
            reason = ""  # built as a first run would build it
        if reason:
            report.messages.append(reason)
            self.log(reason)
        if reason or old is None:
            self._rebuild(vault, files, old, report, reuse=not full)
        else:
            self._update(files, old, stale, report)
        if reason or report.added or report.updated or report.removed or report.renamed:
            self.store.compact()  # pages Chroma's write-ahead log freed

    def _repair(self, old: Manifest | None, report: IndexReport, files: bool) -> tuple[Manifest | None, bool]:
        """gen.repair, and whether the lexical side may be stale. A kill while Chroma wrote its HNSW files once
        left a log Chroma could not apply (the kill -9 test, once in many runs): the files read as whole to
        sqlite3, yet every later run died in the repair with chromadb's InternalError. The store is derived
        data: it is named in a warning, wiped and rebuilt (old comes back None)."""
        try:
            return old, gen.repair(self.index_dir, self.store, old)
        except Exception as e:
            if self.settings.chroma_host or not type(e).__module__.startswith("chromadb"):
                raise
            why = f"could not be read ({type(e).__name__}: {' '.join(str(e).split())})"
        self._note(report, gen.Damage(str(getattr(self.store, "location", "the vector store")), why,
                                      rebuild=True, wipe=True))
        self.store.wipe()
        (self.index_dir / mf.DIRTY).unlink(missing_ok=True)  # nothing is left to repair
        if files:
            self._check_model()  # before the rebuild
        return None, gen.repair(self.index_dir, self.store, None)

    def _inspect(self) -> tuple[Manifest | None, gen.Damage | None]:
        """The manifest, and what is damaged in the index: an unreadable manifest means a rebuild (the index is
        derived data), as do lost vectors; a damaged lexical generation is written again from the vectors."""
        try:
            old = self._manifest_now()
        except IndexDamaged as e:
            return None, gen.Damage(e.path, e.problem, rebuild=True)
        return old, gen.inspect(self.index_dir, self.store, old) if old is not None else None

    def _manifest_now(self) -> Manifest | None:
        """The manifest, under the lock: the one read for the remembered vault if its file is unchanged since (one
        parse, not two, of a manifest listing 100k chunks), else read now."""
        read, self._early = self._early, None
        if read is not None and read[0] is not None and read[0] == _signature(self.index_dir / mf.MANIFEST):
            return read[1]
        return mf.load(self.index_dir, older=True)

    def _note(self, report: IndexReport, damage: gen.Damage) -> None:
        """A repair is a warning in the report (one line, naming the file) and a line on the log."""
        report.warnings.append(damage.warning)
        report.messages.append(f"{damage.path} {damage.warning['warning']}")
        self.log(f"{damage.path} {damage.problem}: repairing it")

    def _remembered_vault(self) -> str | None:
        """With neither --vault nor REREAD_NOTES_DIR given, an index keeps the vault it was built from."""
        if "notes_dir" in self.settings.model_fields_set:
            return None
        sig = _signature(self.index_dir / mf.MANIFEST)  # taken first: a change while reading means a re-read
        try:
            old = mf.load(self.index_dir, older=True)
        except RereadError:
            return None
        self._early = (sig, old)
        return old.vault if old is not None and Path(old.vault).is_dir() else None

    def _update(self, files: list[SourceFile], m: Manifest, stale: bool, report: IndexReport) -> None:
        """Only what changed, in place: deletes first, then the files in batches, the manifest saved after each."""
        plan = make_plan(files, m.files)
        report.unchanged = len(plan.unchanged)
        for f in plan.touched:
            m.files[f.source].mtime_ns, m.files[f.source].size = f.mtime_ns, f.size
        if not (plan.work or stale or not m.lexical or not lexical.weighed_as_now(self.index_dir, m.lexical)):
            if plan.touched:
                mf.save(self.index_dir, m)
            self.manifest = m
            report.chunks = m.chunks
            return
        with gen.Dirty(self.index_dir):
            self.progress.start(len(plan.jobs), "indexing")
            for s in plan.removed:
                self.store.delete(m.collection, m.files.pop(s).chunk_ids)
            report.removed = len(plan.removed)
            for job in plan.renamed:  # the new path's entry is written when it lands
                m.files.pop(job.moved_from)
            todo = batches(plan.jobs)
            for i, batch in enumerate(todo, start=1):
                self._land([self._read(batch, m, report)], m)
                if i < len(todo):  # progress survives a crash (the dirty marker covers the rest); the last
                    mf.save(self.index_dir, m)  # batch is saved by _publish right after (~0.15 s at 100k chunks)
            self._publish(m)
            self.progress.finish()
            report.added = landed(plan.added + plan.retried, m)
            report.updated = landed(plan.changed, m)
            report.renamed = landed(plan.renamed, m)
        report.chunks = m.chunks

    def _rebuild(self, vault: Path, files: list[SourceFile], old: Manifest | None, report: IndexReport,
                 reuse: bool) -> None:
        """Everything, into a new collection; readers keep the old one until the manifest swaps. Rebuilt for a new
        index format, chunker or vault, the old collection's vectors are reused wherever the model reads the same
        text (same model, encoder and store): only a --full run or another model re-embeds all."""
        m = Manifest(self.fingerprint(), str(vault), self.store.new_name(gen.new_tag()))
        same = ("embed_model", "encoder", "store")
        keep = reuse and old is not None and all(old.fingerprint.get(k) == m.fingerprint.get(k) for k in same)
        self._fill(m, files, report, OldVectors(old.collection, old.files) if keep and old is not None else None)
        report.added = sum(1 for e in m.files.values() if not e.error)
        report.removed = len(set(old.files) - set(m.files)) if old else 0
        report.chunks = m.chunks
        self._publish(m)  # the swap: readers move to the new collection here
        gen.finish_rebuild(self.index_dir, self.store, old, m)

    def _fill(self, m: Manifest, files: list[SourceFile], report: IndexReport, old: OldVectors | None) -> None:
        """A rebuild's new collection, every file read and landed."""
        gen.begin_rebuild(self.index_dir, self.store, m)
        self.progress.start(len(files), "indexing")
        ahead: list[list[Prepared]] = []  # nothing is saved between batches here: embed several at once
        for batch in batches([FileJob(f) for f in files]):
            ahead.append(self._read(batch, m, report))
            if sum(len(p.chunks) for b in ahead for p in b) >= EMBED_AHEAD:
                self._land(ahead, m, old)
                ahead = []
        self._land(ahead, m, old)
        self.progress.finish()

    def _check_model(self) -> None:
        """Load the tokenizer and the model before a rebuild starts: one that cannot load would otherwise fail
        every file, and the empty rebuild would replace a good index."""
        try:
            self.preparer.chunker  # noqa: B018 -- built here: the tokenizer loads
            check = getattr(self.embedder, "check", None)
            if check is not None:
                check()
        except RereadError:
            raise
        except Exception as e:  # whatever the model's loader raises for a broken folder
            raise ConfigError(f"REREAD_EMBED_MODEL={self.settings.embed_model!r} cannot be loaded "
                              f"({type(e).__name__}: {' '.join(str(e).split())}); fix it in the environment or .env, "
                              "the index is unchanged") from None

    def _publish(self, m: Manifest) -> None:
        gen.publish(self.index_dir, self.store, m, self._landed)
        self._landed = []
        self.manifest = m

    def _read(self, jobs: list[FileJob], m: Manifest, report: IndexReport) -> list[Prepared]:
        """Prepare a batch of files; one that cannot land is recorded now (its old chunks deleted)."""
        ready: list[Prepared] = []
        for job in jobs:
            self.progress.detail("reading", source=job.source)
            p = self.preparer.prepare(job)
            p.report_to(report)
            if p.error is None:
                ready.append(p)
                continue
            if job.previous is not None and job.previous.chunk_ids:
                self.store.delete(m.collection, job.previous.chunk_ids)
            m.files[job.source] = p.entry()
            self.progress.advance()
        return ready

    def _land(self, group: list[list[Prepared]], m: Manifest, old: OldVectors | None = None) -> None:
        """Embed what is new in a group of batches in one call (stored vectors reused, a rebuild's from the old
        collection too), then write each batch (one upsert) and record its files."""
        chunks = [c for batch in group for p in batch for c in p.chunks]
        self._room(len(chunks))  # before the embedding, which would be lost
        stored = stored_vectors(self.store, m.collection,
                                [i for batch in group for p in batch if p.job.previous
                                 for i in p.job.previous.chunk_ids])
        if old is not None:
            stored |= stored_vectors(self.store, old.collection, old.ids(p.file.source for b in group for p in b))
        vectors = vectors_for(chunks, stored, self.embedder, self.progress)
        done = 0
        for batch in group:
            part = [c for p in batch for c in p.chunks]
            self.store.add(m.collection, part, vectors[done:done + len(part)])
            done += len(part)
            self._landed += part
            for p in batch:
                if p.job.previous is not None:
                    new_ids = {c.id for c in p.chunks}
                    self.store.delete(m.collection, sorted(set(p.job.previous.chunk_ids) - new_ids))
                m.files[p.file.source] = p.entry()
                self.progress.advance()

    def _room(self, chunks: int) -> None:
        """Stop before a write the disk clearly cannot take: Chroma part-way through applying its write-ahead log
        on a full disk fails every reader until space is freed; stopped here, readers keep the index."""
        if self.settings.chroma_host or not chunks:
            return
        free, need = shutil.disk_usage(self.index_dir).free, chunks * BYTES_PER_CHUNK
        if free < need:
            short = OSError(errno.ENOSPC, f"{free >> 10} KB free, {chunks} chunks to write need about {need >> 10} KB")
            raise DiskFull(self.index_dir, short, writing=True, written=False)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """A file's identity as saved (every save is a rename to a new inode), None if there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def batches(jobs: list[FileJob]) -> list[list[FileJob]]:
    return [jobs[i:i + BATCH_FILES] for i in range(0, len(jobs), BATCH_FILES)]


def landed(jobs: list[FileJob], m: Manifest) -> int:
    """How many of these files landed (the rest failed, with their reason in the manifest)."""
    return sum(1 for job in jobs if not m.files[job.source].error)
