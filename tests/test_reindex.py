"""Re-indexing after a study session: near-free when nothing changed, exact when something did.

User stories over the real embedder and the real Chroma store, in process. A counting wrapper around the
embedder shows what was (re-)embedded; a store that fails midway stands in for a crash.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import ingest.plan as plan_mod
from assistant.facade import Assistant
from ingest import manifest as mf
from ingest.errors import IndexMismatch
from ingest.store import ChromaStore
from tests.conftest import SAMPLE_NOTES, write_vault

GLOSSARY = "notes/ai-engineering-glossary.md"
RISE = "notes/the-rise-of-ai-engineering.md"
OLD_SENTENCE = "*quantization*: The process of reducing the precision of model weights."
NEW_SENTENCE = "*quantization*: Zorbleflux means packing glowing lanterns into marmalade jars."
NEW_SECTION = ("\n## Zorbleflux\n\nZorbleflux is the craft of packing glowing lanterns into marmalade jars. "
               "A lantern keeper seals each jar at dusk. The marmalade keeps the lantern light warm all winter.\n")


class CountingEmbedder:
    """The session's real embedder, recording every text it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def reset(self) -> None:
        self.texts.clear()


class Crash(Exception):
    """What a killed process looks like from the inside: the run stops between two writes."""


class CrashingStore:
    """The real ChromaStore, except that `add` fails from its second call on (optionally after writing the texts,
    or the texts and the vectors)."""

    def __init__(self, real: ChromaStore, after_write: bool | str = False, fail_drop: bool = False):
        self.real = real
        self.after_write = after_write
        self.fail_drop = fail_drop
        self.adds = 0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def add(self, name, chunks, vectors):
        self.adds += 1
        if self.adds >= 2 and not self.fail_drop:
            if self.after_write == "texts":  # killed between the texts and their vectors
                self.real.texts.put(name, [(c.id, c.text, []) for c in chunks])
            elif self.after_write:
                self.real.add(name, chunks, vectors)
            raise Crash(f"killed during add #{self.adds}")
        self.real.add(name, chunks, vectors)

    def drop(self, name):
        if self.fail_drop:
            raise Crash("killed before the old collection was dropped")
        self.real.drop(name)


@pytest.fixture
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def raw_text(vault: Path, source: str) -> str:
    return (vault / source).read_bytes().decode("utf-8")


def check_index(app: Assistant) -> mf.Manifest:
    """The invariants that must hold after every run: manifest and Chroma agree, no doubles, no orphans."""
    m = app.manifest()
    ids = [i for e in m.files.values() for i in e.chunk_ids]
    assert len(ids) == len(set(ids)), "duplicate chunk ids in the manifest"
    assert app.store.count(m.collection) == m.chunks == len(ids)
    assert app.store.ids(m.collection) == set(ids)
    assert app.store.texts.ids(m.collection) == set(ids), "a vector without its text, or an orphan text"
    assert sorted(app.store.names()) == [m.collection], "a stale collection was left behind"
    assert not (app.index_dir / mf.DIRTY).exists()
    assert not (app.index_dir / mf.BUILDING).exists()
    return m


def all_hits(app: Assistant, query: str):
    """Every chunk in the index, ranked for `query`: lets a test assert what is absent as well as present."""
    return app.search(query, k=app.manifest().chunks)


def counts(report) -> tuple[int, int, int, int, int]:
    return report.added, report.updated, report.removed, report.renamed, report.unchanged


def small_vault(root: Path, n: int, word: str = "heron") -> Path:
    """n short notes (one or two chunks each): cheap to embed, enough files for several write batches."""
    files = {}
    for i in range(n):
        files[f"notes/{word}-{i:03d}.md"] = (
            f"---\ntags: [{word}]\n---\n# {word.title()} note {i}\n\n"
            f"The {word} number {i} stands in the reeds at dawn. It waits for fish near stone {i % 7}.\n\n"
            f"## Later\n\n- observed on day {i}\n- {word} counted {i * 3} times\n"
        )
    return write_vault(root, files)


def edit(path: Path, old: str, new: str) -> None:
    raw = path.read_bytes().decode("utf-8")
    assert old in raw
    path.write_bytes(raw.replace(old, new).encode("utf-8"))


# --- the study-session stories --------------------------------------------------------------------------


