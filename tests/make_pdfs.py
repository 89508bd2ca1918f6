"""Hand-written minimal PDFs for tests (no reportlab): text pages, image-only, truncated, corrupt, encrypted.

Every function returns the PDF's bytes, so a test can write it into tmp_path. Run this file as a script to
(re)generate the committed samples in tests/data/:

    .venv/bin/python tests/make_pdfs.py
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

# Page one and two of tests/data/two-pages.pdf. Page two breaks "information" with a hyphen at a line end.
TWO_PAGES = (
    "Chapter One\nSelf-supervision lets a model learn from raw text.\nLabels come from the data itself.",
    "Chapter Two\nRetrieval brings outside infor-\nmation into the prompt.\nCitations point at the page.",
)


def _escape(text: str) -> bytes:
    """A PDF literal string body: backslash, parentheses escaped; Latin-1 via WinAnsiEncoding."""
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _pdf_string(text: str) -> bytes:
    return b"(" + _escape(text) + b")"


def _content_for(page_text: str, font_size: int = 12, leading: int = 16) -> bytes:
    """BT/Tf/Td/Tj/ET: one Tj per line of page_text, each line lower on the page than the one before."""
    out = [b"BT", b"/F1 %d Tf" % font_size, b"72 720 Td"]
    for i, line in enumerate(page_text.split("\n")):
        if i:
            out.append(b"0 -%d Td" % leading)
        out.append(_pdf_string(line) + b" Tj")
    out.append(b"ET")
    return b"\n".join(out) + b"\n"


def _stream(body: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    if compress:
        body = zlib.compress(body)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(body), extra) + body + b"\nendstream"


def _assemble(objects: list[bytes], info: bytes | None = None) -> bytes:
    """objects[0] is the catalog (object 1). Writes a header, the objects, a correct xref table and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    all_objects = list(objects) + ([info] if info is not None else [])
    for num, body in enumerate(all_objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(all_objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root 1 0 R" % (len(all_objects) + 1)
    if info is not None:
        trailer += b" /Info %d 0 R" % len(all_objects)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _info(title: str | None, author: str | None) -> bytes | None:
    if title is None and author is None:
        return None
    parts = [b"<<"]
    if title is not None:
        parts.append(b"/Title " + _pdf_string(title))
    if author is not None:
        parts.append(b"/Author " + _pdf_string(author))
    parts.append(b"/Producer (reread tests/make_pdfs.py) >>")
    return b" ".join(parts)


def _document(page_contents: Sequence[bytes], resources: bytes, title: str | None, author: str | None,
              extra_objects: Sequence[bytes] = ()) -> bytes:
    """Catalog 1, Pages 2, Font 3, extra objects 4.., then Page/Contents pairs."""
    n_pages = len(page_contents)
    first_page = 4 + len(extra_objects)
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(n_pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n_pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        *extra_objects,
    ]
    for i, content in enumerate(page_contents):
        page_num = first_page + 2 * i
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %d 0 R >>"
                       % (resources, page_num + 1))
        objects.append(content)
    return _assemble(objects, _info(title, author))


def text_pdf(pages: Sequence[str], title: str | None = None, author: str | None = None,
             compress: bool = False) -> bytes:
    """A valid PDF with one page per string; each "\\n" in a string starts a new text line on that page."""
    contents = [_stream(_content_for(p), compress=compress) for p in pages]
    return _document(contents, b"<< /Font << /F1 3 0 R >> >>", title, author)


def image_only_pdf(n_pages: int = 1, title: str | None = None) -> bytes:
    """Pages that paint a small grey image and a rectangle but hold no text (a scanned book, to pypdf)."""
    pixels = bytes(range(0, 256, 16)) * 4  # 8x8 greyscale
    image = _stream(pixels, b" /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray"
                            b" /BitsPerComponent 8")
    draw = _stream(b"q 200 0 0 200 72 500 cm /Im1 Do Q\n0.5 g 72 72 100 50 re f\n")
    resources = b"<< /XObject << /Im1 4 0 R >> >>"
    return _document([draw] * n_pages, resources, title, None, extra_objects=[image])


def blank_text_pdf(n_pages: int = 1) -> bytes:
    """Pages whose text is only spaces: extraction yields nothing but whitespace."""
    return text_pdf(["   "] * n_pages)


def truncated_pdf(data: bytes | None = None, keep: float = 0.5) -> bytes:
    """The first part of a valid PDF: no xref, no trailer, cut mid-object."""
    data = data if data is not None else text_pdf(["A page that will be cut off.", "Another page."])
    return data[: int(len(data) * keep)]


def corrupt_pdf() -> bytes:
    """A PDF header and an %%EOF marker with garbage between them: it looks whole but does not parse."""
    return b"%PDF-1.4\n" + bytes((i * 37 + 11) % 256 for i in range(600)) + b"\nthis is not a pdf\n%%EOF\n"


def encrypted_pdf(data: bytes | None = None, user_password: str = "", owner_password: str = "owner",
                  algorithm: str = "AES-128") -> bytes:
    """data encrypted by pypdf. An empty user password opens without asking (as many published books do)."""
    from pypdf import PdfReader, PdfWriter

    data = data if data is not None else text_pdf(["Encrypted but readable text on page one."], title="Locked")
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def outlined_pdf(pages: Sequence[str], outline: Sequence[tuple[str, int, int | None]], title: str | None = None
                 ) -> bytes:
    """text_pdf with bookmarks: each (title, 0-based page, index of its parent bookmark in `outline` or None)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(pages, title=title))))
    made = []
    for name, page, parent in outline:
        made.append(writer.add_outline_item(title=name, page_number=page,
                                            parent=made[parent] if parent is not None else None))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def two_pages_pdf() -> bytes:
    return text_pdf(TWO_PAGES, title="Two Pages", author="Ada Tester")


def samples() -> dict[str, bytes]:
    """The committed PDF samples in tests/data/, by file name. Deterministic bytes; encrypted samples are built
    in tmp_path instead, since pypdf salts them randomly and they would churn in git."""
    return {
        "two-pages.pdf": two_pages_pdf(),
        "image-only.pdf": image_only_pdf(),
        "truncated.pdf": truncated_pdf(two_pages_pdf()),
        "corrupt.pdf": corrupt_pdf(),
    }


def write_samples(folder: Path = DATA) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in samples().items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_samples():
        print(p)
