"""Readers and writers at once: a long-lived Assistant (as the UI keeps) searching and asking while another process
or another thread writes the index. A reader sees the old index or the new one, and never errors."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

import pytest

from assistant.facade import Assistant
from ingest.settings import Settings
from ingest.store import ChromaStore
from ingest.types import Chunk
from tests.conftest import study_session
from tests.test_reindex_process import REREAD, assert_clean, env_for, gen_vault, index_json, inspect

QUESTIONS = ["otter near the salt marsh", "kestrel in the beech wood", "badger at an old quarry",
             "what was seen on a foggy walk?", "a new note about a wren"]


class Reader:
    """Searches and asks in a loop on its own thread, as a UI session does, recording every error it meets."""

    def __init__(self, app: Assistant, chat: bool = False):
        self.app, self.chat = app, chat
        self.errors: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        history: list[tuple[str, str]] = []
        while not self._stop.is_set():
            q = QUESTIONS[self.reads % len(QUESTIONS)]
            try:
                if self.chat:
                    answer = self.app.chat(history[-2:], q, 5)
                    history.append((q, answer.answer))
                elif self.reads % 2:
                    assert self.app.search(q, 5), "a search found nothing"
                else:
                    self.app.ask(q, 5)
            except Exception as e:  # any error at all is what this test is about
                self.errors.append(f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-4)}")
            self.reads += 1

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)

    def wait_for_reads(self, n: int, timeout: float = 60) -> None:
        deadline, target = time.monotonic() + timeout, self.reads + n
        while self.reads < target and time.monotonic() < deadline:
            time.sleep(0.02)


def edit_round(vault: Path, rng: random.Random, r: int) -> None:
    """A session's edits: 15 notes changed, 3 deleted, 3 renamed, 3 added."""
    study_session(vault, rng, str(r), 15, 6, lambda g: f"\nEdited in round {r}: a wren, {g.random():.6f}.\n",
                  {f"new-{r}-{i}.md": f"# New {r}.{i}\n\nA new note about a wren and an otter, {i}.\n"
                   for i in range(3)})


def test_a_chunk_deleted_by_another_process_is_skipped_not_a_crash(tmp_path, fake_embedder):
    """Chroma keeps a collection's vector index in memory per process: after another process deletes chunks, this
    process's vector search still finds their ids, with no metadata. They are skipped (was: KeyError: 'source')."""
    store = ChromaStore(tmp_path / "index")
    texts = [f"note {i} about an otter and a heron" for i in range(20)]
    chunks = [Chunk(id=f"c{i}", source=f"n{i}.md", kind="note", title=f"N{i}", heading="", page=None, start=0,
                    end=len(t), text=t, metadata={}) for i, t in enumerate(texts)]
    vectors = fake_embedder.embed(texts)
    store.add("reread-test-1", chunks, vectors)
    assert len(store.query("reread-test-1", vectors[0], 10)) == 10  # the vector index is now loaded here
    code = ("import sys; from ingest.store import ChromaStore; "
            "ChromaStore(sys.argv[1]).delete('reread-test-1', [f'c{i}' for i in range(0, 20, 2)])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "index")], check=True, timeout=120)
    got = store.query("reread-test-1", vectors[0], 10)
    assert got and {c.id for c, _ in got} <= {f"c{i}" for i in range(1, 20, 2)}
    assert all(c.source == f"n{c.id[1:]}.md" for c, _ in got)


@pytest.mark.slow
def test_the_ui_assistant_keeps_answering_while_another_process_reindexes(tmp_path, embedder):
    """The issue's finding: a long-lived reader raised KeyError: 'source' while `reread index` ran after edits, in 3
    of 4 runs. Now every search and ask during three incremental runs (adds, edits, renames, deletes) succeeds."""
    vault, index_dir = gen_vault(tmp_path / "vault", 80), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)
    app = Assistant(Settings(notes_dir=vault, index_dir=index_dir, backend="extractive"), embedder=embedder)
    rng = random.Random(16)
    with Reader(app) as reader:
        reader.wait_for_reads(2)
        for r in range(3):
            edit_round(vault, rng, r)
            before = reader.reads
            report = index_json(env)
            assert report["removed"] >= 3 and report["added"] >= 3 and report["failed"] == []
            assert reader.reads > before, "the reader asked nothing while the index was written"
        reader.wait_for_reads(3)
    assert reader.errors == [], reader.errors[0]
    assert any(h.chunk.source.startswith("new-2-") for h in app.search("a new note about a wren", 10))
    assert_clean(inspect(env, index_dir))