def test_no_change_reindex_loads_neither_model_nor_store(settings, assistant, monkeypatch):
    """Nothing changed: a stat per file, no hashing, no embedder, no Chroma client."""
    first = assistant.index()
    assert first.added == 5 and first.chunks > 0
    hashed = []
    real_hash = plan_mod.sha256_file
    monkeypatch.setattr(plan_mod, "sha256_file", lambda p: hashed.append(p) or real_hash(p))
    fresh = Assistant(settings)  # what a new `reread index` process starts with
    report = fresh.index()
    assert counts(report) == (0, 0, 0, 0, 5)
    assert report.chunks == first.chunks
    assert report.seconds < 1.0
    assert hashed == []
    assert fresh.embedder._model is None and fresh.store._client is None


def test_edit_reembeds_only_the_changed_chunks(vault, settings, counting):
    """An edited note is re-chunked; only chunks whose text is new are embedded; search sees new, not old."""
    app = Assistant(settings, embedder=counting)
    app.index()
    before = app.manifest().files[GLOSSARY].chunk_ids
    others = {s: e.chunk_ids for s, e in app.manifest().files.items() if s != GLOSSARY}
    counting.reset()

    edit(vault / GLOSSARY, OLD_SENTENCE, NEW_SENTENCE)
    with open(vault / GLOSSARY, "a", encoding="utf-8", newline="") as f:
        f.write(NEW_SECTION)
    report = app.index()

    assert counts(report) == (0, 1, 0, 0, 4)
    m = check_index(app)
    after = m.files[GLOSSARY].chunk_ids
    new_ids = set(after) - set(before)
    assert new_ids, "the edit must change at least one chunk"
    assert len(counting.texts) == len(new_ids) < len(after), "only the changed chunks are re-embedded"
    assert any("Zorbleflux" in t for t in counting.texts)
    assert {s: e.chunk_ids for s, e in m.files.items() if s != GLOSSARY} == others
    assert report.chunks == m.chunks

    hits = app.search("How are glowing lanterns packed into marmalade jars?", k=3)
    assert hits[0].chunk.source == GLOSSARY and "Zorbleflux" in hits[0].chunk.text
    everything = all_hits(app, "quantization precision of model weights")
    assert not any("reducing the precision of model weights" in h.chunk.text for h in everything)
    raw = raw_text(vault, GLOSSARY)
    for h in everything:
        if h.chunk.source == GLOSSARY:
            assert raw[h.chunk.start:h.chunk.end] == h.chunk.text


def test_delete_removes_every_chunk_of_the_note(vault, settings, counting):
    app = Assistant(settings, embedder=counting)
    app.index()
    gone = len(app.manifest().files[RISE].chunk_ids)
    total = app.manifest().chunks
    counting.reset()

    (vault / RISE).unlink()
    report = app.index()

    assert counts(report) == (0, 0, 1, 0, 4)
    assert counting.texts == []
    m = check_index(app)
    assert m.chunks == report.chunks == total - gone
    assert RISE not in m.files
    assert all(h.chunk.source != RISE for h in all_hits(app, "the rise of AI engineering scale"))
    assert counts(app.index()) == (0, 0, 0, 0, 4), "a delete is recorded once, not re-reported every run"

    shutil.copy(SAMPLE_NOTES / Path(RISE).name, vault / RISE)  # restored from a backup: it must come back whole
    assert app.index().added == 1
    assert check_index(app).chunks == total


def test_rename_moves_chunks_without_reembedding(vault, settings, counting):
    """A note moved to another folder keeps its vectors; hits carry the new path and exact offsets."""
    app = Assistant(settings, embedder=counting)
    app.index()
    old_count = len(app.manifest().files[GLOSSARY].chunk_ids)
    total = app.manifest().chunks
    counting.reset()

    new = "archive/2025/glossary (renamed).md"
    (vault / new).parent.mkdir(parents=True)
    os.rename(vault / GLOSSARY, vault / new)
    report = app.index()

    assert counts(report) == (0, 0, 0, 1, 4)
    assert counting.texts == [], "a rename must not re-embed"
    m = check_index(app)
    assert GLOSSARY not in m.files and len(m.files[new].chunk_ids) == old_count
    assert m.chunks == report.chunks == total

    everything = all_hits(app, "glossary of concepts token tokenization")
    assert not any(h.chunk.source == GLOSSARY for h in everything)
    moved = [h.chunk for h in everything if h.chunk.source == new]
    assert len(moved) == old_count
    raw = raw_text(vault, new)
    for c in moved:
        assert raw[c.start:c.end] == c.text
    hits = app.search("glossary: token, tokenization, masked language model, quantization", k=5)
    assert new in {h.chunk.source for h in hits}


