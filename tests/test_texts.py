"""The text store: chunk texts by collection and id, compressed, shared between a writer and readers."""

from __future__ import annotations

import pytest

from ingest.errors import IndexDamaged
from ingest.texts import FILE, TextStore

TEXTS = [f"## Heron {i}\n\nThe grey heron number {i} waits in the reeds at dawn and strikes at fish "
         f"with its long bill. Seen on day {i} near the ==old mill==." for i in range(2000)]


def rows(texts: list[str], prefix: str = "id") -> list[tuple[str, str, list]]:
    return [(f"{prefix}{i}", t, [[5, 9]] if i % 3 == 0 else []) for i, t in enumerate(texts)]


def test_texts_and_marks_come_back_exactly_and_smaller(tmp_path):
    odd = ["", "\x00 nul and \r\n crlf", "שלום 🙂 مرحبا \u202eevil\u202c", "x" * 100_000]
    store = TextStore(tmp_path)
    store.put("c1", rows(TEXTS + odd))
    got = store.get("c1", [f"id{i}" for i in range(len(TEXTS) + len(odd))] + ["nope"])
    assert [got[f"id{i}"][0] for i in range(len(TEXTS) + len(odd))] == TEXTS + odd
    assert got["id0"][1] == [[5, 9]] and got["id1"][1] == []
    assert "nope" not in got
    raw = sum(len(t.encode()) for t in TEXTS + odd)
    assert (tmp_path / FILE).stat().st_size < raw / 2, "texts are stored compressed"


def test_a_collection_keeps_the_dictionary_its_first_texts_made(tmp_path):
    """Later writes (an edit) compress with the same dictionary, so earlier texts stay readable."""
    store = TextStore(tmp_path)
    store.create("c1")  # an empty vault's collection: no texts, no dictionary yet
    reader = TextStore(tmp_path)
    assert reader.get("c1", ["id0"]) == {}
    store.put("c1", rows(TEXTS[:10]))
    assert reader.get("c1", ["id0"])["id0"][0] == TEXTS[0]
    store.put("c1", rows(["An edited note on egrets."], prefix="new"))
    assert TextStore(tmp_path).get("c1", ["id4", "new0"]) == {"id4": (TEXTS[4], []),
                                                              "new0": ("An edited note on egrets.", [[5, 9]])}


def test_collections_are_apart_and_a_drop_gives_back_its_texts(tmp_path):
    store = TextStore(tmp_path)
    store.put("old", rows(TEXTS))
    store.put("new", rows(["A different text."]))
    assert store.get("old", ["id0"])["id0"][0] == TEXTS[0]
    assert store.get("new", ["id0"])["id0"][0] == "A different text."
    assert sorted(store.names()) == ["new", "old"]
    size = (tmp_path / FILE).stat().st_size
    store.drop("old")
    store.compact()
    assert store.names() == ["new"] and store.get("old", ["id0"]) == {} and store.ids("new") == {"id0"}
    assert (tmp_path / FILE).stat().st_size < size / 2


def test_deletes_and_replacements(tmp_path):
    store = TextStore(tmp_path)
    store.put("c", rows(TEXTS[:5]))
    store.delete("c", ["id1", "id2", "gone"])
    store.put("c", [("id0", "replaced", [])])
    assert store.ids("c") == {"id0", "id3", "id4"}
    assert store.get("c", ["id0"])["id0"] == ("replaced", [])


def test_a_reader_sees_what_another_writer_committed(tmp_path):
    writer, reader = TextStore(tmp_path), TextStore(tmp_path)
    writer.put("c", rows(TEXTS[:3]))
    assert set(reader.get("c", ["id0", "id1", "id2"])) == {"id0", "id1", "id2"}
    writer.delete("c", ["id1"])
    assert set(reader.get("c", ["id0", "id1", "id2"])) == {"id0", "id2"}


def test_problems_are_named(tmp_path):
    store = TextStore(tmp_path)
    assert store.problem("c") == (f"{tmp_path / FILE} is missing", False)
    with pytest.raises(IndexDamaged, match="texts.sqlite3 is missing.*`reread index`"):
        store.get("c", ["id0"])
    store.put("c", rows(TEXTS[:2]))
    assert store.problem("c") == ("", False)
    assert store.problem("other") == (f"{tmp_path / FILE} lacks them", False)
    store.close()
    (tmp_path / FILE).write_bytes(b"garbage" * 300)
    problem, unreadable = TextStore(tmp_path).problem("c")
    assert "is unreadable" in problem and unreadable
    with pytest.raises(IndexDamaged, match="texts.sqlite3 is unreadable"):
        TextStore(tmp_path).get("c", ["id0"])