def test_the_ui_reindexes_while_chats_go_on(tmp_path, fake_embedder):
    """The UI's Re-index runs index() on the Assistant every browser session shares, while the others chat on
    their threads: every chat turn is answered through incremental runs and full rebuilds alike, the index ends
    exact, and the new notes are found without reopening anything."""
    vault = gen_vault(tmp_path / "vault", 60)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                    embedder=fake_embedder)
    app.index()
    rng = random.Random(5)
    with Reader(app, chat=True) as one, Reader(app) as two:
        for r in range(6):
            edit_round(vault, rng, r)
            report = app.index(full=r % 3 == 2)
            assert report.failed == [] and report.added >= 3
            one.wait_for_reads(1)
        two.wait_for_reads(2)
    assert one.errors + two.errors == [], (one.errors + two.errors)[0]
    assert one.reads > 6 and two.reads > 6
    hits = app.search("a new note about a wren", 10)
    assert any(h.chunk.source.startswith("new-5-") for h in hits)
    ids = {i for e in app.manifest().files.values() for i in e.chunk_ids}
    assert app.store.ids(app.manifest().collection) == ids


def test_reindexing_in_process_keeps_one_chroma_client(tmp_path, fake_embedder):
    """A long session re-indexing every few questions grew by ~1 MB a run and kept growing (issue 16: 830 -> 1,050
    MB over 600 questions): each run's new version made the next search reopen Chroma, a new client with its own
    native caches. What this process writes goes through the client it has open, which sees it: nothing reopens."""
    vault = gen_vault(tmp_path / "vault", 20)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                    embedder=fake_embedder)
    app.index()
    app.ask("otter near the salt marsh")
    client = app.store.client
    for r in range(6):
        path = next(vault.glob(f"notes/*/walk-{r:03d}.md"))
        path.write_text(path.read_text(encoding="utf-8") + f"\nSoak edit {r}: a grebe dived.\n", encoding="utf-8")
        assert app.index().updated == 1
        assert app.ask(f"Soak edit {r}: a grebe").found
    assert app.store.client is client
    assert {h.chunk.source for h in app.search("a grebe dived", 6)} >= {"notes/00/walk-005.md"}


def test_a_reader_opens_the_store_while_another_process_removes_a_replaced_segment(tmp_path, fake_embedder,
                                                                                   monkeypatch):
    """A full rebuild elsewhere drops the old collection, then compaction removes its segment folder. A reader
    opening the store meanwhile checks each folder is writable: one removed between being listed and being read
    failed the open with "IndexDamaged ... cannot be opened (No such file or directory)" (CI, about 1 open in
    2,000 during back-to-back rebuilds). A folder gone is no part of the store."""
    vault = gen_vault(tmp_path / "vault", 5)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                    embedder=fake_embedder)
    app.index()
    replaced = tmp_path / "index" / "chroma" / str(uuid.uuid4())  # a dropped collection's folder, not yet removed
    replaced.mkdir()
    (replaced / "header.bin").write_bytes(b"\0" * 100)
    is_dir = Path.is_dir

    def compacted_just_after_listing(self: Path) -> bool:
        found = is_dir(self)
        if found and self == replaced:
            shutil.rmtree(self)
        return found

    monkeypatch.setattr(Path, "is_dir", compacted_just_after_listing)
    app.store.reopen()
    assert app.search("otter near the salt marsh", 3)
    assert not replaced.exists()


@pytest.mark.slow
def test_two_full_rebuilds_at_once_while_a_reader_searches_and_asks(tmp_path, embedder):
    """Two `reread index --full` started together: the second waits for the writer lock, then rebuilds again;
    both exit 0. A long-lived Assistant searches and asks all the while without an error, and the index ends
    exact, with the chunks it had."""
    vault, index_dir = gen_vault(tmp_path / "vault", 50), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)
    before = inspect(env, index_dir)
    app = Assistant(Settings(notes_dir=vault, index_dir=index_dir, backend="extractive"), embedder=embedder)
    with Reader(app) as reader:
        reader.wait_for_reads(2)
        writers = [subprocess.Popen([REREAD, "index", "--full", "--json"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [w.communicate(timeout=300) for w in writers]
        during = reader.reads
        reader.wait_for_reads(3)
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outs]
    assert reader.errors == [], reader.errors[0]
    assert during > 4, "the reader asked too little while the index was rebuilt"
    after = inspect(env, index_dir)
    assert_clean(after)
    assert after["files"] == before["files"] and after["collection"] != before["collection"]


def test_a_reader_follows_an_index_another_process_rebuilt_after_its_texts_were_lost(tmp_path, embedder):
    """The text store (texts.sqlite3) lost and rebuilt by `reread index` in another process: a long-lived reader,
    whose connection still points at the removed file, reads the new one as soon as the manifest moves."""
    vault, index_dir = gen_vault(tmp_path / "vault", 12), tmp_path / "index"
    env = env_for(vault, index_dir)
    index_json(env)
    app = Assistant(Settings(notes_dir=vault, index_dir=index_dir, backend="extractive"), embedder=embedder)
    before = app.search("otter near the salt marsh", 3)
    assert before and all(h.chunk.text for h in before)
    (index_dir / "texts.sqlite3").unlink()
    report = index_json(env)
    assert "texts.sqlite3" in report["warnings"][0]["warning"]
    after = app.search("otter near the salt marsh", 3)
    assert [(h.chunk.source, h.chunk.text) for h in after] == [(h.chunk.source, h.chunk.text) for h in before]
