"""Hybrid retrieval: dense and lexical fused, filters on both sides, notes spread, exact on small vaults,
and a lexical index that follows every re-index without starting over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import pointers
from assistant.facade import Assistant
from assistant.filters import parse_filters
from assistant.retrieval import RetrievalConfig, spread
from ingest import lexical
from ingest import manifest as mf
from ingest.settings import Settings
from ingest.types import Chunk, Filters
from tests.conftest import write_vault

NOTES = {
    "books/dune.md": "---\ntags: [scifi, desert]\n---\n# Dune\n\nThe spice melange extends life and expands "
                     "consciousness. Arrakis is the only source of the spice.\n",
    "books/foundation.md": "---\ntags: [scifi]\n---\n# Foundation\n\nHari Seldon invented psychohistory to "
                           "predict the fall of the Galactic Empire.\n",
    "papers/attention.md": "---\ntags: [ml, transformers]\n---\n# Attention\n\nThe transformer replaces "
                           "recurrence with self-attention over all tokens. Error code QX-7731 means the "
                           "attention mask was malformed.\n",
    "daily/2025-01-02.md": "# 2025-01-02\n\nRead more of Dune today; the desert ecology is the real hero.\n",
}


@pytest.fixture
def app(tmp_path, fake_embedder) -> Assistant:
    vault = write_vault(tmp_path / "vault", NOTES)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                  embedder=fake_embedder)
    a.index()
    return a


def sources(hits) -> list[str]:
    return [h.chunk.source for h in hits]


def test_a_rare_code_is_found_by_its_exact_words(app):
    hits = app.search("what does QX-7731 mean?", k=2)
    assert hits[0].chunk.source == "papers/attention.md"
    assert hits[0].lexical > 0 and "QX-7731" in hits[0].chunk.text


@pytest.mark.parametrize("sides", [{}, {"lexical_weight": 0.0}, {"dense_weight": 0.0}])
@pytest.mark.parametrize("spec,allowed", [
    (["tag=scifi"], {"books/dune.md", "books/foundation.md"}),
    (["tag=scifi", "tag=desert"], {"books/dune.md"}),
    (["folder=books"], {"books/dune.md", "books/foundation.md"}),
    (["folder=papers", "kind=note"], {"papers/attention.md"}),
    (["folder=papers", "folder=daily"], {"papers/attention.md", "daily/2025-01-02.md"}),  # either folder
    (["source=daily/2025-01-02.md", "source=books/dune.md", "tag=desert"], {"books/dune.md"}),
    (["kind=note", "kind=pdf", "folder=books/"], {"books/dune.md", "books/foundation.md"}),
    (["source=daily/2025-01-02.md"], {"daily/2025-01-02.md"}),
    (["kind=pdf"], set()),
])
def test_filters_hold_on_both_retrievers(app, spec, allowed, sides):
    """Each filter limits dense-only, lexical-only and fused search alike; nothing outside it comes back."""
    app.retriever.config = RetrievalConfig(**sides)
    hits = app.search("dune spice desert transformer psychohistory", k=10, filters=parse_filters(spec))
    assert set(sources(hits)) <= allowed
    if allowed and not sides.get("dense_weight") == 0.0:
        assert set(sources(hits)) == allowed  # dense search returns every allowed chunk at k=10


def test_filter_matches_what_chroma_filters():
    f = Filters(tags=("scifi",), folders=("books",))
    assert f.matches("books/dune.md", "note", ["scifi", "desert"])
    assert not f.matches("bookshelf/dune.md", "note", ["scifi"])  # a folder is a path prefix, not a string one
    assert not f.matches("books/dune.md", "note", ["desert"])
    either = Filters(folders=("books", "papers"), sources=("books/dune.md", "papers/a.md"))
    assert either.matches("papers/a.md", "note", []) and not either.matches("daily/a.md", "note", [])


def test_bad_filters_are_one_line_errors():
    for bad in (["colour=red"], ["tag"], ["kind=book"], ["tag="]):
        with pytest.raises(ValueError):
            parse_filters(bad)
    assert parse_filters(["folder=/books/", "tag=#ml"]) == Filters(tags=("ml",), folders=("books",))


def test_a_search_reads_texts_only_for_the_candidates_it_rescores_and_the_hits_it_returns(app, monkeypatch):
    """Dozens of candidates are fused; only the first few (an answer's search re-reads them sentence by sentence)
    and the k kept are read from the text store (each text ~25 µs), and they come back whole: exact spans,
    highlights included."""
    asked: list[list[str]] = []
    real = app.store.texts.get
    monkeypatch.setattr(app.store.texts, "get", lambda name, ids: asked.append(list(ids)) or real(name, ids))
    for filters in ([], ["folder=books"]):
        asked.clear()
        hits = app.search("the desert ecology of Dune", k=2, filters=parse_filters(filters) if filters else None)
        assert len(hits) == 2 and asked == [[h.chunk.id for h in hits]]
        asked.clear()
        hits = app.search("the desert ecology of Dune", k=2, filters=parse_filters(filters) if filters else None,
                          rescore=True)
        head, kept = asked
        assert len(hits) == 2 and kept == [h.chunk.id for h in hits] and set(kept) <= set(head)
        assert len(head) <= app.retriever.config.rescore
        for h in hits:
            raw = (app.settings.notes_dir / h.chunk.source).read_text(encoding="utf-8")
            assert raw[h.chunk.start:h.chunk.end] == h.chunk.text


def test_results_spread_over_notes(tmp_path, fake_embedder):
    """Six chunks of one long note about a subject must not crowd out the short note that also covers it."""
    parts = (f"## Part {i}\n\nWhales sing songs across the ocean, part {i}." for i in range(6))
    long = "# Whales\n\n" + "\n\n".join(parts)
    vault = write_vault(tmp_path / "v", {"whales.md": long, "song.md": "# Songs\n\nHumpback whales sing songs."})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    hits = a.search("whales sing songs", k=4)
    assert "song.md" in sources(hits) and sources(hits).count("whales.md") == 3
    assert len(a.search("whales sing songs", k=7)) == 7  # with no other note left, the rest of the long note


def test_a_notes_fourth_chunk_comes_in_only_when_it_leads_the_other_notes_by_the_margin():
    """A speech of forty passages asked about by its speaker and year: its fourth passage, far ahead of any other
    note's, is an answer, not crowding; a fourth passage about as good as another note's yields to it."""
    order = ["a1", "a2", "a3", "a4", "b1", "a5", "c1"]
    score = dict(zip(order, [1.5, 1.4, 1.35, 1.3, 1.0, 0.98, 0.9], strict=True)).get
    note = lambda i: i[0]  # noqa: E731
    assert spread(order, 5, note, 3, score, 0.1) == ["a1", "a2", "a3", "a4", "b1"]
    assert spread(order, 5, note, 3, score, 0.35) == ["a1", "a2", "a3", "b1", "a4"]
    assert spread(order, 5, note, 3) == ["a1", "a2", "a3", "b1", "c1"]  # no margin: a hard cap
    assert spread(order, 5, note, 3, score, 0.1)[:3] == spread(order, 3, note, 3, score, 0.1)


def test_dense_search_is_exact_on_a_templated_vault(tmp_path, embedder):
    """300 daily notes from one template and one note on giraffes: dense search alone finds the giraffe note
    first, and its top 10 equal an exact search over every stored vector, in a fresh client each time."""
    template = "# Daily {d}\n\n## Tasks\n\n- [ ] review inbox\n- [ ] water plants\n\n## Mood\n\nCalm, {d}.\n"
    files = {f"daily/2024-{1 + i // 28:02d}-{1 + i % 28:02d}.md": template.format(d=i) for i in range(300)}
    files["zoo/giraffe.md"] = "# Giraffes\n\nA giraffe's neck has seven vertebrae, the same as a human's."
    vault = write_vault(tmp_path / "v", files)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=embedder)
    a.index()
    a.retriever.config = RetrievalConfig(lexical_weight=0.0)
    q = "How many vertebrae does a giraffe neck have?"
    m = a.manifest()
    got = a.store._collection(m.collection).get(include=["embeddings"])
    qv = np.asarray(embedder.embed([q])[0])
    exact = [got["ids"][i] for i in np.argsort(-(np.asarray(got["embeddings"]) @ qv))[:10]]
    for _ in range(3):
        a.store.reopen()
        found = [c.id for c, _ in a.store.query(m.collection, qv.tolist(), 10)]
        assert found == exact
        assert a.search(q, k=3)[0].chunk.source == "zoo/giraffe.md"


def test_lexical_index_follows_edits_without_starting_over(tmp_path, fake_embedder, monkeypatch):
    vault = write_vault(tmp_path / "v", NOTES)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    first = a.manifest().lexical
    analyzed: list[str] = []
    real = lexical.Analyzer.__call__
    monkeypatch.setattr(lexical.Analyzer, "__call__", lambda self, t: analyzed.append(t) or real(self, t))
    (vault / "books/foundation.md").write_text("# Foundation\n\nThe Mule is a mutant who breaks the Seldon Plan.\n")
    a.index()
    m = a.manifest()
    assert m.lexical != first and not (tmp_path / "i" / lexical.DIR / first).exists()
    assert len(analyzed) == 1 and "Mule" in analyzed[0]  # only the changed chunk was tokenized
    gen = lexical.load(tmp_path / "i", m.lexical)
    assert sorted(gen.ids) == sorted(i for e in m.files.values() for i in e.chunk_ids)
    assert sources(a.search("Mule mutant", k=1)) == ["books/foundation.md"]
    assert not a.search("psychohistory", k=5, filters=Filters(sources=("books/foundation.md",)))[0].lexical


def test_a_crash_before_the_manifest_names_a_generation_leaves_the_old_one(tmp_path, fake_embedder, monkeypatch):
    vault = write_vault(tmp_path / "v", NOTES)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    before = a.manifest().lexical

    real_save = mf.save

    def crash(index_dir, manifest, *args):  # killed just before the manifest would name the new generation
        if manifest.lexical != before:
            raise KeyboardInterrupt
        real_save(index_dir, manifest, *args)

    (vault / "books/dune.md").write_text("# Dune\n\nThe sandworms guard the spice.\n")
    monkeypatch.setattr(mf, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        a.index()
    monkeypatch.undo()
    assert mf.load(tmp_path / "i").lexical == before
    assert len(list((tmp_path / "i" / lexical.DIR).iterdir())) == 2  # the orphan, until the next run
    a.index()
    m = a.manifest()
    assert [p.name for p in (tmp_path / "i" / lexical.DIR).iterdir()] == [m.lexical]
    assert sources(a.search("sandworms", k=1)) == ["books/dune.md"]


def test_a_renamed_note_titled_by_its_file_name_is_embedded_again(tmp_path):
    """The title is in the embedded header: a rename that changes it must not keep the old vector."""
    seen: list[str] = []

    class Recording:
        name = "all-MiniLM-L6-v2"

        def embed(self, texts):
            seen.extend(texts)
            return [[1.0] + [0.0] * 383 for _ in texts]

    vault = write_vault(tmp_path / "v", {"old name.md": "Plain text with no heading at all."})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=Recording())
    a.index()
    (vault / "old name.md").rename(vault / "new name.md")
    seen.clear()
    assert a.index().renamed == 1
    assert seen and seen[0].startswith("new name")


@pytest.mark.slow
def test_an_index_remembers_its_vault(tmp_path):
    """`reread index --vault X`, then a plain `reread index` keeps X; another --vault says what it replaces."""
    root = Path(__file__).resolve().parent.parent
    x = write_vault(tmp_path / "x", {"a.md": "# A\n\nAlpha note about owls."})
    y = write_vault(tmp_path / "y", {"b.md": "# B\n\nBeta note about foxes."})
    env_root = tmp_path / "work"
    env_root.mkdir()
    cmd = [sys.executable, "-c", "from assistant.cli import main; main()"]

    def reread(*args):
        return subprocess.run(cmd + list(args), cwd=env_root, capture_output=True, text=True, timeout=300,
                              env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(root),
                                   "REREAD_INDEX_DIR": str(tmp_path / "idx")})

    assert reread("index", "--vault", str(x), "--json").returncode == 0
    again = reread("index", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == 1 and "replac" not in again.stderr
    assert json.loads(reread("status", "--json").stdout)["vault"] == str(x.resolve())
    moved = reread("index", "--vault", str(y), "--json")
    assert moved.returncode == 0 and str(x.resolve()) in moved.stderr and "replacing" in moved.stderr
    hits = json.loads(reread("search", "foxes", "--json", "--filter", "source=b.md").stdout)["hits"]
    assert [h["source"] for h in hits] == ["b.md"]
    bad = reread("search", "foxes", "--filter", "colour=red")
    assert bad.returncode == 2 and "colour" in bad.stderr and not bad.stdout


def random_docs(rng, n: int, first: int = 0) -> list[lexical.Doc]:
    words = [f"w{i}" for i in range(40)]
    return [lexical.Doc(f"c{first + i}", f"n{(first + i) % 7}.md", "note", [],
                        " ".join(rng.choice(words) for _ in range(rng.randrange(0, 25)))) for i in range(n)]


def test_the_bm25_matrix_scores_as_bm25s_builds_it_and_reads_back_without_bm25s(tmp_path):
    """Built and saved with numpy (neither a search nor a re-index imports bm25s and scipy), in bm25s's format:
    the scores are bm25s's own, bm25s loads the saved files, and its own save writes the same arrays."""
    import random

    import bm25s

    docs = random_docs(random.Random(7), 150)
    gen = lexical.build(None, [d.id for d in docs], docs, str.split, {})
    theirs = bm25s.BM25(k1=lexical.K1, b=lexical.B)
    theirs.index(bm25s.tokenization.Tokenized(ids=[[gen.vocab[t] for t in d.text.split()] for d in docs],
                                              vocab=dict(gen.vocab)), show_progress=False)
    gen.scores.save(tmp_path / "bm25", gen.vocab)
    read = lexical.Scores.load(tmp_path / "bm25")
    loaded = bm25s.BM25.load(str(tmp_path / "bm25"))
    for q in (["w1", "w2"], ["w7"], ["w3", "w3", "w39"]):
        expected = theirs.get_scores(q)
        assert np.allclose(gen.scores.of([gen.vocab[t] for t in q]), expected, atol=1e-5)
        assert np.allclose(read.of([gen.vocab[t] for t in q]), expected, atol=1e-5)
        assert np.allclose(loaded.get_scores(q), expected, atol=1e-5)
    theirs.save(str(tmp_path / "by-bm25s"), show_progress=False)
    for name in lexical.Scores.FILES:  # the scores as bm25s computes them, to the last float bit or two
        a, b = np.load(tmp_path / "bm25" / name), np.load(tmp_path / "by-bm25s" / name)
        assert a.dtype == b.dtype and np.allclose(a, b, rtol=1e-6, atol=0)
    mine, own = (json.loads((tmp_path / d / "params.index.json").read_text()) for d in ("bm25", "by-bm25s"))
    assert mine == own


def test_an_edited_generation_equals_one_built_from_scratch(tmp_path):
    """Chunks dropped, kept and added over three generations (saved and read back between them, as writers
    do): the matrix, the counts and the lengths equal a generation built from nothing with the same chunks."""
    import random

    rng = random.Random(11)
    docs = random_docs(rng, 120)
    gen = lexical.build(None, [d.id for d in docs], docs, str.split, {})
    for step in range(3):
        kept = [d for d in docs if rng.random() > 0.2]
        added = random_docs(rng, 15, first=1000 * (step + 1))
        lexical.save(tmp_path, f"g{step}", gen)
        previous = lexical.load(tmp_path, f"g{step}", for_writer=True)
        gen = lexical.build(previous, [d.id for d in kept], added, str.split, {})
        docs = kept + added
        fresh = lexical.build(None, [d.id for d in docs], docs, str.split, {})
        assert gen.ids == fresh.ids and gen.vocab.keys() >= fresh.vocab.keys()
        for t, i in fresh.vocab.items():  # the vocabulary keeps terms of dropped chunks: compare term by term
            j = gen.vocab[t]
            a, b = slice(*gen.scores.indptr[j:j + 2]), slice(*fresh.scores.indptr[i:i + 2])
            assert np.array_equal(gen.scores.indices[a], fresh.scores.indices[b])
            assert np.array_equal(gen.tf[a], fresh.tf[b])
            assert np.allclose(gen.scores.data[a], fresh.scores.data[b], atol=1e-6)
        assert np.array_equal(gen.lengths, fresh.lengths)


def test_a_generation_written_before_counts_were_kept_is_counted_once_from_its_token_ids(tmp_path):
    import random

    docs = random_docs(random.Random(3), 60)
    gen = lexical.build(None, [d.id for d in docs], docs, str.split, {})
    lexical.save(tmp_path, "old", gen)
    folder = tmp_path / lexical.DIR / "old"
    (folder / "tf.npy").unlink()  # the earlier layout: every chunk's token ids instead of the counts
    np.save(folder / "tokens.npy", np.concatenate([[gen.vocab[t] for t in d.text.split()] for d in docs]))
    read = lexical.load(tmp_path, "old", for_writer=True)
    assert np.array_equal(read.tf, gen.tf) and np.array_equal(read.scores.indices, gen.scores.indices)
    assert np.allclose(read.scores.data, gen.scores.data, atol=1e-6)


def test_exported_answers_in_the_vault_are_not_indexed_unless_asked(tmp_path, fake_embedder):
    vault = write_vault(tmp_path / "v", {"a.md": "# A\n\nOwls hunt at night.",
                                         "reread-answers/2026-11-30-owls.md": "# Owls?\n\nOwls hunt at night [^1]."})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    assert set(a.manifest().files) == {"a.md"}
    b = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "j", index_exports=True), embedder=fake_embedder)
    b.index()
    assert set(b.manifest().files) == {"a.md", "reread-answers/2026-11-30-owls.md"}


