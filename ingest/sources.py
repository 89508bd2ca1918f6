"""Reading one source file: size and content checks, decoding, and dispatch to the right parser."""

from __future__ import annotations

import codecs
from pathlib import Path, PurePosixPath

from .errors import UnreadableFile
from .types import Kind, ParsedDocument

NOTE_SUFFIXES = {".md", ".markdown", ".txt"}
PDF_SUFFIXES = {".pdf"}
FALLBACK_ENCODING = "cp1252"


def kind_of(source: str) -> Kind:
    """A book or a note, by the file's name (the indexer, and the store reading a chunk back, both ask)."""
    return "pdf" if PurePosixPath(source).suffix.lower() in PDF_SUFFIXES else "note"


def decode(source: str, data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 keeps a BOM as U+FEFF; anything else falls back to latin-1, or cp1252
    when the file uses its printable 0x80-0x9F characters (curly quotes, dashes)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    head = data[:8192]
    if head.startswith(b"%PDF-"):
        raise UnreadableFile(source, "a PDF with a note's name; rename it to .pdf")
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > len(head) // 20:
        raise UnreadableFile(source, "binary data, not a text note; remove it or list it in .rereadignore")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if not any(0x80 <= b <= 0x9F for b in data):
        return data.decode("latin-1"), "latin-1"  # latin-1 and cp1252 agree on every byte here
    try:
        return data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def read_note(source: str, path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UnreadableFile(source, f"cannot be read ({e.strerror or e})") from None
    if not data.strip():
        raise UnreadableFile(source, "empty file, nothing to index")
    text, encoding = decode(source, data)
    if not text.strip("\ufeff \t\r\n"):
        raise UnreadableFile(source, "empty file, nothing to index")
    return text, encoding


def parse_source(source: str, path: Path, max_bytes: int) -> ParsedDocument:
    """Parse one file; raises UnreadableFile with the reason and the fix."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableFile(source, f"cannot be read ({e.strerror or e})") from None
    if size == 0:
        raise UnreadableFile(source, "empty file, nothing to index")
    if size > max_bytes:
        raise UnreadableFile(source, f"{size / 1e6:.1f} MB is over the size limit of {max_bytes / 1e6:.1f} MB; "
                                     "raise REREAD_MAX_FILE_MB or list the file in .rereadignore")
    if kind_of(path.name) == "pdf":
        from .pdf import parse_pdf

        return parse_pdf(source, path)
    from .markdown import parse_markdown

    text, encoding = read_note(source, path)
    doc = parse_markdown(source, text)
    doc.metadata["encoding"] = encoding
    if encoding != "utf-8":
        doc.warnings.append(f"not UTF-8; decoded as {encoding} (offsets refer to that decoding); "
                            "save it as UTF-8 to silence this")
    if not any(s.end > s.start and text[s.start:s.end].strip() for s in doc.sections):
        raise UnreadableFile(source, "no text besides front matter and headings")
    return doc
