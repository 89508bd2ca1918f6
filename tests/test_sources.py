"""Reading one file: decoding (BOM, fallback), size/empty/binary checks, dispatch by suffix."""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from ingest.errors import UnreadableFile
from ingest.sources import decode, parse_source
from tests.conftest import default_chunker as chunker
from tests.conftest import write_file as write

DATA = Path(__file__).resolve().parent / "data"
LIMIT = 1_000_000
LATIN1_NOTE = "Café notes\n\nThe naïve approach costs £5 and fails for «quoted» text.\n\n# Résumé\n\nMore text.\n"


def reason(path: Path, source: str = "notes/x.md", limit: int = LIMIT) -> str:
    with pytest.raises(UnreadableFile) as info:
        parse_source(source, path, limit)
    assert info.value.source == source
    assert str(info.value).startswith(f"{source}: ")
    return info.value.reason


# --- dispatch ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["n.md", "n.markdown", "n.txt", "N.MD"])
def test_note_suffixes_are_parsed_as_notes(tmp_path, name):
    """.md, .markdown and .txt (any case) are notes."""
    doc = parse_source(f"notes/{name}", write(tmp_path, name, b"# Title\n\nText.\n"), LIMIT)
    assert doc.kind == "note" and doc.title == "Title"


def test_txt_note_is_read_as_is():
    """A plain .txt note lands with its file name as title and every sentence chunked."""
    doc = parse_source("plain-note.txt", DATA / "plain-note.txt", LIMIT)
    assert doc.title == "plain-note"
    raw = (DATA / "plain-note.txt").read_text(encoding="utf-8")
    chunks = chunker().chunk(doc)
    assert chunks and all(raw[c.start:c.end] == c.text for c in chunks)
    assert "heart of RAG" in " ".join(c.text for c in chunks)


# --- decoding ---------------------------------------------------------------------------------------------------


def test_utf8_bom_is_kept_as_u_feff():
    """Offsets index the file decoded as UTF-8 with the BOM kept (DESIGN.md), so nothing shifts by one."""
    text, encoding = decode("x.md", codecs.BOM_UTF8 + "héllo".encode())
    assert (text, encoding) == ("\ufeffhéllo", "utf-8")


def test_bom_note_chunks_index_the_raw_text_with_the_bom(tmp_path):
    """A chunk of a BOM note is raw[start:end] where raw still starts with U+FEFF."""
    data = codecs.BOM_UTF8 + b"---\ntitle: B\n---\nBody text.\r\n"
    doc = parse_source("notes/b.md", write(tmp_path, "b.md", data), LIMIT)
    raw = data.decode("utf-8")
    [c] = chunker().chunk(doc)
    assert raw[c.start:c.end] == c.text == "Body text."
    assert doc.title == "B" and doc.warnings == []


def test_crlf_is_not_translated(tmp_path):
    """No newline translation: offsets count the \\r of CRLF files."""
    data = b"# T\r\n\r\nLine one.\r\nLine two.\r\n"
    doc = parse_source("notes/w.md", write(tmp_path, "w.md", data), LIMIT)
    assert doc.texts[None] == data.decode("utf-8")


def test_latin1_note_is_decoded_with_a_reported_fallback(tmp_path):
    """Non-UTF-8 bytes still index; the warning names the encoding the offsets refer to."""
    data = LATIN1_NOTE.encode("latin-1")
    doc = parse_source("notes/latin.md", write(tmp_path, "latin.md", data), LIMIT)
    encoding = doc.metadata["encoding"]
    assert encoding == "latin-1"
    assert len(doc.warnings) == 1 and encoding in doc.warnings[0]
    raw = data.decode(encoding)
    assert raw == LATIN1_NOTE
    chunks = chunker().chunk(doc)
    assert chunks
    for c in chunks:
        assert raw[c.start:c.end] == c.text
    assert doc.title == "Résumé"


def test_cp1252_curly_quotes_decode_as_cp1252(tmp_path):
    """Windows-1252 smart quotes (0x93/0x94) and dashes (0x97) read as themselves, not as C1 controls."""
    data = b"He said \x93hello\x94 \x97 twice.\n"
    doc = parse_source("notes/w.md", write(tmp_path, "w.md", data), LIMIT)
    assert doc.metadata["encoding"] == "cp1252"
    assert doc.texts[None] == "He said \u201chello\u201d \u2014 twice.\n"
    assert "cp1252" in doc.warnings[0]


def test_committed_latin1_sample_decodes_with_fallback():
    """tests/data/latin1-note.md is Latin-1 on disk, not UTF-8."""
    data = (DATA / "latin1-note.md").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    doc = parse_source("latin1-note.md", DATA / "latin1-note.md", LIMIT)
    assert doc.metadata["encoding"] != "utf-8" and doc.warnings
    assert "naïve" in doc.texts[None]