def test_a_filter_applied_after_the_vector_search_finds_what_chromas_filter_finds(tmp_path, fake_embedder):
    """A tag on one note in ten is applied to a deeper unfiltered search (cheaper than Chroma's filter at 100k
    chunks); a tag on one note in sixty goes to Chroma's filter. Both give what Chroma's own filter gives."""
    notes = {f"n{i:02}.md": (f"---\ntags: [{'owls' if i % 10 == 0 else 'misc'}{', rare' if i == 7 else ''}]\n---\n"
                             f"# Note {i}\n\nBirds of the night number {i} hunt mice in the field.\n")
             for i in range(60)}
    vault = write_vault(tmp_path / "v", notes)
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    m = a.manifest()
    qvec = fake_embedder.embed(["night birds hunting"])[0]
    calls = []
    real = a.store.query
    a.store.query = lambda *args, **kw: calls.append(args) or real(*args, **kw)
    for spec, via_chroma in ((["tag=owls"], False), (["tag=rare"], True)):
        calls.clear()
        filters = parse_filters(spec)
        got = a.retriever._dense(m, qvec, 5, filters, a.retriever.generation(m))
        assert bool(calls) == via_chroma
        want = real(m.collection, qvec, 5, filters, m.files)
        assert len(got) == len(want) and all(filters.matches(c.source, c.kind, c.metadata["tags"]) for c, _ in got)
        assert all(abs(x - y) < 1e-5 for (_, x), (_, y) in zip(got, want, strict=True))  # equal up to ties


