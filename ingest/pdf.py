"""Book PDFs through pypdf: one text per page (1-based), title and author from the PDF's metadata."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from .errors import UnreadableFile
from .pdf_layout import outline
from .pdf_layout import sections as book_sections
from .types import ParsedDocument


def parse_pdf(source: str, path: Path) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    # what pypdf raises on a malformed file, stream or font (besides OSError reading it)
    broken = (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError,
              AssertionError, ZeroDivisionError)
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
            f.seek(max(0, path.stat().st_size - 65536))  # writers may append junk after the last %%EOF
            tail = f.read()
    except OSError as e:
        raise UnreadableFile(source, f"cannot be read ({e.strerror or e})") from None
    if b"%PDF-" not in head:
        raise UnreadableFile(source, "not a PDF (no %PDF header); rename it or list it in .rereadignore")
    if b"%%EOF" not in tail:
        raise UnreadableFile(source, "truncated PDF (no %%EOF at the end); download or export it again")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (DependencyError, NotImplementedError) as e:
                raise UnreadableFile(source, f"encrypted with an unsupported scheme ({e})") from None
            if not ok:
                raise UnreadableFile(source, "encrypted and needs a password; save a decrypted copy "
                                             "(qpdf --decrypt) or list it in .rereadignore")
        texts: dict[int, str] = {}
        unread: list[tuple[int, str]] = []
        for i, page in enumerate(reader.pages, start=1):
            try:
                texts[i] = page.extract_text() or ""
            except broken as e:  # a broken font or stream: that page only
                texts[i] = ""
                unread.append((i, f"{type(e).__name__}: {e}"))
        marks = outline(reader)
        info = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
        author = str(info.get("/Author") or "").strip()
    except UnreadableFile:
        raise
    except FileNotDecryptedError:
        raise UnreadableFile(source, "encrypted and needs a password; save a decrypted copy") from None
    except (OSError, *broken) as e:
        raise UnreadableFile(source, f"not a readable PDF, corrupt or truncated ({type(e).__name__}: {e})") from None
    if not texts:
        raise UnreadableFile(source, "PDF has no pages")
    if unread and len(unread) == len(texts):
        raise UnreadableFile(source, f"no page could be read ({unread[0][1]}); report the file")
    if not any(t.strip() for t in texts.values()):
        raise UnreadableFile(source, "no extractable text, OCR not supported")
    sections = book_sections(texts, marks)  # headings from the outline, running heads and page numbers left out
    metadata = {"tags": [], "pages": len(texts)}
    if author:
        metadata["author"] = author
    pages = ", ".join(str(n) for n, _ in unread[:10]) + (f" and {len(unread) - 10} more" if len(unread) > 10 else "")
    warnings = [f"page{'s' if len(unread) > 1 else ''} {pages} could not be read ({unread[0][1]}) and "
                f"{'are' if len(unread) > 1 else 'is'} left out; the rest of the book is indexed"] if unread else []
    return ParsedDocument(source=source, kind="pdf", title=title or PurePosixPath(source).stem,
                          texts=dict(texts), sections=sections, metadata=metadata, warnings=warnings)
