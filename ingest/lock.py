"""One writer per index directory, across processes (Chroma's embedded store is not process-safe); and an index
folder that cannot be written: read-only (the writer refuses in one line, a reader reads a private copy of the
vectors) or on a full disk (one line that says so, the previous index intact)."""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import IndexBusy, RereadError
from .texts import FILE as TEXTS

NEARLY_FULL = 8 << 20  # bytes free below which a failed write is put down to the disk
FULL_WORDS = ("disk is full", "no space left", "quota exceeded")  # SQLite's and the OS's words, as Chroma passes them


class WriterLock:
    def __init__(self, index_dir: Path, timeout: float):
        self.path = Path(index_dir) / "writer.lock"
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise ReadOnlyIndex(self.path.parent, self.path) from None
            raise
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise IndexBusy(f"another reread (pid {holder}) is writing {self.path.parent}; wait for it "
                                    "to finish, or raise REREAD_LOCK_TIMEOUT to wait longer") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class ReadOnlyIndex(RereadError):
    """`reread index` cannot write to the index folder (permissions, a read-only mount)."""

    def __init__(self, index_dir: Path, part: Path):
        super().__init__(f"the index folder {index_dir} is read-only ({part} cannot be written), so `reread index` "
                         f"cannot update it; the index is unchanged and search and ask still read it. Make it "
                         f"writable (chmod -R u+w {index_dir}) or set REREAD_INDEX_DIR to a folder you can write")


def read_only_part(index_dir: Path) -> Path | None:
    """The first part of the index a writer could not write, None when it can write all of it."""
    index_dir = Path(index_dir)
    return _unwritable([index_dir, index_dir / "lexical", index_dir / "manifest.json", index_dir / TEXTS,
                        *_store_parts(index_dir / "chroma")])


def writable_store(folder: Path) -> bool:
    """Whether Chroma can open this store: it writes to its database as it opens, even to read."""
    return _unwritable(_store_parts(Path(folder))) is None


def _store_parts(folder: Path) -> list[Path]:
    """The embedded store's folder, its database, its vector segments and their files. A rebuild in another
    process removes a replaced segment's folder (compact) at any moment: one gone while listed is not a part."""
    if not folder.is_dir():
        return []
    segments = [d for d in folder.iterdir() if d.is_dir()]
    return [folder, folder / "chroma.sqlite3", *segments, *(f for d in segments for f in _listing(d))]


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _unwritable(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.exists() and not os.access(p, os.W_OK)), None)


def private_copy(folder: Path) -> Path:
    """A writable copy of a read-only vector store in a temporary folder, for a reader; the caller removes it.
    Files only, with the copier's own permissions (a copy of the modes would be read-only again)."""
    root = Path(tempfile.mkdtemp(prefix="reread-readonly-"))
    for here, _, files in os.walk(folder):
        target = root / Path(here).relative_to(folder.parent)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(Path(here) / name, target / name)
    return root / folder.name


class DiskFull(RereadError):
    """The disk that holds the index filled up while reading or writing it."""

    def __init__(self, index_dir: Path, cause: BaseException, writing: bool, written: bool = True):
        self.cause, self.written = cause, written
        why = " ".join(str(getattr(cause, "strerror", None) or cause).split())[:160]
        if not writing:
            then = "Chroma needs a little free space to read the index: free some and try again"
        elif not written:
            then = "nothing more was written, the index is intact and searchable: free some space and run " \
                   "`reread index` again to finish"
        else:
            then = "the previous index is intact (Chroma needs a little free space to read it): free some space " \
                   "and run `reread index` again to finish"
        super().__init__(f"the disk holding the index {index_dir} is full ({why}); {then}")


def disk_full(index_dir: Path, e: BaseException) -> bool:
    """Whether an error while writing (or reading: Chroma applies its write-ahead log as it reads) is a full disk:
    ENOSPC, SQLite's or Chroma's words for it, or any error with almost no space left on the index's disk."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if any(w in str(e).lower() for w in FULL_WORDS):
        return True
    try:
        return shutil.disk_usage(index_dir).free < NEARLY_FULL
    except OSError:
        return False


def guard_disk(writing: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a store method (on an object with index_dir and host) so a full disk is one line, not Chroma's."""
    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except RereadError:
                raise
            except Exception as e:
                if not self.host and disk_full(self.index_dir, e):
                    raise DiskFull(self.index_dir, e, writing) from None
                raise
        return run
    return wrap
