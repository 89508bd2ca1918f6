"""Book PDFs through pypdf: per-page text and offsets, metadata, hyphen repair, and every way a PDF can fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from ingest.chunker import embed_view
from ingest.errors import UnreadableFile
from ingest.pdf import parse_pdf
from ingest.pdf_layout import outline
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


# --- a book's structure: outline headings, running heads and page numbers left out --------------------------------

BOOK = [  # a typeset book's pages: a running head on top, the page number at the foot
    "ATTENTION IN PRACTICE\n1 Queries and Keys\nA query is compared with every key.\nThe scores are scaled down.\n1",
    "CHAPTER 1. QUERIES AND KEYS\nSoftmax turns scores into weights.\nMasking is next.\n1.1 Masking\n"
    "A mask hides the future.\n2",
    "CHAPTER 1. QUERIES AND KEYS\nMasked positions get minus infinity before the softmax.\n3",
    "CHAPTER 1. QUERIES AND KEYS\nThe weights then sum to one.\n4",
    "CHAPTER 2. MULTIPLE HEADS\nEach head attends to its own subspace.\n5",
    "CHAPTER 2. MULTIPLE HEADS\nThe outputs are concatenated and projected.\n6",
    "CHAPTER 2. MULTIPLE HEADS\nA wider model may use more of them.\n7",
]
BOOKMARKS = [("Queries and Keys", 0, None), ("Masking", 1, 0), ("Multiple Heads", 4, None)]


@pytest.fixture
def book(tmp_path):
    return parse_pdf("books/attention.pdf", write(tmp_path, "attention.pdf", make_pdfs.outlined_pdf(BOOK, BOOKMARKS)))


def heading_over(doc, words: str) -> str:
    """The heading of the section that holds the words."""
    return next(s.heading for s in doc.sections if words in doc.texts[s.page][s.start:s.end])


def test_running_heads_and_page_numbers_are_left_out_of_a_books_sections(book):
    """'CHAPTER 1. QUERIES AND KEYS' on three pages and the bare page numbers are the page's furniture: no chunk
    holds them, and every chunk is still exactly its page's text[start:end]."""
    chunks = chunker().chunk(book)
    assert chunks and all(c.text == book.texts[c.page][c.start:c.end] for c in chunks)
    assert not any("CHAPTER" in c.text or "CHAPTER" in c.embed_text for c in chunks)
    assert not any(c.text.rstrip().splitlines()[-1].strip().isdigit() for c in chunks)
    assert any("The weights then sum to one." in c.text for c in chunks)  # a page of one line keeps it


def test_outline_bookmarks_head_the_sections_they_open(book):
    """A bookmark's title found as a line of its page cuts the page there ('1.1 Masking' halfway down page 2); a
    page without a bookmark is under the last one before it; nested bookmarks read as a path."""
    assert heading_over(book, "ATTENTION IN PRACTICE") == ""  # before the first bookmark's heading line
    assert heading_over(book, "A query is compared") == "Queries and Keys"
    assert heading_over(book, "Softmax turns") == "Queries and Keys"
    assert heading_over(book, "A mask hides") == "Queries and Keys > Masking"
    assert heading_over(book, "Masked positions") == "Queries and Keys > Masking"
    assert heading_over(book, "Each head attends") == "Multiple Heads"  # its title stands only in the running head
    assert heading_over(book, "Masking is next.") == "Queries and Keys"  # a line opening with the title is prose
    # the short run under the chapter's heading shares a chunk with the subsection after it, as in a note
    chunk = next(c for c in chunker().chunk(book) if "A mask hides" in c.text)
    assert chunk.heading_at(chunk.start + chunk.text.index("A mask hides")) == "Queries and Keys > Masking"
    assert chunk.embed_text.startswith("attention > Queries and Keys\n") and "\nMasking\n" in chunk.embed_text
    masked = next(c for c in chunker().chunk(book) if "Masked positions" in c.text)
    # the model reads where the page is by its section's own name: a book's outline path runs deep
    assert masked.heading == "Queries and Keys > Masking" and masked.embed_text.startswith("attention > Masking\n")


