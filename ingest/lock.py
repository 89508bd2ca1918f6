"""One writer per index directory, across processes (Chroma's embedded store is not process-safe); and an index
folder that cannot be written: the writer refuses in one line, a reader reads a private copy of the vectors."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

from .errors import IndexBusy, RereadError


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
    return _unwritable([index_dir, index_dir / "lexical", index_dir / "manifest.json",
                        *_store_parts(index_dir / "chroma")])


def writable_store(folder: Path) -> bool:
    """Whether Chroma can open this store: it writes to its database as it opens, even to read."""
    return _unwritable(_store_parts(Path(folder))) is None


def _store_parts(folder: Path) -> list[Path]:
    """The embedded store's folder, its database, its vector segments and their files."""
    if not folder.is_dir():
        return []
    segments = [d for d in folder.iterdir() if d.is_dir()]
    return [folder, folder / "chroma.sqlite3", *segments, *(f for d in segments for f in d.iterdir())]


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

