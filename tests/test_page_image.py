"""A PDF citation as a picture: the cited page rendered by pdfium with the quoted span marked in yellow."""

from __future__ import annotations

import ctypes
import io
import time
from pathlib import Path

import numpy
import pypdfium2 as pdfium
import pypdfium2.raw as raw
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import RectangleObject

from assistant.page_image import PageImage, locate, merge_lines, normalise, render_page, to_pixels
from ingest.errors import UnreadableFile
from ingest.pdf import parse_pdf
from tests import make_pdfs
from tests.conftest import ROOT, TEST_DATA
from tests.conftest import default_chunker as chunker
from tests.conftest import write_file as write

BOOK = ROOT / "data" / "books" / "large-scale-pretraining-with-transformers.pdf"
TWO_PAGES = TEST_DATA / "two-pages.pdf"
SCALE = 1.5


def pypdf_text(path: Path, page: int) -> str:
    """The page's text exactly as the index stores it (DESIGN.md: offsets index pypdf's extract_text())."""
    return PdfReader(path).pages[page - 1].extract_text()


def marked_text(path: Path, page: int, image: PageImage) -> list[str]:
    """What pdfium reads inside each marked box, the box taken back from image pixels to PDF points."""
    doc = pdfium.PdfDocument(str(path))
    try:
        pdf_page = doc[page - 1]
        assert pdf_page.get_rotation() == 0
        left, _, _, top = pdf_page.get_bbox()
        textpage = pdf_page.get_textpage()
        return [textpage.get_text_bounded(left + l / SCALE, top - b / SCALE, left + r / SCALE, top - t / SCALE)
                for l, t, r, b in image.boxes]  # noqa: E741
    finally:
        doc.close()


def yellowish(pixel: tuple[int, int, int]) -> bool:
    """White paper under the translucent yellow: red and green stay high, blue drops."""
    r, g, b = pixel
    return r > 200 and g > 170 and r - b > 40


def decode(image: PageImage) -> Image.Image:
    png = Image.open(io.BytesIO(image.png))
    assert png.format == "PNG"
    assert png.size == (image.width, image.height)
    return png.convert("RGB")


def inside_any(x: int, y: int, boxes, margin: float) -> bool:
    return any(l - margin <= x <= r + margin and t - margin <= y <= b + margin for l, t, r, b in boxes)  # noqa: E741


# --- the user's story: a cited chunk of the sample book, shown on its page -------------------------------------


def test_a_cited_chunk_of_the_sample_book_is_marked_on_its_page():
    """The index cites a chunk by (page, start, end) into pypdf's text; the page image marks exactly those words."""
    doc = parse_pdf("books/large-scale-pretraining-with-transformers.pdf", BOOK)
    chunk = next(c for c in chunker().chunk(doc) if c.page == 3 and "\n" in c.text)
    quote = doc.texts[3][chunk.start:chunk.end]

    image = render_page(BOOK, 3, quote)

    assert image.found
    assert len(image.boxes) == quote.strip().count("\n") + 1  # one box per line of the quote
    read_back = normalise("".join(marked_text(BOOK, 3, image)))[0]
    assert normalise(quote)[0] in read_back
    assert len(read_back) <= len(normalise(quote)[0]) + 4  # nothing beyond the quote, bar an edge char


def test_a_sentence_across_a_line_break_gets_a_box_per_line():
    """"(Kaplan et al.,\\n2020)" breaks over two lines in pypdf's text; each line is boxed, the second below."""
    text = pypdf_text(BOOK, 5)
    start = text.index("For language modeling")
    quote = text[start:text.index("2020).", start) + len("2020).")]
    assert quote.count("\n") == 2

    image = render_page(BOOK, 5, quote)

    assert image.found
    assert len(image.boxes) == 3
    tops = [t for _, t, _, _ in image.boxes]
    assert tops == sorted(tops) and len(set(round(t) for t in tops)) == 3
    lines = [normalise(t)[0] for t in marked_text(BOOK, 5, image)]
    assert lines[0].startswith(normalise("For language modeling")[0])
    assert lines[-1].startswith("2020)")


def test_a_word_hyphenated_at_a_line_end_is_found_on_both_lines():
    """pypdf keeps "infor-\\nmation"; pdfium reports the hyphen as U+0002 and no line break. It still matches."""
    quote = "outside infor-\nmation into the prompt"
    assert quote in pypdf_text(TWO_PAGES, 2)

    image = render_page(TWO_PAGES, 2, quote)

    assert image.found and len(image.boxes) == 2
    lines = [normalise(t)[0] for t in marked_text(TWO_PAGES, 2, image)]
    assert lines[0].startswith("outsideinfor") and lines[1].startswith("mationintotheprompt")


