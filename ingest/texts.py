"""Chunk texts beside the vectors: one SQLite file in the index folder, each text zlib-compressed with a dictionary
made from its collection's first texts.

Why not Chroma's metadata: there a text is stored twice (its row and SQLite's index over every string value) and
uncompressed, ~900 bytes of a 450-character chunk. Here it is ~0.3-0.45 of its length. Collections are the
vector store's generations, so texts are kept per collection: dropping one drops its texts. Every write is one
SQLite transaction; the vector store writes a chunk's text before its vector and deletes it after (store.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from .errors import IndexDamaged

FILE = "texts.sqlite3"
DICT_BYTES = 32 << 10  # zlib's window: a longer dictionary is not read
DICT_SAMPLES = 400  # texts, spread over the first write, that make a collection's dictionary
LEVEL = 9  # ~2 ms more per 1,000 chunks than level 6, and a little smaller
MAX_VARS = 900  # ids per statement (SQLite's variable limit is lower on old builds)
SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (n INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, zdict BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS texts (n INTEGER NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL, marks TEXT,
                                  PRIMARY KEY (n, id)) WITHOUT ROWID;
"""


def dictionary(texts: list[str]) -> bytes:
    """Up to 32 KB of the texts themselves, spread over the list: what later chunks of one vault share (words,
    markup, a template's phrases) is then a back-reference. zlib reads the end of a dictionary best."""
    step = max(1, len(texts) // DICT_SAMPLES)
    return "\n".join(texts[::step]).encode()[-DICT_BYTES:]


class TextStore:
    """Texts (and ==highlight== marks) by collection and chunk id. One connection per store, shared by threads."""

    def __init__(self, index_dir: Path):
        self.path = (Path(index_dir) / FILE).absolute()
        self._con: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._dicts: dict[str, tuple[int, bytes]] = {}
        self._ready = False  # the schema is in place (checked once per connection that writes)

    def _connect(self, write: bool) -> sqlite3.Connection:
        if self._con is None:
            if not write and not self.path.is_file():
                raise IndexDamaged(str(self.path), "is missing (it holds the chunks' texts)")
            # a read-only folder (a backup, a mount) is read as it is: SQLite need not write to read it
            ro = "?mode=ro" if not write and not os.access(self.path.parent, os.W_OK) else ""
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(f"{self.path.as_uri()}{ro}", uri=True, timeout=30, check_same_thread=False,
                                        isolation_level=None)
        if write and not self._ready:
            con = self._con
            if con.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # a dropped generation's pages go back
                con.execute("PRAGMA auto_vacuum = INCREMENTAL")
                con.execute("VACUUM")
            con.executescript(SCHEMA)
            self._ready = True
        return self._con

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A damaged file is one line naming it, for readers."""
        try:
            yield
        except (sqlite3.DatabaseError, zlib.error, UnicodeDecodeError, ValueError) as e:
            raise IndexDamaged(str(self.path), f"is unreadable ({type(e).__name__}: {' '.join(str(e).split())})"
                               ) from None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con, self._dicts, self._ready = None, {}, False

    def _collection(self, con: sqlite3.Connection, name: str) -> tuple[int, bytes] | None:
        if name not in self._dicts:
            try:
                row = con.execute("SELECT n, zdict FROM collections WHERE name = ?", (name,)).fetchone()
            except sqlite3.OperationalError:  # no tables: nothing was ever written
                row = None
            if row is None:
                return None
            if not row[1]:  # no dictionary yet: the first texts will make one, so this is read again
                return row[0], b""
            self._dicts[name] = (row[0], bytes(row[1]))
        return self._dicts[name]

    def create(self, name: str) -> None:
        """Register a collection; its dictionary is made from its first texts."""
        with self._lock:
            con = self._connect(write=True)
            if self._collection(con, name) is None:
                con.execute("INSERT OR IGNORE INTO collections (name, zdict) VALUES (?, ?)", (name, b""))

    def put(self, name: str, rows: list[tuple[str, str, list]]) -> None:
        """(id, text, marks) rows, replacing any with the same id."""
        if not rows:
            return
        try:
            with self._transaction() as con:
                n, zd = self._dictionary(con, name, [t for _, t, _ in rows])
                con.executemany("INSERT OR REPLACE INTO texts (n, id, body, marks) VALUES (?, ?, ?, ?)",
                                [(n, i, _pack(t, zd), json.dumps(m, ensure_ascii=False) if m else None)
                                 for i, t, m in rows])
        except BaseException:
            self._dicts.pop(name, None)  # a dictionary made in the rolled-back transaction is not stored
            raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write under the lock: all of it lands, or none."""
        with self._lock:
            con = self._connect(write=True)
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _dictionary(self, con: sqlite3.Connection, name: str, texts: list[str]) -> tuple[int, bytes]:
        """The collection's number and dictionary, made from these texts if it has neither a dictionary nor any
        text yet (a dictionary never changes under stored texts)."""
        found = self._collection(con, name)
        if found is not None and (found[1] or con.execute("SELECT 1 FROM texts WHERE n = ? LIMIT 1",
                                                          (found[0],)).fetchone()):
            return found
        zd = dictionary(texts)
        if found is None:
            n = con.execute("INSERT INTO collections (name, zdict) VALUES (?, ?)", (name, zd)).lastrowid
        else:
            n = found[0]
            con.execute("UPDATE collections SET zdict = ? WHERE n = ?", (zd, n))
        self._dicts[name] = (n, zd)
        return n, zd

    def get(self, name: str, ids: list[str]) -> dict[str, tuple[str, list]]:
        """(text, marks) by id; ids without a text are absent."""
        if not ids:
            return {}
        with self._lock, self._reading():
            con = self._connect(write=False)
            found = self._collection(con, name)
            if found is None:
                return {}
            n, zd = found
            out: dict[str, tuple[str, list]] = {}
            for start in range(0, len(ids), MAX_VARS):
                part = ids[start:start + MAX_VARS]
                marks = ",".join("?" * len(part))
                for i, body, m in con.execute(f"SELECT id, body, marks FROM texts WHERE n = ? AND id IN ({marks})",
                                              (n, *part)):
                    out[i] = (_unpack(body, zd), json.loads(m) if m else [])
            return out

    def delete(self, name: str, ids: list[str]) -> None:
        if not ids or not self.path.exists():
            return
        with self._transaction() as con:
            found = self._collection(con, name)
            if found is not None:
                con.executemany("DELETE FROM texts WHERE n = ? AND id = ?", [(found[0], i) for i in ids])

    def ids(self, name: str) -> set[str]:
        if not self.path.exists():
            return set()
        with self._lock, self._reading():
            con = self._connect(write=False)
            found = self._collection(con, name)
            if found is None:
                return set()
            return {row[0] for row in con.execute("SELECT id FROM texts WHERE n = ?", (found[0],))}

    def names(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._lock:
            con = self._connect(write=False)
            with suppress(sqlite3.OperationalError):
                return [row[0] for row in con.execute("SELECT name FROM collections")]
            return []

    def problem(self, name: str) -> tuple[str, bool]:
        """What is wrong with the collection's texts ("" when nothing), and whether the file cannot be read at all:
        read with a connection of its own, for the index's check."""
        if not self.path.is_file():
            return f"{self.path} is missing", False
        try:
            with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=2)) as con:
                found = con.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError as e:  # busy, or no tables
            return ("", False) if "locked" in str(e) else (f"{self.path} is unreadable ({e})", True)
        except sqlite3.DatabaseError as e:  # not a database, or a malformed one
            return f"{self.path} is unreadable ({e})", True
        return ("", False) if found else (f"{self.path} lacks them", False)

    def drop(self, name: str) -> None:
        if not self.path.exists():
            return
        with self._transaction() as con:
            found = self._collection(con, name)
            if found is not None:
                con.execute("DELETE FROM texts WHERE n = ?", (found[0],))
                con.execute("DELETE FROM collections WHERE n = ?", (found[0],))
        self._dicts.pop(name, None)

    def compact(self) -> None:
        """Give back the pages deletes and drops freed."""
        if not self.path.exists():
            return
        with self._lock, suppress(sqlite3.Error):  # busy with a reader: next time
            con = self._connect(write=True)
            if con.execute("PRAGMA freelist_count").fetchone()[0]:
                con.executescript("PRAGMA incremental_vacuum;")

    def wipe(self) -> None:
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def _pack(text: str, zd: bytes) -> bytes:
    z = zlib.compressobj(LEVEL, zdict=zd) if zd else zlib.compressobj(LEVEL)
    return z.compress(text.encode()) + z.flush()


def _unpack(body: bytes, zd: bytes) -> str:
    z = zlib.decompressobj(zdict=zd) if zd else zlib.decompressobj()
    return (z.decompress(body) + z.flush()).decode()