def test_touch_is_unchanged_and_hashed_once(vault, settings, counting, monkeypatch):
    """Same bytes, new mtime: hashed once to find out, recorded, then back to a plain stat."""
    app = Assistant(settings, embedder=counting)
    first = app.index()
    ids = {s: e.chunk_ids for s, e in app.manifest().files.items()}
    counting.reset()
    hashed: list[Path] = []
    real_hash = plan_mod.sha256_file
    monkeypatch.setattr(plan_mod, "sha256_file", lambda p: hashed.append(p) or real_hash(p))

    st = (vault / GLOSSARY).stat()
    os.utime(vault / GLOSSARY, ns=(st.st_atime_ns, st.st_mtime_ns + 7_000_000_000))
    report = app.index()

    assert counts(report) == (0, 0, 0, 0, 5)
    assert counting.texts == []
    assert [p.name for p in hashed] == [Path(GLOSSARY).name]
    m = check_index(app)
    assert {s: e.chunk_ids for s, e in m.files.items()} == ids and m.chunks == first.chunks
    assert m.files[GLOSSARY].mtime_ns == st.st_mtime_ns + 7_000_000_000

    hashed.clear()
    assert counts(app.index()) == (0, 0, 0, 0, 5)
    assert hashed == [], "a touched file is hashed once, not on every run"


def test_edit_delete_rename_add_in_one_run(vault, settings, counting):
    """A whole study session at once lands exactly like a clean index of the resulting vault."""
    app = Assistant(settings, embedder=counting)
    app.index()
    edit(vault / GLOSSARY, OLD_SENTENCE, NEW_SENTENCE)
    (vault / RISE).unlink()
    os.rename(vault / "notes/ai-engineering-book-notes.md", vault / "book-notes.md")
    write_vault(vault, {"notes/new.md": "# New\n\nA brand new note about heron migration.\n"})
    counting.reset()
    report = app.index()

    assert counts(report) == (1, 1, 1, 1, 2)
    m = check_index(app)
    clean = Assistant(settings.model_copy(update={"index_dir": settings.index_dir.parent / "clean"}),
                      embedder=counting)
    clean.index()
    assert {s: e.chunk_ids for s, e in m.files.items()} == {s: e.chunk_ids for s, e in clean.manifest().files.items()}


# --- rebuilds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"embed_model": "sentence-transformers/all-MiniLM-L6-v2"}, {"chunk_size": 96}],
                         ids=["embed_model", "chunk_size"])
def test_settings_change_rebuilds_cleanly(tmp_path, settings, counting, change):
    """Another model or chunking never mixes with the old vectors: a clean rebuild, said out loud."""
    vault = small_vault(tmp_path / "small", 6)
    base = settings.model_copy(update={"notes_dir": vault})
    app = Assistant(base, embedder=counting)
    app.index()
    old = check_index(app)
    embedded_before = set(counting.texts)

    changed = base.model_copy(update=change)
    app2 = Assistant(changed, embedder=counting, store=app.store)
    counting.reset()
    report = app2.index()

    key = next(iter(change))
    assert report.messages and key in report.messages[0] and "rebuild" in report.messages[0]
    assert (report.added, report.updated, report.renamed, report.unchanged) == (6, 0, 0, 0)
    m = check_index(app2)
    assert m.collection != old.collection
    assert m.fingerprint[key] == change[key]
    rebuilt = set(counting.texts)
    counting.reset()
    Assistant(changed.model_copy(update={"index_dir": tmp_path / "clean"}), embedder=counting).index()
    if key == "embed_model":
        assert len(rebuilt) == m.chunks == report.chunks, "another model: every chunk re-embedded"
    else:  # the same model: a chunk the model reads as before keeps its vector, the rest are embedded
        assert rebuilt == set(counting.texts) - embedded_before and len(rebuilt) < m.chunks == report.chunks
    counting.reset()
    assert counts(app2.index()) == (0, 0, 0, 0, 6)
    assert counting.texts == []
    if key == "embed_model":
        with pytest.raises(IndexMismatch):
            app.manifest()  # the old settings no longer match: searching would mix models