def test_a_pdf_without_an_outline_is_headed_by_its_running_heads(tmp_path):
    """No bookmarks: a page is one section under the running head that says where it is (its number off), and a line
    on most pages (the book's title, a proof's date stamp) names no place."""
    stamped = [f"Draft of 3 Jan 2020\n{page}" for page in BOOK]
    doc = parse_pdf("b.pdf", write(tmp_path, "b.pdf", make_pdfs.text_pdf(stamped)))
    assert sorted(s.page for s in doc.sections) == list(range(1, 8))
    assert [s.heading for s in doc.sections] == [""] + ["CHAPTER 1. QUERIES AND KEYS"] * 3 + \
        ["CHAPTER 2. MULTIPLE HEADS"] * 3
    assert not any("Draft" in doc.texts[s.page][s.start:s.end] for s in doc.sections)


def test_a_broken_outline_costs_the_headings_not_the_book():
    """pypdf raises on some malformed outline trees; one bad destination is skipped, a bad tree gives none."""
    class Bookmark:
        def __init__(self, title):
            self.title = title

    class Reader:
        outline = [Bookmark("Intro"), [Bookmark("Bad destination")], Bookmark("Body")]

        def get_destination_page_number(self, item):
            if item.title == "Bad destination":
                raise KeyError("/Dest")
            return {"Intro": 0, "Body": 3}[item.title]

    class Broken:
        @property
        def outline(self):
            raise ValueError("malformed outline")

    assert outline(Reader()) == [(("Intro",), 1), (("Body",), 4)]
    assert outline(Broken()) == []


def test_a_book_is_found_by_the_heading_of_its_section(tmp_path, fake_embedder):
    """'Multiple Heads' is said on those pages only by the outline: the heading counts as a note's does."""
    from assistant.facade import Assistant
    from ingest.settings import Settings

    vault = tmp_path / "v"
    write(vault / "books", "attention.pdf", make_pdfs.outlined_pdf(BOOK, BOOKMARKS))
    a = Assistant(Settings(notes_dir=vault, index_dir=tmp_path / "i"), embedder=fake_embedder)
    a.index()
    hits = a.search("multiple", 3)
    assert hits and {h.chunk.page for h in hits} <= {5, 6, 7}
    assert hits[0].chunk.heading == "Multiple Heads"


def test_ligature_glyphs_read_as_their_letters():
    """pypdf extracts a typeset 'fi' as one glyph, U+FB01 (and a quote copied into a note keeps it): the model and
    BM25 read 'find'; the page's text, which citations quote, keeps its glyph."""
    from ingest.lexical import Analyzer

    page = "Readers \ufb01nd the e\ufb00ect of the \ufb02ow."
    for kind in ("pdf", "note"):
        assert embed_view(page, kind) == "Readers find the effect of the flow."
    assert Analyzer()(page) == Analyzer()("Readers find the effect of the flow.")


def test_an_answer_reads_a_pdf_page_as_its_words_not_its_lines():
    """pypdf marks no paragraph: a heading line runs into the sentence under it, and a word split at a line end
    keeps its hyphen. The answerer's sentences cut the heading off and join the word; quotes stay the page's text."""
    from assistant.citations import pieces, plain
    from ingest.types import Chunk

    page = "2.3 Category codes\nEach of the 256 codes has a category, though not neces-\nsarily the same one. It lasts."
    chunk = Chunk(id="c", source="b.pdf", kind="pdf", title="b", heading="Catcodes > Category codes", page=3,
                  start=10, end=10 + len(page), text=page)
    ps = pieces(chunk)
    assert [(p.kind, plain(p)) for p in ps] == [
        ("heading", "2.3 Category codes"),
        ("prose", "Each of the 256 codes has a category, though not necessarily the same one."),
        ("prose", "It lasts.")]
    assert all(p.text == page[p.start - 10:p.end - 10] for p in ps)  # offsets into the page, as citations quote
    # a section packed into the chunk: the outline placed its heading line, whatever the line says
    packed = Chunk(id="d", source="b.pdf", kind="pdf", title="b", heading="Catcodes", page=3, start=0,
                   end=len(page), text=page, metadata={"sections": [(0, 18, "Catcodes > Codes of categories")]})
    assert [p.kind for p in pieces(packed)] == ["heading", "prose", "prose"]
    note = Chunk(id="n", source="n.md", kind="note", title="n", heading="", page=None, start=0, end=22,
                 text="A well-\nknown example.")
    assert plain(pieces(note)[0]) == "A well- known example."  # a note's line end is the writer's own


