"""What is indexed, beside the index: per file its stat, hash and chunk ids; written atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .errors import IndexDamaged, IndexMismatch

FORMAT = 4  # 2: lexical generations, tags per file, vectors keyed on the embedded text; 3: title and author per
# file; 4: chunk texts in their own store (texts.py), not in Chroma's metadata
TEXTS_SINCE = 4  # the first format with the text store
MANIFEST = "manifest.json"
BUILDING = "manifest.building.json"
DIRTY = "dirty"


@dataclass
class FileEntry:
    source: str
    kind: str
    size: int
    mtime_ns: int
    sha256: str
    chunk_ids: list[str]
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # why the file did not land; kept so an unchanged bad file is not re-read
    tags: list[str] = field(default_factory=list)  # per file, for filters: stored once, not on every chunk
    title: str = ""  # per file as well: a chunk read from the store gets these three from here
    author: str = ""
    aliases: list[str] = field(default_factory=list)  # a note's other names (front matter), for search and links


@dataclass
class Manifest:
    fingerprint: dict
    vault: str
    collection: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    last_indexed: str = ""
    format: int = FORMAT
    lexical: str = ""  # the lexical generation folder that matches these files (lexical.py)
    lexical_sizes: dict[str, int] = field(default_factory=dict)  # its files' sizes: a damaged one is seen by a stat

    @property
    def chunks(self) -> int:
        return sum(len(f.chunk_ids) for f in self.files.values())

    def to_json(self) -> dict:
        return {"format": self.format, "fingerprint": self.fingerprint, "vault": self.vault,
                "collection": self.collection, "last_indexed": self.last_indexed, "lexical": self.lexical,
                "lexical_sizes": self.lexical_sizes,
                "files": {k: vars(v) for k, v in sorted(self.files.items())}}  # asdict deep-copies: 3 s at 18k files

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        if not (isinstance(data.get("fingerprint"), dict) and isinstance(data.get("files", {}), dict)
                and isinstance(data.get("format", 0), int)):
            raise TypeError("fingerprint and files must be objects, format a number")
        return cls(fingerprint=data["fingerprint"], vault=data["vault"], collection=data["collection"],
                   files={k: FileEntry(**v) for k, v in data.get("files", {}).items()},
                   last_indexed=data.get("last_indexed", ""), format=data.get("format", 0),
                   lexical=data.get("lexical", ""), lexical_sizes=dict(data.get("lexical_sizes", {})))


def load(index_dir: Path, name: str = MANIFEST, older: bool = False) -> Manifest | None:
    """The manifest, None before the first run. An index of another format is refused in one line: a newer one
    always (this reread would misread it, and must not rebuild it away), an older one unless `older` (the
    indexer reads it to rebuild it)."""
    path = Path(index_dir) / name
    try:
        data = orjson.loads(path.read_bytes())  # orjson: the 10 MB manifest of 100k chunks in ~0.1 s
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # truncated, not JSON, not UTF-8, a folder
        raise IndexDamaged(str(path), f"is unreadable ({_one_line(e)})") from None
    try:
        m = Manifest.from_json(data)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise IndexDamaged(str(path), f"has an unknown layout ({type(e).__name__}: {_one_line(e)})") from None
    if m.format > FORMAT:
        raise IndexMismatch(f"the index in {index_dir} was written by a newer reread (index format {m.format}; this "
                            f"one reads {FORMAT}): upgrade reread, or set REREAD_INDEX_DIR to another folder")
    if m.format < FORMAT and not older:
        raise IndexMismatch(f"the index in {index_dir} was written by an older reread (index format {m.format}, now "
                            f"{FORMAT}); run `reread index` to rebuild it")
    return m


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def save(index_dir: Path, manifest: Manifest, name: str = MANIFEST) -> None:
    """Write to a temporary file, fsync, rename: a reader or a crash sees the old or the new, never half."""
    path = Path(index_dir) / name
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(manifest.to_json()))  # UTF-8, compact; ~0.1 s less than json at 100k chunks
            f.flush()
            os.fsync(f.fileno())
    except BaseException:  # a full disk or a kill: the old manifest stands, and the half-written copy goes
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    try:
        fd = os.open(index_dir, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    except OSError:
        pass
