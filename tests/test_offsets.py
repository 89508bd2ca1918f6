"""DESIGN's offsets invariant over everything stored: raw[start:end] == text, for every chunk and hit."""

from __future__ import annotations

from ingest import manifest as mf
from tests.conftest import write_vault


def test_every_stored_chunk_is_an_exact_span(assistant, vault):
    """Read back every chunk from Chroma and compare with the raw file, BOM and CRLF notes included."""
    write_vault(vault, {"notes/windows.md": "\ufeff# Windows note\r\n\r\n## Part\r\nLine one is here.\r\n"
                                            "Line two ==matters== a lot.\r\n",
                        "notes/plain.txt": "Plain text notes work too. They have no markup at all.\n"})
    report = assistant.index()
    assert report.failed == [] and report.added == 7
    m = mf.load(assistant.index_dir)
    col = assistant.store._collection(m.collection)
    got = col.get(include=["documents", "metadatas"])
    assert len(got["ids"]) == m.chunks == report.chunks
    stored = assistant.store.get(m.collection, list(got["ids"]))  # read as the store reads them
    assert len(stored) == m.chunks
    for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        c = stored[i]
        text = (vault / c.source).read_bytes().decode("utf-8")
        assert text[c.start:c.end] == c.text
        assert doc is None and "text" not in meta  # the text is in the text store: no copy, no full-text index


def test_answers_cite_exact_spans(assistant, vault):
    """Each citation's quote is the supporting sentence, exactly where the source has it."""
    assistant.index()
    for q in ["What is tokenization?", "What is a foundation model?", "Why is evaluation hard?"]:
        answer = assistant.ask(q)
        assert answer.found and answer.citations
        for c in answer.citations:
            assert (vault / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
            assert len(c.quote) < 600