def test_bytes_undefined_in_cp1252_fall_back_to_latin1():
    """0x81 has no cp1252 character; latin-1 decodes every byte, so decoding never fails."""
    text, encoding = decode("x.md", b"caf\xe9 \x81 done")
    assert encoding == "latin-1" and text == "café \x81 done"


def test_utf16_with_bom_is_decoded(tmp_path):
    """Notepad's 'Unicode' is UTF-16 with a BOM: it is text, not binary."""
    data = "# Wide\n\nUTF-16 text.\n".encode("utf-16")
    doc = parse_source("notes/wide.md", write(tmp_path, "wide.md", data), LIMIT)
    assert doc.metadata["encoding"] == "utf-16"
    assert doc.title == "Wide"


def test_utf16_note_is_reported_as_not_utf8(tmp_path):
    """'non-UTF-8 files decoded with a reported fallback': UTF-16 is not UTF-8 and the offsets depend on it."""
    data = "# Wide\n\nUTF-16 text.\n".encode("utf-16")
    doc = parse_source("notes/wide.md", write(tmp_path, "wide.md", data), LIMIT)
    assert any("utf-16" in w for w in doc.warnings)


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\r\n \n"],
                         ids=["zero-bytes", "whitespace", "bom-only", "bom-and-blank-lines"])
def test_empty_note_is_reported(tmp_path, data):
    """An empty note has nothing to index; it is reported, not silently skipped."""
    assert "empty" in reason(write(tmp_path, "x.md", data))


def test_committed_empty_sample_is_reported():
    """tests/data/empty.md is zero bytes."""
    assert "empty" in reason(DATA / "empty.md", "empty.md")


@pytest.mark.parametrize("data", [b"---\ntitle: Only YAML\n---\n", b"# Heading\n\n## Another\n",
                                  b"---\ntags: [a]\n---\n# Just a title\n"])
def test_note_with_only_front_matter_or_headings_is_reported(tmp_path, data):
    """No body text: nothing to embed, say so."""
    assert "no text" in reason(write(tmp_path, "x.md", data))


def test_binary_file_named_md_is_reported(tmp_path):
    """A PNG saved as .md is binary data, not a note."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + bytes(64)
    assert "binary" in reason(write(tmp_path, "x.md", png))


def test_file_over_the_size_limit_is_reported(tmp_path):
    """Huge files are reported with the limit and the setting that raises it."""
    path = write(tmp_path, "x.md", b"# Big\n\n" + b"word " * 400)
    why = reason(path, limit=1000)
    assert "size limit" in why and "REREAD_MAX_FILE_MB" in why


def test_file_exactly_at_the_size_limit_is_read(tmp_path):
    """The limit is inclusive: a file of exactly max_bytes is fine."""
    data = b"# Edge\n\nText that fits.\n"
    doc = parse_source("notes/x.md", write(tmp_path, "x.md", data), len(data))
    assert doc.title == "Edge"


def test_unreadable_path_is_reported(tmp_path):
    """A path that cannot be read (here a directory named like a note) is reported, not raised as OSError."""
    path = tmp_path / "folder.md"
    path.mkdir()
    assert "cannot be read" in reason(path)


def test_missing_file_is_reported(tmp_path):
    """A file deleted between the walk and the read is reported by name."""
    assert "cannot be read" in reason(tmp_path / "gone.md")


# --- the committed corpus end to end ----------------------------------------------------------------------------

EXPECTED_FAILURES = {
    "empty.md": "empty",
    "corrupt.pdf": "corrupt",
    "truncated.pdf": "truncated",
    "image-only.pdf": "no extractable text, OCR not supported",
}


def test_committed_corpus_every_file_lands_or_is_reported(tmp_path):
    """Every file of tests/data either parses into chunks that keep the offsets invariant, or fails by name
    with its reason; no other exception escapes."""
    vault = tmp_path / "vault"
    shutil.copytree(DATA, vault)
    failed, landed = {}, {}
    for path in sorted(vault.iterdir()):
        try:
            doc = parse_source(path.name, path, LIMIT)
        except UnreadableFile as e:
            failed[path.name] = e.reason
            continue
        chunks = chunker().chunk(doc)
        assert chunks, path.name
        for c in chunks:
            if c.page is None:
                raw = path.read_bytes().decode(doc.metadata["encoding"])
                assert raw[c.start:c.end] == c.text
            else:
                assert doc.texts[c.page][c.start:c.end] == c.text
        landed[path.name] = doc
    assert set(failed) == set(EXPECTED_FAILURES)
    for name, why in EXPECTED_FAILURES.items():
        assert why in failed[name]
    assert set(landed) == {"obsidian-note.md", "plain-note.txt", "latin1-note.md", "two-pages.pdf"}
