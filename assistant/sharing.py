"""One process's threads sharing an index's store: searches and index() at once; a reopen or a compaction alone.

The UI keeps one Assistant for every browser session, each on its own thread, and its Re-index button writes
through the same store. Chroma keeps a collection's vectors in memory per process, so a long-lived reader must
reopen its client to see what another process wrote; reopening drops the client every thread is using, so it
waits for them to leave. What this process writes itself goes through that same client, which sees it: no reopen
after an own write (each reopen left ~1 MB of Chroma's native memory behind; one per UI re-index kept growing).

Writes run alone, between searches: Chroma's reads are not atomic against a write in the same process, and
compaction opens Chroma's SQLite file with Python's sqlite3, a second SQLite library in the process, whose close
drops the POSIX locks Chroma's own SQLite holds (sqlite.org/howtocorrupt.html, 2.2.1): a search on another thread
meanwhile corrupted the file ("database disk image is malformed").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Sharing:
    """Counts the threads reading through the store and the writes under way; remembers the version open."""

    def __init__(self, store):
        self.store = store
        self.seen: str | None = None  # the manifest's last_indexed when the store was last (re)opened
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = 0
        self._closed = False  # a reopen or a compaction is under way: nobody new comes in

    @contextmanager
    def using(self, writing: bool = False) -> Iterator[None]:
        """A read through the store, or (writing) the whole of an index() run."""
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._readers += not writing
            self._writing += writing
        try:
            yield
        finally:
            with self._cond:
                self._readers -= not writing
                self._writing -= writing
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        """No reader inside meanwhile (the writer calling it goes on): for what must not run beside a search."""
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._closed = True
            self._cond.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()

    def refresh(self, version: str | None, force: bool = False, warm: bool = True) -> None:
        """Reopen the store if the index is at another version than the one open (another process wrote it),
        or if forced (the collection we read is gone). Skipped while this process writes: its client saw it.
        warm: make the client now (a reader is about to use it); a writer that may have nothing to do does not."""
        def wanted() -> bool:
            return not self._writing and (force or version != self.seen) and (warm or self.seen is not None)

        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            if not wanted():
                return
            self._closed = True
            self._cond.wait_for(lambda: self._readers == 0)
        try:
            if self.seen is not None or force:
                self.store.reopen()
            if warm:  # made here, alone: threads making one each at once would race in chromadb's process cache
                getattr(self.store, "client", None)
            self.seen = version
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()

    def wrote(self, version: str | None) -> None:
        """At the end of an own write (still inside it): the open store already sees the version it made."""
        with self._cond:
            self.seen = version


class SharedStore:
    """The store as this process's index() sees it: the same store, its writes run alone. Chroma's reads are not
    atomic against a write in the same process (a get of a chunk deleted meanwhile: "Error finding id"), and
    compact, drop (which compacts) and damage open the SQLite file themselves."""

    ALONE = frozenset({"add", "delete", "create", "drop", "compact", "damage", "wipe"})

    def __init__(self, store, sharing: Sharing):
        self._store, self._sharing = store, sharing

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if name not in self.ALONE:
            return attr

        def alone(*args, **kwargs):
            with self._sharing.alone():
                return attr(*args, **kwargs)
        return alone