@pytest.mark.parametrize("part", ["meta.json", "bm25/data.csc.index.npy"])
def test_a_garbage_lexical_generation_is_one_line_for_a_reader(tmp_path, fake_embedder, part):
    """Bytes that are not a generation, under a reader: the error names the folder and `reread index`
    (which writes it again from the stored vectors), not a JSON or numpy traceback."""
    from ingest.errors import IndexDamaged

    vault = write_vault(tmp_path / "v", {"a.md": "# A\n\nWhales sing songs.", "b.md": "# B\n\nBees dance."})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    folder = tmp_path / "i" / lexical.DIR / a.manifest().lexical
    (folder / part).write_bytes(b"\x00\xffnot a generation")
    reader = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    with pytest.raises(IndexDamaged) as e:
        reader.search("whales")
    assert str(folder) in str(e.value) and "run `reread index`" in str(e.value) and "\n" not in str(e.value)


def test_a_lexical_generation_gone_from_under_the_manifest_is_one_line(tmp_path, fake_embedder):
    import shutil

    from ingest.errors import IndexDamaged

    vault = write_vault(tmp_path / "v", {"a.md": "# A\n\nWhales sing songs."})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    shutil.rmtree(tmp_path / "i" / lexical.DIR / a.manifest().lexical)
    reader = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    with pytest.raises(IndexDamaged) as e:
        reader.search("whales")
    assert "is missing" in str(e.value) and "run `reread index`" in str(e.value)


