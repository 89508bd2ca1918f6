"""One writer per index directory, across processes (Chroma's embedded store is not process-safe)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import IndexBusy


class WriterLock:
    def __init__(self, index_dir: Path, timeout: float):
        self.path = Path(index_dir) / "writer.lock"
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