def test_the_png_is_the_page_with_yellow_only_over_the_quote():
    """The PNG decodes to width x height; inside a box white paper turns yellow, far outside nothing changed."""
    text = pypdf_text(BOOK, 5)
    quote = text[text.index("As shown in Figure 9"):text.index("(Hoffmann et al., 2022).")]
    marked, plain = render_page(BOOK, 5, quote), render_page(BOOK, 5, "a quote that is nowhere on this page")
    assert (marked.width, marked.height) == (plain.width, plain.height) == (round(595.28 * SCALE), 1263)

    marked_px, plain_px = decode(marked).load(), decode(plain).load()
    left, top, right, bottom = marked.boxes[0]
    inside = [(x, y) for x in range(int(left) + 3, int(right) - 3) for y in range(int(top) + 2, int(bottom) - 2)]
    assert sum(yellowish(marked_px[p]) for p in inside) > len(inside) // 2
    assert not any(yellowish(plain_px[p]) for p in inside)
    changed_far_outside = [(x, y) for x in range(0, marked.width, 3) for y in range(0, marked.height, 3)
                           if not inside_any(x, y, marked.boxes, margin=6) and marked_px[x, y] != plain_px[x, y]]
    assert changed_far_outside == []


def test_two_citations_on_one_page_are_both_marked():
    """Citations that share a card mark every span on the page; found says whether all were located."""
    text = pypdf_text(BOOK, 5)
    first = text[text.index("For language modeling"):text.index("For language modeling") + 40]
    second = text[len(text) // 2:len(text) // 2 + 40].strip()

    both = render_page(BOOK, 5, [first, second])
    alone = [render_page(BOOK, 5, q) for q in (first, second)]

    assert both.found and sorted(both.boxes) == sorted(alone[0].boxes + alone[1].boxes)
    assert not render_page(BOOK, 5, [first, "A sentence that is on no page at all."]).found


def test_a_quote_not_on_the_page_is_reported_not_found_with_the_page_still_rendered():
    """Page 2's sentence is not on page 1: found is False, no boxes, and the page image has no yellow."""
    image = render_page(TWO_PAGES, 1, "Citations point at the page.")
    assert image == PageImage(png=image.png, width=918, height=1188, boxes=[], found=False)
    rgb = numpy.asarray(decode(image)).astype(int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    assert not ((red > 200) & (green > 170) & (red - blue > 40)).any()  # no yellow anywhere
    assert (rgb < 100).all(axis=2).any()  # the page's own text is drawn


def test_only_the_found_part_is_marked_when_pypdf_and_pdfium_disagree_mid_quote():
    """A quote whose middle reads differently in pdfium is still marked, from its found start to its found end."""
    image = render_page(TWO_PAGES, 1, "Self-supervision lets a m0del learn from raw text.")
    assert image.found and len(image.boxes) == 1
    assert normalise(marked_text(TWO_PAGES, 1, image)[0])[0] == "selfsupervisionletsamodellearnfromrawtext."


def test_a_render_takes_well_under_a_second():
    render_page(BOOK, 2, "warm up")
    began = time.perf_counter()
    image = render_page(BOOK, 2, pypdf_text(BOOK, 2)[100:900])
    assert image.found
    assert time.perf_counter() - began < 1.0  # ~50 ms on the 2-core test machine


# --- errors name the file -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [0, 3, -1])
def test_a_page_out_of_range_names_the_file(page):
    with pytest.raises(UnreadableFile) as info:
        render_page(TWO_PAGES, page, "Chapter One")
    assert str(TWO_PAGES) in str(info.value) and f"no page {page}" in str(info.value)


def test_a_missing_file_names_the_file(tmp_path):
    missing = tmp_path / "books" / "gone.pdf"
    with pytest.raises(UnreadableFile) as info:
        render_page(missing, 1, "anything")
    assert info.value.source == str(missing) and str(info.value).startswith(f"{missing}: no such file")


@pytest.mark.parametrize("name", ["corrupt.pdf", "truncated.pdf"])
def test_an_unreadable_pdf_names_the_file(tmp_path, name):
    path = write(tmp_path, name, make_pdfs.samples()[name])
    with pytest.raises(UnreadableFile) as info:
        render_page(path, 1, "A page that will be cut off.")
    assert info.value.source == str(path) and "not a readable PDF" in str(info.value)


def test_encrypted_books_open_with_an_empty_password_and_others_say_they_need_one(tmp_path):
    """Many published books are encrypted with an empty user password; the index reads them, so must this."""
    open_book = write(tmp_path, "open.pdf", make_pdfs.encrypted_pdf())
    assert render_page(open_book, 1, "Encrypted but readable text").found
    locked = write(tmp_path, "locked.pdf", make_pdfs.encrypted_pdf(user_password="secret"))
    with pytest.raises(UnreadableFile, match="locked.pdf: encrypted and needs a password"):
        render_page(locked, 1, "Encrypted but readable text")


def test_a_scanned_page_renders_with_nothing_found(tmp_path):
    path = write(tmp_path, "scan.pdf", make_pdfs.image_only_pdf())
    image = render_page(path, 1, "any quote at all")
    assert not image.found and image.boxes == [] and decode(image).size == (918, 1188)


# --- the parts: normalising, locating, lines, coordinates -------------------------------------------------------


def test_normalise_drops_whitespace_and_dashes_and_folds_ligatures_quotes_and_case():
    text, where = normalise("The \ufb01rst \u201cself-\nsupervised\u201d\u00a0Mod\u2019el\x02s")
    assert text == "thefirst\"selfsupervised\"mod'els"
    assert where[:5] == [0, 1, 2, 4, 4]  # both letters of the "fi" ligature point at its one char
    assert len(where) == len(text)


def test_locate_the_whole_quote_else_a_bridged_or_long_enough_part():
    hay = normalise("Retrieval brings outside information into the prompt. Citations point at the page.")[0]
    whole = normalise("outside information")[0]
    assert locate(whole, hay) == (hay.index(whole), hay.index(whole) + len(whole))
    start = hay.index("outside")
    bridged = locate(normalise("outside informaXion into the prompt")[0], hay)
    assert bridged == (start, hay.index("prompt") + len("prompt"))
    tail_only = locate(normalise("somewhere else entirely: citations point at the page.")[0], hay)
    assert tail_only is not None and hay[tail_only[0]:tail_only[1]] == "citationspointatthepage."
    assert locate(normalise("a long sentence of which only the page. matches")[0], hay) is None
    assert locate(normalise("the page. and then the rest of a sentence that is not here")[0], hay) is None
    assert locate("", hay) is None


def test_merge_lines_joins_rects_on_one_line_and_keeps_lines_and_columns_apart():
    line1 = [(72, 700, 120, 712), (124, 701, 200, 712)]
    line2 = [(72, 684, 150, 696)]
    other_column = [(400, 684, 450, 696)]
    assert merge_lines(line1 + line2 + other_column) == [(72, 700, 200, 712), (72, 684, 150, 696),
                                                         (400, 684, 450, 696)]
    assert merge_lines([(5, 5, 5, 10)]) == []  # an empty rect marks nothing


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_to_pixels_agrees_with_pdfium_on_rotated_and_cropped_pages(tmp_path, rotation):
    """Boxes land where pdfium draws: checked against FPDF_PageToDevice on a page with a cropbox off the origin."""
    writer = PdfWriter(clone_from=PdfReader(TWO_PAGES))
    writer.pages[0].cropbox = RectangleObject((36, 300, 560, 760))
    writer.pages[0].rotate(rotation)
    path = tmp_path / "turned.pdf"
    writer.write(path)

    image = render_page(path, 1, "Self-supervision lets a model learn from raw text.")
    assert image.found
    doc = pdfium.PdfDocument(str(path))
    try:
        pdf_page = doc[0]
        bbox, turn = tuple(pdf_page.get_bbox()), pdf_page.get_rotation()
        rect = pdf_page.get_textpage().get_charbox(14)
        dx, dy = ctypes.c_int(), ctypes.c_int()
        corners = []
        for x, y in [(rect[0], rect[1]), (rect[2], rect[3])]:
            assert raw.FPDF_PageToDevice(pdf_page.raw, 0, 0, image.width, image.height, 0, x, y, dx, dy)
            corners.append((dx.value, dy.value))
    finally:
        doc.close()
    assert turn == rotation
    left, top, right, bottom = to_pixels(rect, bbox, turn, SCALE)
    xs, ys = sorted(c[0] for c in corners), sorted(c[1] for c in corners)
    assert max(abs(left - xs[0]), abs(right - xs[1]), abs(top - ys[0]), abs(bottom - ys[1])) <= 1.5
    assert (image.width, image.height) == ((690, 786) if rotation % 180 else (786, 690))  # the cropbox, turned