def test_a_filter_allowing_more_sources_than_one_query_takes_is_searched_in_parts(tmp_path, fake_embedder,
                                                                                   monkeypatch):
    """Filters reach Chroma as the list of files they allow; SQLite caps a statement's variables (~32k), so a
    long list is searched in parts and the best kept: the same answer as one query."""
    from ingest import store as store_module

    vault = write_vault(tmp_path / "v", {f"n{i:02}.md": f"# Note {i}\n\nOwls number {i} hunt at night.\n"
                                         for i in range(12)})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    m = a.manifest()
    qvec = fake_embedder.embed(["owls hunting"])[0]
    whole = a.store.query(m.collection, qvec, 5, parse_filters(["kind=note"]), m.files)
    from chromadb.api.models.Collection import Collection

    monkeypatch.setattr(store_module, "MAX_IN", 5)
    sizes, real = [], Collection.query
    monkeypatch.setattr(Collection, "query", lambda self, **kw: sizes.append(len(kw["where"]["source"]["$in"]))
                        or real(self, **kw))
    parts = a.store.query(m.collection, qvec, 5, parse_filters(["kind=note"]), m.files)
    assert sizes == [5, 5, 2] and len(parts) == len(whole) == 5
    assert all(abs(x - y) < 1e-5 for (_, x), (_, y) in zip(parts, whole, strict=True))  # equal up to ties
    assert a.store.query(m.collection, qvec, 5, parse_filters(["kind=pdf"]), m.files) == []
    assert all(c.title.startswith("Note ") for c, _ in whole)  # per-file fields come from the manifest