def test_sentences_of_two_pages_are_never_one_passage():
    """A PDF's offsets count from its page's start: a sentence at 40-75 of page 48 and one at 90-146 of page 45 only
    look like neighbours. Each is cited on its own page, quoting that page's text."""
    from assistant.citations import passages, span_in
    from ingest.types import Chunk

    def page(n: int, text: str) -> Chunk:
        return Chunk(id=f"p{n}", source="books/r.pdf", kind="pdf", title="r", heading="", page=n, start=0,
                     end=len(text), text=text)

    p48 = page(48, "A" * 39 + " The test measures the largest gap.")
    p45 = page(45, "B" * 89 + " Plots against the generating distribution help as well.")
    spans = [(p48, 40, len(p48.text)), (p45, 90, len(p45.text))]
    groups = passages(spans, [p48, p45])
    assert sorted((g[0].page, g[1]) for g in groups) == [(45, [1]), (48, [0])]
    for chunk, members in groups:
        s = spans[members[0]]
        assert span_in(chunk, s[1], s[2]).text == chunk.text[s[1]:s[2]]


def test_a_page_pypdf_cannot_read_costs_that_page_only(tmp_path, monkeypatch):
    """A real manual's page 75 raised OverflowError in pypdf's font decoding, and the whole book went unindexed.
    Now that page is left out with a warning naming it; a book no page of which reads is reported by name."""
    from pypdf import PageObject

    real = PageObject.extract_text

    def failing(word: str, error: Exception):
        """pypdf's extract_text, raising `error` on the pages that hold `word`."""
        def extract(page, *args, **kwargs):
            text = real(page, *args, **kwargs)
            if word in text:
                raise error
            return text
        return extract

    path = write(tmp_path, "b.pdf", make_pdfs.text_pdf(["Page one reads.", "Page two breaks.", "Page three reads."]))
    monkeypatch.setattr(PageObject, "extract_text", failing("two", OverflowError("Python int too large to convert")))
    doc = parse_pdf("books/b.pdf", path)
    assert sorted(s.page for s in doc.sections) == [1, 3]
    assert doc.warnings == ["page 2 could not be read (OverflowError: Python int too large to convert) "
                            "and is left out; the rest of the book is indexed"]
    many = write(tmp_path, "many.pdf", make_pdfs.text_pdf([f"Broken {n}." for n in range(1, 13)] + ["Fine."]))
    monkeypatch.setattr(PageObject, "extract_text", failing("Broken", RecursionError("maximum recursion depth")))
    assert parse_pdf("many.pdf", many).warnings[0].startswith(
        "pages 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more could not be read (RecursionError: maximum recursion")
    monkeypatch.setattr(PageObject, "extract_text", failing("Page", OverflowError("x")))
    assert "no page could be read (OverflowError: x)" in str(unreadable(path, "books/b.pdf"))


def test_a_bookmark_is_found_where_its_title_is_typeset_with_ligatures():
    """The outline says "Defining macros"; the page, as pypdf reads it, "3.1 Deﬁning macros"."""
    from ingest.pdf_layout import sections

    page = "Macros are abbreviations.\n3.1 De\ufb01ning macros\nA macro is de\ufb01ned with a def.\n"
    parts = sections({1: page}, [(("Macros",), 1), (("Macros", "Defining macros"), 1)])
    assert [(s.heading, page[s.start:s.end].strip()) for s in parts] == [
        ("Macros", "Macros are abbreviations."), ("Macros > Defining macros", "A macro is de\ufb01ned with a def.")]
