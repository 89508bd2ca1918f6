"""Hostile notes: huge, deep, odd bytes and odd links. Nothing crashes, time and memory grow with the note's size
(never with its square), offsets stay exact, and a file that is skipped is named."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import manifest as mf
from ingest.chunker import Chunker, ChunkerConfig
from ingest.discover import discover
from ingest.markdown import parse_markdown
from ingest.spans import layout, sentences
from tests.conftest import default_chunker, write_vault


def chunk_exactly(raw: str, chunker: Chunker | None = None):
    """Parse and chunk a note; every chunk must be raw[start:end], in order, inside the note."""
    doc = parse_markdown("notes/hostile.md", raw)
    chunks = (chunker or default_chunker()).chunk(doc)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(raw) and raw[c.start:c.end] == c.text
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    return doc, chunks


# --- a property test over hostile pieces -------------------------------------------------------------------------

_PIECES = ["\x00", "\r\n", "\r", "\u202e", "\u200f", "\u2066", "\ufeff", "\u200b", "\u0301", "🙂", "👩‍👩‍👧", "🏳️‍🌈",
           "שלום עולם.", "مرحبا بالعالم.", "日本語の文。", "A sentence.", "==mark==", "`code`", "#tag", "[[Link|a]]",
           "<img src=x onerror=alert(1)>", "</source>", "[1]", "---", "```", "~~~", "| a | b |", "|---|---|", "\t", " ",
           "%%", "[^1]", "^[a note]"]
_MARKERS = {"list": lambda d: "  " * d + "- ", "quote": lambda d: "> " * d,
            "callout": lambda d: "> " * d + "[!note] ", "heading": lambda d: "#" * (d % 7) + " "}
_prefix = st.builds(lambda kind, depth: _MARKERS[kind](depth), st.sampled_from(list(_MARKERS)), st.integers(0, 1000))
_line = st.builds(lambda p, parts: p + "".join(parts), _prefix, st.lists(st.sampled_from(_PIECES), max_size=12))
_front = st.one_of(st.just(""), st.integers(1, 400).map(lambda n: "---\n" + "".join(
    f"key{i}: [{', '.join(['v'] * 5)}]\n" for i in range(n)) + "---\n"))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_front, st.lists(_line, max_size=40), st.sampled_from(["\n", "\r\n", "\r"]), st.integers(0, 3000))
def test_property_hostile_notes_never_crash_and_keep_offsets(front, lines, newline, repeat):
    """NUL bytes, bidi controls, emoji ZWJ sequences, lists and quotes 1,000 levels deep, CR or CRLF ends, long
    repeated lines, big front matter: parse and chunk, and every chunk is exactly raw[start:end]."""
    raw = front + newline.join(lines) + newline + "word " * repeat
    chunk_exactly(raw)


# --- a corpus of hostile notes, with the real tokenizer ----------------------------------------------------------


def _sentences(n: int, words: str = "retrieval reads notes about attention and tokens") -> list[str]:
    return [f"{words.capitalize()} {i}." for i in range(n)]


CORPUS = {
    "a 200k-character line": " ".join(["word"] * 40_000),
    "a 200k-character line of sentences": " ".join(_sentences(4_000)),
    "1,000 levels of nested lists": "\n".join("  " * d + f"- item {d} at depth." for d in range(1000)),
    "1,000 levels of blockquotes and callouts": "\n".join(
        "> " * (d + 1) + ("[!note] Title\n" + "> " * (d + 1) if d % 100 == 0 else "") + f"Level {d}."
        for d in range(1000)),
    "NUL bytes": "# Title\n\n" + "Before\x00the NUL. " * 300 + "\x00" * 100 + "\n\nAfter it.\n",
    "CRLF, RTL and emoji": "\r\n".join(f"שלום {i} עולם 🙂 مرحبا \u202eevil\u202c 👩‍👩‍👧 end." for i in range(2000)),
    "huge front matter": "---\n" + "".join(f"key{i}: value {i}\n" for i in range(20_000)) + "---\n# Body\n\nText.\n",
    "front matter that never closes": "---\n" + "".join(f"k{i}: v\n" for i in range(5_000)) + "Body text.\n",
    "a note of 3,000 headings, lists, tables and code": "\n".join(
        [f"## H{i}\n\nSome text {i}: a lead-in.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| {i} | x |\n\n```\ncode\n```"
         for i in range(3_000)]),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_corpus_chunks_exactly_and_quickly(name):
    """Each hostile note of the corpus chunks, offsets exact, in a few seconds (the whole vault waits on it)."""
    raw = CORPUS[name]
    t0 = time.process_time()
    doc, chunks = chunk_exactly(raw)
    assert time.process_time() - t0 < 30
    assert chunks or not any(ch.isalnum() for ch in raw[doc.sections[0].start:] if doc.sections)


# --- time grows with the note, not with its square ---------------------------------------------------------------


class WordCounter:
    """A tokenizer stand-in (one word, one piece): the chunker's own work is what these tests time."""

    window = 256

    def counts(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def count(self, text: str) -> int:
        return len(text.split())

    def fit(self, text: str) -> str:
        words = text.split()
        return text if len(words) <= self.window - 2 else " ".join(words[:self.window - 2])


def _chunk(size: int = 200, overlap: int = 40):
    chunker = Chunker(WordCounter(), ChunkerConfig(size, overlap))  # type: ignore[arg-type]
    return lambda raw: chunker.chunk(parse_markdown("n.md", raw))


def _marked(raw: str):
    """Every word of the note highlighted: what chunk() does with a note's ==marks==, alone."""
    doc = parse_markdown("n.md", raw)
    doc.metadata["highlight_spans"] = [(i, i + 1) for i in range(0, len(raw), 3)]
    return Chunker(WordCounter(), ChunkerConfig(32, 0)).chunk(doc)  # type: ignore[arg-type]


# Each case repeats a small element that one part of parse + chunk handled in time quadratic in their number (a
# 10 MB note of one of them took minutes to hours), and times the part that was quadratic.
SCALING = {  # name: (the element, what to time, the smaller note's size in characters; the bigger is 16 times that)
    "inline code and tags: each tag checked against every code span": ("`c` #tag word. ", _chunk(), 5_000),
    "setext headings: each checked against every heading found": ("Title\n---\n\nBody.\n\n", _chunk(), 5_000),
    "lead-ins glued to the next: the glued run rescanned per chunk": ("Then:\n\n", _chunk(32, 0), 10_000),
    "code blocks in a section: every block scanned per sentence": ("Some words.\n```\nx\n```\n", _chunk(32, 0), 5_000),
    "quote lines: the quote rebuilt per line": ("> Quoted line.\n", lambda raw: layout(raw, 0, len(raw)), 20_000),
    "years ending sentences on one line: the line rescanned per year": (
        "Born in 1999. ", lambda raw: sentences(raw, 0, len(raw)), 20_000),
    "highlights: every mark scanned per chunk": ("a. ", _marked, 5_000),
}


def _cpu(fn, raw: str) -> float:
    t0 = time.process_time()
    fn(raw)
    return time.process_time() - t0


@pytest.mark.parametrize("name", list(SCALING))
def test_parse_and_chunk_time_grows_linearly(name):
    """Sixteen times the note takes about sixteen times the CPU; a quadratic part makes it far more (256 alone)."""
    element, fn, size = SCALING[name]
    small, big = element * (size // len(element)), element * (16 * size // len(element))
    base = min(_cpu(fn, small) for _ in range(3))
    # the best of three for the big note too, and room up to 48x: on a loaded CI machine runs met 32x and 34x where
    # 16x is usual; a quadratic part is 256x
    assert min(_cpu(fn, big) for _ in range(3)) < 48 * max(base, 0.002)


def test_a_10_mb_note_parses_in_seconds():
    """Parsing a 10 MB note of inline code, tags and highlights took 21 minutes; now about a second."""
    raw = ("==Marked== `code` #tag and a sentence. " * 260_000)[:10_000_000]
    t0 = time.process_time()
    doc = parse_markdown("n.md", raw)
    assert time.process_time() - t0 < 20 and len(doc.metadata["highlight_spans"]) > 200_000


# --- memory: the tokenizer is never handed a whole huge text ------------------------------------------------------


class SpyCounter:
    """The real tokenizer, recording the longest text and the most texts any one call hands it (it holds about
    700 bytes per word piece it makes)."""

    def __init__(self, real):
        self.real, self.window, self.longest, self.most = real, real.window, 0, 0

    def _saw(self, texts: list[str]) -> None:
        self.longest = max([self.longest, *map(len, texts)])
        self.most = max(self.most, len(texts))

    def counts(self, texts: list[str]) -> list[int]:
        self._saw(texts)
        return self.real.counts(texts)

    def count(self, text: str) -> int:
        return self.counts([text])[0]

    def fit(self, text: str) -> str:
        self._saw([text])
        return self.real.fit(text)


@pytest.mark.parametrize("raw", [" ".join(["word"] * 60_000), "```\n" + "x = 1\n" * 50_000 + "```\n",
                                 "\n".join(_sentences(6_000))], ids=["a 300k sentence", "a 300k code block",
                                                                      "6,000 short sentences"])
def test_the_tokenizer_sees_bounded_slices_of_a_huge_note(raw):
    """Counting a 10 MB sentence in one call held 1.3 GB, and so did the counts of a 10 MB note's sentences asked
    for at once: now each call gets at most 512 texts, each under about a chunk or cut to its first 16k characters."""
    spy = SpyCounter(default_chunker().counter)
    chunk_exactly(raw, Chunker(spy, ChunkerConfig()))  # type: ignore[arg-type]
    assert spy.longest < 20_000 and spy.most <= 512


# --- a hostile vault, indexed ------------------------------------------------------------------------------------


def test_a_hostile_vault_indexes_with_exact_offsets_and_duplicate_names_apart(tmp_path, fake_embedder):
    """Same file name in two folders, NUL bytes past the binary sniff, CRLF with RTL and emoji, deep nesting:
    every file lands, every stored chunk is an exact span of its file, and the two same-named notes stay apart."""
    from assistant.facade import Assistant
    from ingest.settings import Settings

    body = "# Same\n\nThe shared sentence about retrieval.\n"
    vault = write_vault(tmp_path / "vault", {
        "books/same.md": body, "articles/same.md": body, "inbox/deeper/same.md": body + "One more line.\n",
        "nul.md": "# NUL\n\n" + "Plain text here. " * 600 + "\x00after the NUL byte.\n",
        "rtl.md": "\r\n".join(f"שלום {i} 🙂 مرحبا \u202eevil\u202c end." for i in range(200)),
        "deep.md": "\n".join("  " * d + f"- level {d}." for d in range(1000)) + "\n" + "> " * 1000 + "quoted.\n",
    })
    settings = Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0)
    app = Assistant(settings, embedder=fake_embedder)
    report = app.index()
    assert report.failed == [] and report.added == 6

    m = mf.load(app.index_dir)
    got = app.store._collection(m.collection).get(include=["metadatas"])
    assert len(got["ids"]) == m.chunks
    stored = app.store.get(m.collection, list(got["ids"]))
    assert len(stored) == m.chunks
    for c in stored.values():
        text = (vault / c.source).read_bytes().decode("utf-8")
        assert text[c.start:c.end] == c.text
    same = {meta["source"] for meta in got["metadatas"] if meta["source"].endswith("same.md")}
    assert same == {"books/same.md", "articles/same.md", "inbox/deeper/same.md"}
    hits = app.search("shared sentence about retrieval", k=5)
    assert {"books/same.md", "articles/same.md"} <= {h.chunk.source for h in hits}


# --- links the walk does not follow are named ---------------------------------------------------------------------


def _link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def test_symlink_loops_and_links_out_of_the_vault_are_warned_about(tmp_path):
    """Each skipped link is named with why, so a note that is not indexed is never a mystery."""
    vault = write_vault(tmp_path / "vault", {"a.md": "# A\n\nText.\n", "notes/b.md": "# B\n\nText.\n"})
    outside = write_vault(tmp_path / "outside", {"secret.md": "# S\n\nText.\n"})
    _link(vault / "notes" / "up", vault)  # a loop to an ancestor
    _link(vault / "x" / "l1", vault / "y")  # x/l1 -> y and y/l2 -> x: a loop through two links
    _link(vault / "y" / "l2", vault / "x")
    _link(vault / "self.md", vault / "self.md")  # never resolves
    _link(vault / "out", outside)
    _link(vault / "out.md", outside / "secret.md")
    _link(vault / "gone.md", vault / "nowhere.md")  # dangling: not a source, not a warning
    _link(vault / "notes-again", vault / "notes")  # a second path to a folder: listed once, no warning
    warnings: list[dict[str, str]] = []

    found = [f.source for f in discover(vault, warnings=warnings)]

    assert found == ["a.md", "notes/b.md"]
    said = {w["source"]: w["warning"] for w in warnings}
    assert set(said) == {"notes/up/", "x/l1/l2/", "self.md", "out/", "out.md"}  # x/l1/l2 leads back to x/
    assert all("loop" in said[s] for s in said if not s.startswith("out"))
    assert "outside the vault" in said["out/"] and str(outside.resolve()) in said["out/"]


def test_index_reports_skipped_links_in_its_warnings(tmp_path, fake_embedder):
    """`reread index` (here the facade) carries the walk's warnings into the report the CLI and UI show."""
    from assistant.facade import Assistant
    from ingest.settings import Settings

    vault = write_vault(tmp_path / "vault", {"a.md": "# A\n\nSome text to index.\n"})
    outside = write_vault(tmp_path / "outside", {"secret.md": "# S\n\nPrivate.\n"})
    _link(vault / "loop", vault)
    _link(vault / "out", outside)
    settings = Settings(notes_dir=vault, index_dir=tmp_path / "index", backend="extractive", lock_timeout=0)
    report = Assistant(settings, embedder=fake_embedder).index()

    assert report.added == 1 and report.failed == []
    assert {w["source"] for w in report.warnings} == {"loop/", "out/"}
    assert any("outside the vault" in w["warning"] for w in report.warnings)