def test_near_identical_notes_are_all_reachable_in_the_vector_index(tmp_path, fake_embedder):
    """Notes from one template with a number changed: the HNSW graph must not fall apart (with Chroma's default
    of 16 neighbours a search for all 60 returned fewer in 16 of 20 builds)."""
    vault = write_vault(tmp_path / "v", {f"n{i:02}.md": f"# Note {i}\n\nBirds of the night number {i} hunt mice.\n"
                                         for i in range(60)})
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    m = a.manifest()
    got = a.store.nearest_ids(m.collection, fake_embedder.embed(["night birds hunting"])[0], 60)
    assert len(got) == m.chunks == 60


def test_the_passage_holding_the_answer_is_rescored_above_a_chunk_that_merely_shares_its_words(tmp_path,
                                                                                                fake_embedder):
    """A chunk's one vector averages all its sentences: the note whose single sentence says what was asked lost to
    a note scattering the question's words over a paragraph, until the first candidates are re-read sentence by
    sentence."""
    answer = ("# Lighthouse log\n\nThe ferry left late. Gulls circled the pier at dawn. Fog rolled over the bay. "
              "The keeper painted the railings. Rain fell on the tower all afternoon. Supplies came by boat. "
              "Seals slept on the rocks below. A storm broke two windows in March. The radio crackled at noon. "
              "The brass lamp burns paraffin oil every night.\n")
    scattered = "# Lamps\n\nThe lamp. Every note on oil. A brass bell. Burns and nights.\n"
    vault = write_vault(tmp_path / "v", {"log.md": answer, "lamps.md": scattered})
    plain = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    plain.index()
    question = "the brass lamp burns paraffin oil every night"
    assert sources(plain.search(question, k=2)) == ["lamps.md", "log.md"]  # a plain search: the fused order
    hits = plain.search(question, k=2, rescore=True)  # an answer's search
    assert sources(hits) == ["log.md", "lamps.md"] and hits[0].fused > hits[1].fused
    plain.retriever.config = RetrievalConfig(rescore=0)
    assert sources(plain.search(question, k=2, rescore=True)) == ["lamps.md", "log.md"]


