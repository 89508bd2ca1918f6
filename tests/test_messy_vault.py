"""A real, messy vault: seed notes beside broken files, PDFs good and bad, and a symlink loop.

Every bad file is named with its reason, the good ones land, and search finds what a reader expects:
text in a latin-1 note, a PDF fact with its page, a seed passage with its breadcrumb, a front-matter title.
"""

from __future__ import annotations

import time

from pypdf import PdfReader

from tests import make_pdfs
from tests.conftest import write_vault

BOOK = ["The heron waits in the shallows for hours before it strikes.",
        "Chapter 2\nThe Danube delta hosts more than three hundred bird species, a fact the warden repeated to "
        "every visitor.\nBirdwatchers come in May."]


def test_the_messy_vault_lands_what_it_can(assistant, vault, embedder):
    (vault / "books").mkdir()
    write_vault(vault, {
        "notes/empty.md": "",
        "notes/binary.md": b"\x00\x01\x02GIF89a\x00\x00" * 20,
        "notes/latin1.md": "# Café notes\n\nLa crème brûlée du café Müller était délicieuse.\n".encode("latin-1"),
        "notes/broken-front-matter.md": "---\ntitle: [unclosed\n---\n# Broken\n\nThe body survives broken YAML.\n",
        "notes/titled.md": "---\ntitle: Migration of the Arctic Tern\nauthor: A. Reader\ntags: [birds, travel]\n"
                           "---\n\nThe tern flies from pole to pole every year.\n",
        "books/delta.pdf": make_pdfs.text_pdf(BOOK, title="Birds of the Delta", author="M. Warden"),
        "books/corrupt.pdf": make_pdfs.corrupt_pdf(),
        "books/truncated.pdf": make_pdfs.truncated_pdf(make_pdfs.text_pdf(BOOK)),
        "books/scan.pdf": make_pdfs.image_only_pdf(),
        "books/locked.pdf": make_pdfs.encrypted_pdf(make_pdfs.text_pdf(BOOK), user_password="secret"),
        "books/open-encrypted.pdf": make_pdfs.encrypted_pdf(make_pdfs.text_pdf(["Kingfishers dive for fish."])),
    })
    (vault / "notes" / "loop").symlink_to(vault / "notes")
    (vault / ".obsidian").mkdir()
    (vault / ".obsidian" / "workspace.md").write_text("hidden settings, never indexed")

    t0 = time.monotonic()
    report = assistant.index()
    assert time.monotonic() - t0 < 120

    failed = {f["source"]: f["error"] for f in report.failed}
    assert set(failed) == {"notes/empty.md", "notes/binary.md", "books/corrupt.pdf", "books/truncated.pdf",
                           "books/scan.pdf", "books/locked.pdf"}
    assert "empty" in failed["notes/empty.md"] and "binary" in failed["notes/binary.md"]
    assert "OCR not supported" in failed["books/scan.pdf"] and "password" in failed["books/locked.pdf"]
    assert "truncated" in failed["books/truncated.pdf"]
    warned = {w["source"]: w["warning"] for w in report.warnings}
    assert "latin-1" in warned["notes/latin1.md"] and "front matter" in warned["notes/broken-front-matter.md"]
    assert report.added == 5 + 5  # the seeds, latin1, broken front matter, titled, and the two readable PDFs

    hit = assistant.search("crème brûlée at café Müller", k=1)[0].chunk
    assert hit.source == "notes/latin1.md"
    assert (vault / hit.source).read_bytes().decode("latin-1")[hit.start:hit.end] == hit.text

    hit = next(h.chunk for h in assistant.search("How many bird species live in the Danube delta?", k=3)
               if h.chunk.kind == "pdf")
    assert (hit.source, hit.page, hit.title) == ("books/delta.pdf", 2, "Birds of the Delta")
    page = PdfReader(vault / hit.source).pages[hit.page - 1].extract_text()
    assert page[hit.start:hit.end] == hit.text and "three hundred" in hit.text

    hit = assistant.search("Kingfishers dive", k=1)[0].chunk
    assert hit.source == "books/open-encrypted.pdf"

    hits = assistant.search("language models grow to scale with self-supervision", k=5)
    assert any("From Language Models to Large Language Models"
               in [h.chunk.heading, *(heading for *_, heading in h.chunk.metadata.get("sections", []))] for h in hits)

    hit = assistant.search("Migration of the Arctic Tern", k=1)[0].chunk
    assert hit.title == "Migration of the Arctic Tern" and hit.metadata["author"] == "A. Reader"
    assert hit.metadata["tags"] == ["birds", "travel"]

    assert all("obsidian" not in h.chunk.source for h in assistant.search("hidden settings", k=10))
    again = assistant.index()
    assert again.unchanged == 10 and len(again.failed) == 6 and again.chunks == report.chunks


def test_a_parser_crash_on_one_file_is_reported_and_the_rest_lands(assistant, vault, monkeypatch):
    """An unexpected error while parsing one note names that note; the other notes still index."""
    import ingest.markdown

    real = ingest.markdown.parse_markdown

    def fragile(source, raw):
        if source.endswith("glossary.md"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(source, raw)

    monkeypatch.setattr(ingest.markdown, "parse_markdown", fragile)
    report = assistant.index()
    assert [f["source"] for f in report.failed] == ["notes/ai-engineering-glossary.md"]
    assert "RecursionError" in report.failed[0]["error"] and report.added == 4


def test_an_excalidraw_drawing_is_indexed_by_its_words_not_its_data(tmp_path, fake_embedder):
    """Obsidian's Excalidraw plugin saves each drawing as a note whose %% comment holds the drawing as compressed
    JSON: it was chunked and embedded as if it were prose. Its text elements are what a reader can ask about."""
    from assistant.facade import Assistant
    from ingest.settings import Settings
    from tests.test_markdown import DRAWING

    data = "N4KAkARALgngDgUwgLgAQQQDwMYEMA2AlgCYBOuA7hADTgQBuCpAzoQPYB2KqATL"
    drawing = DRAWING.replace(data, "\n".join([data] * 400))  # a drawing's size: kilobytes of it
    vault = write_vault(tmp_path / "vault", {"Excalidraw/attention.excalidraw.md": drawing,
                                             "notes/heron.md": "# Heron\n\nThe heron waits in the shallows.\n"})
    app = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive"),
                    embedder=fake_embedder)
    app.index()
    m = app.manifest()
    entry = m.files["Excalidraw/attention.excalidraw.md"]
    chunks = app.store.get(m.collection, entry.chunk_ids, m.files).values()
    assert chunks and not any(data in c.text or "Drawing" in c.heading for c in chunks)
    assert all(drawing[c.start:c.end] == c.text for c in chunks)
    hit = app.search("the decoder looks back at every encoder state", 1)[0]
    assert hit.chunk.source == "Excalidraw/attention.excalidraw.md" and hit.chunk.heading == "Text Elements"