def test_an_older_index_format_is_rebuilt_without_re_embedding(tmp_path, settings, counting):
    """An upgrade that changes how the index is stored (format 3 kept texts in Chroma) rebuilds it, reusing every
    vector: the model reads the same texts. Searching the old index is refused until then, in one line."""
    vault = small_vault(tmp_path / "small", 6)
    app = Assistant(settings.model_copy(update={"notes_dir": vault}), embedder=counting)
    app.index()
    old = check_index(app)
    old.format, old.fingerprint["format"] = 3, 3
    mf.save(app.index_dir, old)
    app.store.texts.wipe()  # format 3 kept the texts in Chroma: there was no text store
    with pytest.raises(IndexMismatch, match="older reread"):
        app.search("heron")
    counting.reset()
    report = app.index()
    assert report.messages and "format 3 -> 4" in report.messages[0] and report.warnings == []
    assert counting.texts == [], "the old vectors were reused"
    m = check_index(app)
    assert m.collection != old.collection and m.chunks == old.chunks
    hit = app.search("heron number 4 stands in the reeds", k=1)[0]
    assert hit.chunk.text == (vault / hit.chunk.source).read_text()[hit.chunk.start:hit.chunk.end]
    assert "heron number 4" in hit.chunk.text


def test_full_rebuilds_the_same_index(tmp_path, settings, counting):
    vault = small_vault(tmp_path / "small", 6)
    app = Assistant(settings.model_copy(update={"notes_dir": vault}), embedder=counting)
    app.index()
    old = check_index(app)
    counting.reset()
    report = app.index(full=True)
    assert report.messages and "full" in report.messages[0]
    assert (report.added, report.removed) == (6, 0)
    m = check_index(app)
    assert m.collection != old.collection
    assert {s: e.chunk_ids for s, e in m.files.items()} == {s: e.chunk_ids for s, e in old.files.items()}
    assert len(counting.texts) == m.chunks


def test_other_vault_root_rebuilds(tmp_path, settings, counting):
    """The same index dir pointed at another vault holds only that vault afterwards."""
    first = small_vault(tmp_path / "first", 4, "heron")
    second = small_vault(tmp_path / "second", 3, "otter")
    app = Assistant(settings.model_copy(update={"notes_dir": first}), embedder=counting)
    app.index()
    report = app.index(vault=second)
    assert report.messages and str(first.resolve()) in report.messages[0]
    assert report.added == 3 and report.removed == 4
    m = check_index(app)
    assert m.vault == str(second.resolve())
    assert all(s.startswith("notes/otter-") for s in m.files)
    assert all("otter" in h.chunk.source for h in all_hits(app, "heron in the reeds"))


# --- crash repair -----------------------------------------------------------------------------------------


def _clean_ids(settings, counting, name: str) -> dict[str, list[str]]:
    clean = Assistant(settings.model_copy(update={"index_dir": settings.index_dir.parent / name}), embedder=counting)
    clean.index()
    check_index(clean)
    return {s: e.chunk_ids for s, e in clean.manifest().files.items()}


def _study_session(vault: Path) -> None:
    """Enough edits for several write batches, plus a delete, a rename and two new notes."""
    for i in range(3, 40):
        edit(vault / f"notes/heron-{i:03d}.md", "stands in the reeds", f"wades through pond {i}")
    (vault / "notes/heron-000.md").unlink()
    os.rename(vault / "notes/heron-001.md", vault / "moved-heron-001.md")
    write_vault(vault, {"notes/extra-a.md": "# A\n\nAn extra note on kingfishers.\n",
                        "notes/extra-b.md": "# B\n\nAn extra note on egrets.\n"})


@pytest.mark.parametrize("after_write", [False, "texts", True], ids=["before-write", "after-texts", "after-write"])
@pytest.mark.parametrize("phase", ["first-index", "incremental", "full"])
def test_crash_midway_is_repaired_exactly(tmp_path, settings, counting, phase, after_write):
    """A run that dies between two writes leaves an index the next run repairs to the vault's exact state."""
    vault = small_vault(tmp_path / "crashvault", 45)
    s = settings.model_copy(update={"notes_dir": vault})
    real = ChromaStore(Path(s.index_dir).resolve())
    before = None
    if phase != "first-index":
        Assistant(s, embedder=counting, store=real).index()
        before = check_index(Assistant(s, store=real))
    if phase == "incremental":
        _study_session(vault)

    crashing = CrashingStore(real, after_write=after_write)
    with pytest.raises(Crash):
        Assistant(s, embedder=counting, store=crashing).index(full=phase == "full")
    assert crashing.adds == 2, "the crash must happen midway, after one batch landed"

    app = Assistant(s, embedder=counting, store=real)
    report = app.index()
    m = check_index(app)
    assert report.failed == []
    assert report.chunks == m.chunks
    expected = _clean_ids(s, counting, "clean")
    assert {src: e.chunk_ids for src, e in m.files.items()} == expected
    if phase == "full":
        assert before is not None
        assert m.chunks == before.chunks and m.collection == before.collection
        assert counts(report) == (0, 0, 0, 0, 45)
    hits = app.search("heron wades through pond 17", k=3)
    assert hits and all(h.chunk.source in m.files for h in hits)