class Counting:
    """A fake embedder that remembers every text it was asked to embed."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def embed(self, texts):
        self.seen += texts
        return self.inner.embed(texts)


def test_an_offline_answer_embeds_no_text_twice(tmp_path, fake_embedder):
    """The question and the first candidates' sentences are embedded once for the retriever's re-reading and
    reused by the offline answerer, and again by nobody on the next question that needs them."""
    vault = write_vault(tmp_path / "vault", NOTES)
    counting = Counting(fake_embedder)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"), embedder=counting)
    app.index()
    counting.seen.clear()
    answer = app.ask("What does the spice melange do?")
    assert answer.found and "melange" in answer.answer
    assert counting.seen and len(counting.seen) == len(set(counting.seen))
    asked = len(counting.seen)
    app.ask("What does the spice melange do?")
    assert len(counting.seen) == asked


def test_the_memo_forgets_the_least_recently_used(fake_embedder):
    from assistant.memo import MemoEmbedder

    counting = Counting(fake_embedder)
    memo = MemoEmbedder(counting, size=2)
    a = memo.embed(["a", "b", "a"])
    again = memo.embed(["a"])  # a hit: "a" is now the more recently used of the two
    b = memo.embed(["c"])  # ... so "b" is forgotten
    c = memo.embed(["a", "b"])
    assert a[0] == a[2] == again[0] == c[0] and counting.seen == ["a", "b", "c", "b"]
    assert b[0] == fake_embedder.embed(["c"])[0] and memo.name == "all-MiniLM-L6-v2"


def test_a_candidate_with_no_sentence_to_read_keeps_its_own_cosine(tmp_path, fake_embedder):
    """A table row, a list of names or code after a short lead-in has no sentence the re-reading can weigh: it
    counts with its own cosine, not with nothing (it fell below every prose candidate before)."""
    from types import SimpleNamespace

    from assistant.retrieval import Retriever
    from ingest.types import Chunk

    class Store:
        def with_texts(self, name, chunks):
            return chunks

    def chunk(cid: str, text: str) -> Chunk:
        return Chunk(id=cid, source=f"{cid}.md", kind="note", title=cid, heading="", page=None, start=0,
                     end=len(text), text=text)

    chunks = {"table": chunk("table", "| Hotkey | Action |\n|---|---|\n| Ctrl+P | Open the command palette now |"),
              "prose": chunk("prose", "Gulls circled the pier at dawn. The ferry left late that day.")}
    retriever = Retriever(Store(), fake_embedder, tmp_path)
    fused, cosine = {"table": 1.0, "prose": 0.9}, {"table": 0.8, "prose": 0.1}
    qvec = fake_embedder.embed(["open the command palette"])[0]
    order = retriever._rescore(SimpleNamespace(collection="c"), qvec, ["table", "prose"], chunks, fused, cosine)
    assert order == ["table", "prose"] and fused["table"] == pytest.approx(1.0 + retriever.config.sentence_weight * 0.8)


def test_the_memo_keeps_each_encoders_vectors_apart(fake_embedder):
    """A Re-index that makes the ONNX export switches a process that started on torch: the same question must be
    embedded again by the new encoder, never answered from the old one's memo."""
    from assistant.memo import MemoEmbedder

    counting = Counting(fake_embedder)
    counting.encoder = "torch"
    memo = MemoEmbedder(counting)
    memo.embed(["what is melange?"])
    counting.encoder = "onnx-int8"
    memo.embed(["what is melange?"])
    assert counting.seen == ["what is melange?", "what is melange?"]


def test_a_node_hnsw_cannot_reach_is_still_found_in_a_small_collection(app, monkeypatch):
    """After a rename deletes and re-adds vectors, Chroma's HNSW graph sometimes leaves one unreachable (87 of 88
    ids for n_results 352, one test run in five): asked for more ids than it returned while the collection holds
    more, the store searches a small collection exactly."""
    m = app.manifest()
    col = app.store._collection(m.collection, create=False)
    real = type(col).query

    def lossy(self, **kw):  # one id short, as HNSW answered
        got = real(self, **kw)
        return {key: [v[0][:-1]] if isinstance(v, list) and v and isinstance(v[0], list) else v
                for key, v in got.items()}

    monkeypatch.setattr(type(col), "query", lossy)
    qvec = app.embedder.embed(["spice"])[0]
    found = app.store.query(m.collection, qvec, 50, None, m.files, texts=False)
    assert len(found) == m.chunks == col.count()
    sims = [s for _, s in found]
    assert sims == sorted(sims, reverse=True)


