"""Book PDFs through pypdf: per-page text and offsets, metadata, hyphen repair, and every way a PDF can fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest.chunker import embed_view
from ingest.errors import UnreadableFile
from ingest.pdf import parse_pdf
from ingest.sources import parse_source
from tests import make_pdfs
from tests.conftest import default_chunker as chunker
from tests.conftest import write_file as write

DATA = Path(__file__).resolve().parent / "data"
OCR_REASON = "no extractable text, OCR not supported"


def unreadable(path: Path, source: str | None = None) -> UnreadableFile:
    source = source or path.name
    with pytest.raises(UnreadableFile) as info:
        parse_pdf(source, path)
    assert info.value.source == source
    assert str(info.value).startswith(f"{source}: ")  # reported by name
    return info.value


# --- the committed sample and its generator ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(make_pdfs.samples()))
def test_committed_samples_match_the_generator(name):
    """tests/data/*.pdf are make_pdfs output; regenerate them with `python tests/make_pdfs.py`."""
    assert (DATA / name).read_bytes() == make_pdfs.samples()[name]


def test_two_page_pdf_has_text_per_page_with_1_based_numbers():
    """Page numbers start at 1, as a reader cites them."""
    doc = parse_pdf("books/two-pages.pdf", DATA / "two-pages.pdf")
    assert doc.kind == "pdf"
    assert sorted(doc.texts) == [1, 2]
    assert doc.texts[1].startswith("Chapter One")
    assert doc.texts[2].startswith("Chapter Two")
    assert [s.page for s in doc.sections] == [1, 2]
    assert doc.metadata["pages"] == 2


def test_page_texts_are_exactly_what_pypdf_extracts():
    """Offsets index page.extract_text() with default arguments, unmodified (DESIGN.md)."""
    doc = parse_pdf("two-pages.pdf", DATA / "two-pages.pdf")
    pages = PdfReader(DATA / "two-pages.pdf").pages
    assert doc.texts == {i: p.extract_text() for i, p in enumerate(pages, start=1)}


def test_title_and_author_come_from_pdf_metadata():
    """/Title and /Author name the book in answers and citations."""
    doc = parse_pdf("books/two-pages.pdf", DATA / "two-pages.pdf")
    assert doc.title == "Two Pages"
    assert doc.metadata["author"] == "Ada Tester"


@pytest.mark.parametrize("title", [None, "", "   "])
def test_title_falls_back_to_the_file_name(tmp_path, title):
    """No (or a blank) /Title: the file's stem; no /Author: no author key."""
    path = write(tmp_path, "deep-learning-book.pdf", make_pdfs.text_pdf(["Some text."], title=title))
    doc = parse_pdf("books/deep-learning-book.pdf", path)
    assert doc.title == "deep-learning-book"
    assert "author" not in doc.metadata


def test_pages_after_a_blank_page_keep_their_numbers(tmp_path):
    """A blank page yields no section, and the pages after it keep their real numbers."""
    path = write(tmp_path, "b.pdf", make_pdfs.text_pdf(["Page one.", "   ", "Page three."]))
    doc = parse_pdf("b.pdf", path)
    assert [s.page for s in doc.sections] == [1, 3]
    assert doc.texts[3] == "Page three."


def test_compressed_content_streams_are_read(tmp_path):
    """Real PDFs deflate their content streams; the text must come out the same."""
    path = write(tmp_path, "z.pdf", make_pdfs.text_pdf(["Deflated text (with parens) and a back\\slash."],
                                                      compress=True))
    assert parse_pdf("z.pdf", path).texts[1] == "Deflated text (with parens) and a back\\slash."


# --- chunks -----------------------------------------------------------------------------------------------------


def test_pdf_chunks_keep_page_offsets_and_never_cross_pages():
    """Each chunk lies in one page: page_text[start:end] == text, page set."""
    doc = parse_pdf("books/two-pages.pdf", DATA / "two-pages.pdf")
    chunks = chunker().chunk(doc)
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:
        assert c.kind == "pdf"
        assert doc.texts[c.page][c.start:c.end] == c.text


def test_hyphenation_at_line_ends_is_repaired_in_embedded_text_only():
    """'infor-\\nmation' embeds as 'information'; the display text stays exactly as extracted."""
    doc = parse_pdf("books/two-pages.pdf", DATA / "two-pages.pdf")
    [page2] = [c for c in chunker().chunk(doc) if c.page == 2]
    assert "infor-\nmation" in page2.text
    assert "information" in page2.embed_text
    assert "infor-" not in page2.embed_text


def test_hyphens_inside_a_line_are_kept():
    """'Self-supervision' mid-line is a real compound, not a line-end break."""
    assert embed_view("Self-supervision lets a model learn.", "pdf") == "Self-supervision lets a model learn."
    assert embed_view("outside infor-\n  mation here", "pdf") == "outside information here"


def test_pdf_embed_text_carries_the_title_header():
    """The book title leads the embedded text (PDF sections have no breadcrumb)."""
    doc = parse_pdf("books/two-pages.pdf", DATA / "two-pages.pdf")
    for c in chunker().chunk(doc):
        assert c.embed_text.startswith("Two Pages\n")
        assert "Two Pages" not in c.text


def test_a_page_without_sentence_ends_is_chunked(tmp_path):
    """A contents page is one long run of words with no periods; it must still chunk within the window."""
    lines = [f"Chapter {i} Some Title Words Here {i * 7}" for i in range(1, 45)]
    path = write(tmp_path, "toc.pdf", make_pdfs.text_pdf(["\n".join(lines)]))
    doc = parse_pdf("toc.pdf", path)
    chunks = chunker().chunk(doc)
    assert len(chunks) > 1
    for c in chunks:
        assert doc.texts[1][c.start:c.end] == c.text


# --- encryption -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_with_an_empty_password_opens(tmp_path, algorithm):
    """Published books are often encrypted with an empty user password; they must index (pypdf[crypto])."""
    path = write(tmp_path, "locked.pdf", make_pdfs.encrypted_pdf(algorithm=algorithm))
    doc = parse_pdf("books/locked.pdf", path)
    assert doc.texts[1] == "Encrypted but readable text on page one."
    assert doc.title == "Locked"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_pdf_that_needs_a_password_is_reported(tmp_path, algorithm):
    """A real password cannot be guessed: report it by name with the reason."""
    path = write(tmp_path, "secret.pdf", make_pdfs.encrypted_pdf(user_password="secret", algorithm=algorithm))
    assert "needs a password" in unreadable(path).reason


# --- broken PDFs ------------------------------------------------------------------------------------------------


def test_image_only_pdf_is_reported_as_needing_ocr():
    """A scanned book has no text layer: say so, with the exact reason."""
    assert unreadable(DATA / "image-only.pdf").reason == OCR_REASON


def test_pdf_with_only_blank_text_is_reported_as_needing_ocr(tmp_path):
    """Whitespace-only text is no text."""
    path = write(tmp_path, "blank.pdf", make_pdfs.blank_text_pdf(3))
    assert unreadable(path).reason == OCR_REASON


def test_corrupt_pdf_is_reported():
    """Garbage between the header and %%EOF: reported as corrupt, not a crash."""
    assert "corrupt" in unreadable(DATA / "corrupt.pdf").reason


def test_a_text_file_named_pdf_is_reported(tmp_path):
    """No %PDF header: not a PDF at all."""
    path = write(tmp_path, "notes.pdf", b"just some text, saved with the wrong name\n")
    assert "not a PDF" in unreadable(path).reason


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_pdf_is_reported(tmp_path, keep):
    """A half-downloaded book is reported wherever the cut falls."""
    path = write(tmp_path, "cut.pdf", make_pdfs.truncated_pdf(make_pdfs.two_pages_pdf(), keep))
    assert "truncated" in unreadable(path).reason


def test_committed_truncated_sample_is_reported():
    """tests/data/truncated.pdf is the same failure on disk."""
    assert "truncated" in unreadable(DATA / "truncated.pdf").reason


def test_empty_pdf_is_reported_as_empty(tmp_path):
    """A zero-byte .pdf is a failed download; the reason must say it is empty, not ask for a rename."""
    path = write(tmp_path, "empty.pdf", b"")
    with pytest.raises(UnreadableFile) as info:
        parse_source("books/empty.pdf", path, 10_000_000)
    assert "empty" in info.value.reason.lower()


def test_pdf_is_dispatched_by_suffix_case_insensitively(tmp_path):
    """BOOK.PDF is a PDF too."""
    path = write(tmp_path, "BOOK.PDF", make_pdfs.text_pdf(["Upper-case suffix."], title="Loud"))
    doc = parse_source("books/BOOK.PDF", path, 10_000_000)
    assert doc.kind == "pdf" and doc.title == "Loud"


def test_pdf_over_the_size_limit_is_reported_before_parsing(tmp_path):
    """The size limit applies to books too, and names the setting to raise."""
    path = write(tmp_path, "big.pdf", make_pdfs.two_pages_pdf())
    with pytest.raises(UnreadableFile) as info:
        parse_source("books/big.pdf", path, 100)
    assert "size limit" in info.value.reason and "REREAD_MAX_FILE_MB" in info.value.reason
