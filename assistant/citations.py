"""Citation spans: the sentence inside a chunk that supports a claim, with its offsets in the source.

One place builds, checks and renders citations; the CLI, the UI and the export all call it.
"""

from __future__ import annotations

import re

from ingest.markdown import clean_inline
from ingest.spans import units
from ingest.types import Chunk, Citation, Span

MARKER = re.compile(r"(?<!\\)\[(\d+)\]")
MARKER_GROUP = re.compile(r"(?<!\\)\[(\d{1,3}(?:\s*,\s*\d{1,3})+)\]")
WORD = re.compile(r"[A-Za-z0-9À-ɏ]+")
STOP = set("""a an and are as at be by can do does did for from has have how i in is it its of on or that the
their them there these they this to was were what when where which who why will with you your about into
than then so such not no yes""".split())


def escape_markers(text: str) -> str:
    """A literal "[12]" from a note becomes \\[12\\], so every [n] left in an answer is a citation."""
    return re.sub(r"(?<!\\)\[(\d+)\]", r"\\[\1\\]", text)


def _stem(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def words(text: str) -> set[str]:
    """Content words, lower-cased and crudely singular, for overlap scores."""
    return {_stem(w) for w in (x.lower() for x in WORD.findall(text)) if len(w) > 1 and w not in STOP}


def candidate_spans(chunk: Chunk, max_chars: int = 600) -> list[Span]:
    """Sentences of a chunk in source coordinates (code blocks and list items count as one)."""
    out = []
    for u in units(chunk.text, 0, len(chunk.text)):
        if len(u.text) > max_chars or not WORD.search(clean_inline(u.text)):
            continue
        out.append(Span(chunk.start + u.start, chunk.start + u.end, u.text))
    return out or [Span(chunk.start, chunk.end, chunk.text)]


def lexical_best(chunk: Chunk, claim: str) -> Span:
    """The sentence of the chunk sharing most words with the claim."""
    target = words(claim)
    spans = candidate_spans(chunk)
    return max(spans, key=lambda s: (len(target & words(s.text)) / (1 + len(words(s.text)) ** 0.5), -s.start))


def citation(n: int, chunk: Chunk, span: Span) -> Citation:
    assert chunk.start <= span.start <= span.end <= chunk.end
    return Citation(n=n, source=chunk.source, title=chunk.title, heading=chunk.heading, page=chunk.page,
                    chunk_id=chunk.id, start=span.start, end=span.end, quote=span.text)


def location(c: Citation) -> str:
    """Where a citation points, for people: "notes/x.md > Heading" or "book.pdf, p. 12"."""
    where = c.source + (f", p. {c.page}" if c.page else "")
    return f"{where} > {c.heading}" if c.heading else where


def render_markdown(citations: list[Citation]) -> str:
    """Sources as markdown: a wikilink to the note (or PDF page) and the quote as a block quote."""
    lines = []
    for c in citations:
        target = c.source.rsplit(".", 1)[0] if c.source.lower().endswith((".md", ".markdown")) else c.source
        link = f"[[{target}#page={c.page}|{c.title}, p. {c.page}]]" if c.page else f"[[{target}|{c.title}]]"
        heading = f" — {c.heading}" if c.heading else ""
        quote = "\n".join(f"> {ln}" for ln in clean_inline(c.quote).splitlines() or [""])
        lines.append(f"[{c.n}] {link}{heading}\n{quote}\n")
    return "\n".join(lines)