POINTING = {
    "Glossary.md": "# Glossary\n\n## Graph\n\nA graph shows how your notes are connected. See [[Graph view]].\n\n"
                   "## Tag\n\nA tag is a keyword that groups notes. See [[Tags]].\n",
    "Plugins/Graph view.md": "# Graph view\n\nGraph view draws every note in the vault as a dot and every link "
                             "between two notes as a line, so you see how they are connected. To open it, select "
                             "Open graph view in the ribbon on the left, or run the command from the palette. Drag "
                             "the dots around, zoom with the scroll wheel, and filter which notes show in the "
                             "settings panel.\n",
    "Tags.md": "# Tags\n\nTags group notes by a keyword written with a hash sign.\n",
}


def test_a_short_passage_pointing_to_a_note_yields_to_that_notes_best_passage(tmp_path, fake_embedder):
    """A glossary entry repeats the question's words and links to the page that answers: the answer's search places
    that page's passage just above the pointer; a plain search keeps the fused order."""
    vault = write_vault(tmp_path / "v", POINTING)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    app.index()
    question = "How do I see how my notes are connected?"

    def order(**kw) -> list[str]:
        return [h.chunk.heading or h.chunk.title for h in app.search(question, k=3, **kw)]

    assert order()[:2] == ["Graph", "Graph view"]  # a plain search: the fused order
    assert order(rescore=True)[:2] == ["Graph view", "Graph"]
    app.retriever.config = RetrievalConfig(pointer_words=0)
    assert order(rescore=True)[:2] == ["Graph", "Graph view"]


def test_a_note_is_found_and_linked_to_by_its_aliases(tmp_path, fake_embedder):
    """Obsidian's `aliases` are a note's other names: a search by one finds the note as its title would, and a
    link to one points to it; both after the index is reopened (the aliases are read back from the manifest)."""
    notes = dict(POINTING)
    notes["Plugins/Graph view.md"] = "---\naliases: [Knowledge map, How to/Explore links]\n---\n" + \
        notes["Plugins/Graph view.md"]
    notes["Glossary.md"] = notes["Glossary.md"].replace("See [[Graph view]].",
                                                        "See [[How to/Explore links|graph view]].")
    notes["Other.md"] = ("# Other\n\nA map of the town and its streets, drawn by hand years ago, with every bakery, "
                         "school, park and bus stop we used when the children were small.\n")
    vault = write_vault(tmp_path / "v", notes)
    Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder).index()
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)

    assert app.search("knowledge map", k=1)[0].chunk.source == "Plugins/Graph view.md"
    assert app.search("explore links", k=1)[0].chunk.source == "Plugins/Graph view.md"
    order = [h.chunk.heading or h.chunk.title for h in app.search("How do I see how my notes are connected?", k=3,
                                                                  rescore=True)]
    assert order[:2] == ["Graph view", "Graph"]  # the glossary's pointer names the page by its alias


def test_a_link_names_its_note_as_obsidian_resolves_it():
    """By path when the link gives one, else by file name; a link shown as code links nowhere."""
    text = "See [[Folder/Graph view#Local graph|the graph]], [[Tags.md]], [[#Heading here]] and `[[Not a link]]`."
    assert pointers.targets(text) == [("folder/graph view.md", "graph view"), ("tags",)]
    markdown = 'See [the graph](../Plugins/Graph%20view.md#local "Graph"), [web](https://e.org/x.md), ![](a.png)'
    # Obsidian with wikilinks turned off writes these: by path from the linking note, or the shortest path
    assert pointers.targets(markdown, "Help/Intro.md") == [("plugins/graph view.md", "graph view")]
    assert pointers.targets("[Extensions](index.md)", "extensions/smarty.md") == [("extensions/index.md", "index")]
    assert pointers.targets("[g](<Graph view.md>)", "Help/Intro.md") == [("help/graph view.md", "graph view")]
    graph = Chunk("c", "Plugins/Graph view.md", "note", "Graph view", "", None, 0, 1, "x",
                  metadata={"aliases": ["Graph", "How to/See links"]})
    assert pointers.note_names(graph) == ("graph view", "plugins/graph view.md", "graph", "how to/see links",
                                          "how to/see links.md")


def test_a_see_also_line_naming_several_notes_lifts_none_of_them(tmp_path, fake_embedder):
    """A pointer points to one place; "see also [[A]], [[B]]" is a list, and lifting every note it names would
    bury the passage that answers under them."""
    notes = dict(POINTING)
    notes["Glossary.md"] = notes["Glossary.md"].replace("See [[Graph view]].", "See [[Graph view]] and [[Tags]].")
    vault = write_vault(tmp_path / "v", notes)
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    app.index()
    question = "How do I see how my notes are connected?"
    assert [h.chunk.heading or h.chunk.title for h in app.search(question, k=2, rescore=True)][0] == "Graph"


