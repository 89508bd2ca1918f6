"""Planning a run: what changed in the vault since the manifest, and whether the index must be rebuilt.

Kept apart from the writing so the diff can be read (and tested) on its own: it stats every file, hashes
only those whose size or mtime moved, and touches neither the model nor the store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .chunker import CHUNKER_VERSION
from .discover import SourceFile
from .manifest import FORMAT, FileEntry, Manifest
from .markdown import PARSER_VERSION
from .settings import Settings


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


@dataclass(frozen=True)
class FileJob:
    """One file to read, chunk and land, with what the manifest held for it before."""

    file: SourceFile
    previous: FileEntry | None = None  # its old entry: stored vectors to reuse, chunks to delete
    moved_from: str = ""  # a renamed file's old source
    digest: str = ""  # hashed while planning; "" means hash it when it is read

    @property
    def source(self) -> str:
        return self.file.source


@dataclass
class Plan:
    """The vault against the manifest, file by file."""

    unchanged: list[str] = field(default_factory=list)
    touched: list[SourceFile] = field(default_factory=list)  # same bytes, new mtime: only the stat is recorded
    added: list[FileJob] = field(default_factory=list)
    changed: list[FileJob] = field(default_factory=list)
    retried: list[FileJob] = field(default_factory=list)  # failed last time: the fix may not touch the file
    renamed: list[FileJob] = field(default_factory=list)  # same bytes at a new path: vectors move, none embedded
    removed: list[str] = field(default_factory=list)

    @property
    def work(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.renamed or self.retried)

    @property
    def jobs(self) -> list[FileJob]:
        """Every file to read, in the order they land."""
        return self.changed + self.added + self.retried + self.renamed


def make_plan(files: list[SourceFile], entries: dict[str, FileEntry]) -> Plan:
    """Compare the vault with the manifest; a file is hashed only when its size or mtime moved."""
    plan = Plan()
    current = {f.source for f in files}
    added: list[tuple[SourceFile, str]] = []
    for f in files:
        e = entries.get(f.source)
        if e and e.size == f.size and e.mtime_ns == f.mtime_ns and not e.error:
            plan.unchanged.append(f.source)
            continue
        digest = sha256_file(f.path)
        if e and digest == e.sha256 and not e.error:
            plan.unchanged.append(f.source)
            plan.touched.append(f)
        elif e and e.error:  # retried every run: the fix (a setting, permissions) may not touch the file
            plan.retried.append(FileJob(f, e, digest=digest))
        elif e:
            plan.changed.append(FileJob(f, e, digest=digest))
        else:
            added.append((f, digest))
    gone = [s for s in entries if s not in current]
    by_hash = {entries[s].sha256: s for s in gone if not entries[s].error and entries[s].chunk_ids}
    for f, digest in added:
        old = by_hash.pop(digest, None)
        if old is None:
            plan.added.append(FileJob(f, digest=digest))
        else:
            plan.renamed.append(FileJob(f, entries[old], moved_from=old, digest=digest))
    moved = {job.moved_from for job in plan.renamed}
    plan.removed = [s for s in gone if s not in moved]
    return plan


def fingerprint(settings: Settings, encoder: str) -> dict:
    """What the stored vectors and chunks depend on: an index built with another of these is rebuilt."""
    return {"format": FORMAT, "embed_model": settings.embed_model, "encoder": encoder,
            "chunker": CHUNKER_VERSION, "parser": PARSER_VERSION, "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap, "store": settings.store_mode}


def rebuild_reason(old: Manifest | None, fingerprint: dict, vault: Path, full: bool) -> str:
    """Why this run fills a new collection instead of updating the current one ("" when it need not)."""
    if old is None:
        return ""
    if full:
        return "full rebuild requested: re-embedding every file"
    if old.fingerprint != fingerprint:
        diff = {k: (old.fingerprint.get(k), v) for k, v in fingerprint.items() if old.fingerprint.get(k) != v}
        what = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items())
        return f"the index was built with other settings ({what}): rebuilding it cleanly"
    if old.vault != str(vault):
        return f"the index held the vault {old.vault}; replacing it with an index of {vault}"
    return ""
