"""Preparing one file: read, parse and chunk it, or say why it cannot land, as its manifest entry will.

One odd file must not stop the rest of the vault: every error while parsing or chunking becomes the file's
reason in the report and in its manifest entry (kept, so an unchanged bad file is not re-read every run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import plan
from .chunker import Chunker, ChunkerConfig
from .discover import SourceFile
from .errors import UnreadableFile
from .manifest import FileEntry
from .plan import FileJob
from .settings import Settings
from .sources import kind_of, parse_source
from .types import Chunk, IndexReport


@dataclass
class Prepared:
    """A file read and chunked (chunks), or not (error), with what its manifest entry records."""

    job: FileJob
    digest: str
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    error: str | None = None

    def entry(self) -> FileEntry:
        f = self.file
        if self.error is not None:
            return FileEntry(f.source, kind_of(f.source), f.size, f.mtime_ns, self.digest, [], error=self.error)
        first = self.chunks[0]
        return FileEntry(f.source, first.kind, f.size, f.mtime_ns, self.digest, [c.id for c in self.chunks],
                         self.encoding, list(self.warnings), tags=list(first.metadata.get("tags") or []),
                         title=first.title, author=str(first.metadata.get("author") or ""),
                         aliases=list(first.metadata.get("aliases") or []))

    @property
    def file(self) -> SourceFile:
        return self.job.file

    def report_to(self, report: IndexReport) -> None:
        """The file's failure, or its warnings, as `reread index` reports them."""
        if self.error is not None:
            report.failed.append({"source": self.file.source, "error": self.error})
            return
        for w in self.warnings:
            report.warnings.append({"source": self.file.source, "warning": w})


class Preparer:
    """Holds the chunker, built on first use (the tokenizer loads then): a run with nothing to read skips it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_bytes = int(settings.max_file_mb * 1e6)
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            from .models import model_dir, window
            from .tokens import TokenCounter

            name = self.settings.embed_model
            counter = TokenCounter(model_dir(name) / "tokenizer.json", window(name))
            self._chunker = Chunker(counter, ChunkerConfig(self.settings.chunk_size, self.settings.chunk_overlap))
        return self._chunker

    def prepare(self, job: FileJob) -> Prepared:
        f = job.file
        digest = job.digest or plan.sha256_file(f.path)
        try:
            try:
                doc = parse_source(f.source, f.path, self.max_bytes)
                chunks = self.chunker.chunk(doc)
            except UnreadableFile:
                raise
            except Exception as e:  # one odd file must not stop the rest of the vault from landing
                raise UnreadableFile(f.source, f"could not be parsed ({type(e).__name__}: {e}); "
                                               "list it in .rereadignore and report the file") from e
            if not chunks:
                raise UnreadableFile(f.source, "no text to index")
        except UnreadableFile as e:
            return Prepared(job, digest, error=e.reason)
        return Prepared(job, digest, chunks, doc.warnings, doc.metadata.get("encoding"))
