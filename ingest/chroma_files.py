"""The embedded Chroma store's files, read and tidied with sqlite3 directly, without chromadb: whether the store
is whole (so a no-change run stays light), and giving back the disk a dropped collection left behind."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path


def damage(folder: Path, name: str) -> tuple[str, bool]:
    """What is wrong with the store's vectors for collection `name` ("" when they look whole), and whether the
    store cannot be opened at all."""
    db = folder / "chroma.sqlite3"
    if not db.is_file():
        return "is missing", False
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=2)) as con:
            found = con.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # busy, or a layout this Chroma does not have: let Chroma judge
        return "", False
    except sqlite3.DatabaseError as e:  # not a database, or a malformed one
        return f"is unreadable ({e})", True
    return ("", False) if found else (f"has lost the index's vectors ({name})", False)


def compact(folder: Path) -> None:
    """Give back disk Chroma keeps: 1.5 leaves a deleted collection's vector folder behind and never shrinks
    its SQLite file (neither after a drop nor after purging its write-ahead log), so each full rebuild added
    a copy of the index. A busy database waits for next time."""
    db = folder / "chroma.sqlite3"
    if not db.exists():
        return
    try:
        with closing(sqlite3.connect(db, timeout=2)) as con:
            live = {row[0] for row in con.execute("SELECT id FROM segments")}
            free = con.execute("PRAGMA freelist_count").fetchone()[0]
            if con.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # rewritten once, so that later
                con.execute("PRAGMA auto_vacuum = INCREMENTAL")  # frees are cheap to give back
                con.execute("VACUUM")
            elif free:
                con.executescript("PRAGMA incremental_vacuum;")  # run to the end: what a drop or a purge freed
    except sqlite3.Error:  # locked by a reader, or a layout this Chroma does not have: nothing lost
        return
    for d in folder.iterdir():
        try:
            orphan = d.is_dir() and str(uuid.UUID(d.name)) == d.name and d.name not in live
        except ValueError:
            continue
        if orphan:
            shutil.rmtree(d, ignore_errors=True)