def test_crash_before_old_collection_dropped_leaves_no_orphan(tmp_path, settings, counting):
    """A full rebuild that dies after the manifest swap, before dropping the old generation, is tidied next run."""
    vault = small_vault(tmp_path / "dropvault", 5)
    s = settings.model_copy(update={"notes_dir": vault})
    real = ChromaStore(Path(s.index_dir).resolve())
    Assistant(s, embedder=counting, store=real).index()
    with pytest.raises(Crash):
        Assistant(s, embedder=counting, store=CrashingStore(real, fail_drop=True)).index(full=True)
    app = Assistant(s, embedder=counting, store=real)
    app.index()
    check_index(app)


def test_readers_keep_working_during_a_full_rebuild(tmp_path, settings, counting):
    """While a rebuild fills the next collection, search answers from the current one."""
    vault = small_vault(tmp_path / "readvault", 40)
    s = settings.model_copy(update={"notes_dir": vault})
    real = ChromaStore(Path(s.index_dir).resolve())
    Assistant(s, embedder=counting, store=real).index()
    reader = Assistant(s, embedder=counting, store=real)
    seen: list[list[str]] = []

    class SearchingStore(CrashingStore):
        def add(self, name, chunks, vectors):
            self.real.add(name, chunks, vectors)
            seen.append([h.chunk.source for h in reader.search("heron number 12 at dawn", k=3)])

    Assistant(s, embedder=counting, store=SearchingStore(real)).index(full=True)
    assert len(seen) == 2 and all(len(sources) == 3 for sources in seen)
    check_index(reader)


def test_reader_racing_the_swap_still_gets_hits(tmp_path, settings, counting):
    """A search that read the manifest just before a rebuild swapped it must neither come back empty nor
    recreate the dropped collection (an empty orphan no later run removes)."""
    vault = small_vault(tmp_path / "racevault", 6)
    s = settings.model_copy(update={"notes_dir": vault})
    real = ChromaStore(Path(s.index_dir).resolve())
    Assistant(s, embedder=counting, store=real).index()
    writer = Assistant(s, embedder=counting, store=real)

    class RebuildWhileEmbedding(CountingEmbedder):
        def embed(self, texts):
            if not self.texts:  # once: the rebuild lands between the reader's manifest read and its query
                writer.index(full=True)
            return super().embed(texts)

    reader = Assistant(s, embedder=RebuildWhileEmbedding(counting.inner), store=real)
    hits = reader.search("heron number 3 in the reeds", k=3)
    assert len(hits) == 3
    check_index(writer)


def test_index_dir_inside_the_vault_is_not_indexed(tmp_path, settings, counting):
    """The index writes beside the notes without indexing itself (default data/index lives in data/)."""
    vault = small_vault(tmp_path / "selfvault", 3)
    s = settings.model_copy(update={"notes_dir": vault, "index_dir": vault / "index"})
    app = Assistant(s, embedder=counting)
    app.index()
    shutil.copy(vault / "notes/heron-000.md", vault / "index" / "stray.md")
    assert counts(app.index()) == (0, 0, 0, 0, 3)
    check_index(app)


def test_full_rebuilds_do_not_pile_up_on_disk(tmp_path, fake_embedder):
    """Chroma keeps a dropped collection's vector folder and SQLite pages; after each swap they are given back,
    so three full rebuilds leave one generation's folders and about one generation's bytes."""
    from ingest.settings import Settings

    notes = {f"n{i}.md": f"# Note {i}\n\n" + " ".join(f"word{i}-{j} about owls" for j in range(300)) for i in range(40)}
    vault = write_vault(tmp_path / "v", notes)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    chroma = tmp_path / "i" / "chroma"

    def folders():
        return sorted(d.name for d in chroma.iterdir() if d.is_dir())

    first, size = folders(), (chroma / "chroma.sqlite3").stat().st_size
    for _ in range(3):
        a.index(full=True)
    assert len(folders()) == len(first) and folders() != first  # a new generation, and only it
    assert (chroma / "chroma.sqlite3").stat().st_size < 1.5 * size
    hits = a.search("owls", k=3)
    assert len(hits) == 3 and all(h.chunk.text.startswith("word") or "owls" in h.chunk.text for h in hits)