def test_an_index_weighed_by_an_older_bm25_is_reweighed_on_the_next_run(tmp_path, fake_embedder, monkeypatch):
    """BM25's b changed (0.75 -> 0.5): the next index run recomputes an older index's lexical scores from the counts
    it kept, embeds nothing, and then scores as an index built now."""
    vault = write_vault(tmp_path / "v", NOTES)
    now = lexical.B
    monkeypatch.setattr(lexical, "B", 0.75)
    old = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "old"), embedder=fake_embedder)
    old.index()
    written = old.manifest().lexical
    question = "the desert spice of Dune"
    before = [(h.chunk.id, round(h.lexical, 5)) for h in old.search(question, k=4)]
    monkeypatch.setattr(lexical, "B", now)
    assert not lexical.weighed_as_now(tmp_path / "old", written)
    counting = Counting(fake_embedder)
    upgraded = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "old"), embedder=counting)
    upgraded.index()
    assert counting.seen == [] and upgraded.manifest().lexical != written
    assert lexical.weighed_as_now(tmp_path / "old", upgraded.manifest().lexical)
    fresh = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "new"), embedder=fake_embedder)
    fresh.index()
    after = [(h.chunk.id, round(h.lexical, 5)) for h in upgraded.search(question, k=4)]
    assert after == [(h.chunk.id, round(h.lexical, 5)) for h in fresh.search(question, k=4)] and after != before


def test_a_short_value_is_re_read_with_the_heading_its_own_vector_holds(tmp_path, embedder):
    """"331,918 (July 2015 est.)" alone is nothing like the question; under "Iceland > Population", which the
    chunk's vector reads with it, it answers. A re-read chunk counts by itself when that is closer than its best
    sentence: before, the capital's population ranked first for its sentence's "(capital) 184,000"."""
    note = ("# Iceland\n\n## Population\n\n331,918 (July 2015 est.)\n\n## Birth rate\n\n13.91 births/1,000 "
            "population (2015 est.)\n\n## Major urban areas - population\n\nREYKJAVIK (capital) 184,000 (2014)\n")
    vault = write_vault(tmp_path / "v", {"Iceland.md": note})
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=embedder)
    app.index()
    hits = app.search("What is the population of Iceland?", k=3, rescore=True)
    assert hits[0].chunk.heading == "Population"


def test_a_deep_lexical_candidate_is_read_only_when_it_can_still_place(tmp_path):
    """The lexical side brings 200 candidates; one the dense side did not return has a cosine no higher than the
    dense side's last, so a plain search reads its vector (~0.1 ms) only when that ceiling plus its BM25 share beats
    the k-th candidate. The one that can place and does is read and ranked first; the ones that cannot are not."""
    from types import SimpleNamespace

    from assistant.retrieval import Retriever

    def chunk(cid: str) -> Chunk:
        return Chunk(id=cid, source=f"{cid}.md", kind="note", title=cid, heading="", page=None, start=0, end=4,
                     text="text")

    def vec(cos: float) -> list[float]:
        return [cos, float(np.sqrt(1 - cos * cos))]

    dense = [(chunk("A"), 0.9), (chunk("B"), 0.6), (chunk("D"), 0.55), (chunk("E"), 0.5)]
    bm25 = [("L1", 10.0), ("L2", 9.9), ("L3", 9.8), ("L4", 9.7), ("L5", 9.6), ("L6", 1.0), ("L7", 0.5), ("L8", 0.2)]
    cos = {"L1": 0.1, "L2": 0.1, "L3": 0.1, "L4": 0.1, "L5": 0.45, "L6": 0.5, "L7": 0.5, "L8": 0.5}
    read: list[str] = []

    class Store:
        def query(self, name, vector, k, filters=None, files=None, texts=True):
            return dense[:k]

        def get_with_vectors(self, name, ids, files=None, texts=True):
            read.extend(ids)
            return {i: (chunk(i), vec(cos[i])) for i in ids}

        def with_texts(self, name, chunks):
            return chunks

    class Generation:
        def search(self, terms, k, filters=None):
            return [(i, s, f"{i}.md") for i, s in bm25[:k]]

    class Embedder:
        def embed(self, texts):
            return [[1.0, 0.0] for _ in texts]

    def search(margin: float, answer: bool = False) -> list:
        read.clear()
        retriever = Retriever(Store(), Embedder(), tmp_path,
                              RetrievalConfig(depth=4, lexical_depth=8, spread_margin=margin, rescore=0))
        retriever._gen = ("g1", Generation())
        return retriever.retrieve(SimpleNamespace(collection="c", files={}, lexical="g1"), "query words", 1, None,
                                  answer)

    hits = search(0.05)
    assert [h.chunk.id for h in hits] == ["L5"] and hits[0].fused == pytest.approx(0.45 + 0.5 * 9.6 / 10)
    assert sorted(read) == ["L1", "L2", "L3", "L4", "L5"]  # L6-L8 could reach 0.5 + 0.05 at best: under 0.9 - 0.05
    # a hard cap (no margin) may pass over the k-th candidate for another note's: every deeper one is read then
    assert [h.chunk.id for h in search(0.0)] == ["L5"] and len(read) == 8
    # and an answer's search, whose re-reading and pointers can lift a candidate from anywhere
    assert [h.chunk.id for h in search(0.05, answer=True)] == ["L5"] and len(read) == 8
