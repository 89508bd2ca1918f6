"""Citation spans: the sentence (or passage) inside a chunk that supports a claim, with its offsets in the source.

One place builds, checks and renders citations; the CLI, the UI and the export all call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.markdown import AS_WRITTEN, HYPHEN_BREAK, clean_inline
from ingest.pdf_layout import label
from ingest.spans import HEADING, LIST_MARKER, TABLE_DELIMITER, layout, units
from ingest.types import Chunk, Citation, Span

MARKER = re.compile(r"(?<!\\)\[(\d+)\]")
MARKER_GROUP = re.compile(r"(?<!\\)\[(\d{1,3}(?:\s*,\s*\d{1,3})+)\]")
WORD = re.compile(r"[A-Za-z0-9À-ɏ]+")
INLINE_CODE = re.compile(f"({AS_WRITTEN.pattern})")  # inline code and math, split out to stay as written
# a sentence that introduces the list after it: "... the following methods:"
LEAD_IN = re.compile(r"(?::|\b(?:the\s+following|as\s+follows|these\s+steps|steps\s+below)\b[^.!?]*[.!]?)$", re.I)
LISTED = ("item", "code", "table")  # what a lead-in can introduce
TRAILING_TAGS = re.compile(r"(?:#[^\s#\d][^\s#]*[ \t]*)+\r?\n\s*")  # tags left at a line's end, after its sentence
STEP_BLOCKS, STEP_CHARS = 16, 1600  # a how-to's list is quoted whole up to this size
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
        if len(u.text) > max_chars or not WORD.search(clean_inline(u.text)) or HEADING.match(u.text) \
                or chunk.in_heading(chunk.start + u.start):
            continue
        out.append(Span(chunk.start + u.start, chunk.start + u.end, u.text))
    return out or [Span(chunk.start, chunk.end, chunk.text)]


def lexical_best(chunk: Chunk, claim: str) -> Span:
    """The sentence of the chunk sharing most words with the claim."""
    target = words(claim)
    spans = candidate_spans(chunk)
    return max(spans, key=lambda s: (len(target & words(s.text)) / (1 + len(words(s.text)) ** 0.5), -s.start))


@dataclass(frozen=True)
class Piece(Span):
    """A sentence (or a whole code block) of a chunk in source coordinates, with the block it sits in."""

    block: int = 0  # index of its block (paragraph, list item, quote, code fence) within the chunk
    kind: str = "prose"  # prose | item | quote | code | table (a row; header and delimiter are one)
    depth: int = 0  # indentation of a list item's marker, in columns
    marker: str = ""  # a list item's marker as written ("1.", "-"), "" otherwise
    wrapped: bool = False  # its line ends are the page's wraps (a PDF): "neces-" + newline + "sarily" is one word


def pieces(chunk: Chunk) -> list[Piece]:
    """Every sentence of a chunk, in order, knowing its block: prose, list item, quote, code or table row.
    Blocks are read as the chunker reads them (ingest.spans.layout)."""
    text, out = chunk.text, []
    for b, block in enumerate(layout(text, 0, len(text))):
        kind = {"text": "prose"}.get(block.kind, block.kind)
        depth, marker = 0, ""
        if kind == "item":  # the marker sits before the block's first sentence, on its line
            head = text[text.rfind("\n", 0, block.start) + 1:block.start].expandtabs(4)
            m = LIST_MARKER.match(head)
            depth, marker = (len(head) - len(head.lstrip()), m.group(0).split()[0]) if m else (0, "")
        for u in block.units:
            cut = TRAILING_TAGS.match(u.text)  # "... of Dune. #reading" + newline: the tags end the line before
            start = u.start + (cut.end() if cut and cut.end() < len(u.text) else 0)
            # a setext or permalink heading packed into the chunk reads as prose: its place says it is a heading
            own = "heading" if chunk.in_heading(chunk.start + start) else kind
            out.append(Piece(chunk.start + start, chunk.start + u.end, text[start:u.end], b, own, depth, marker))
    return _page_lines(chunk, out) if chunk.kind == "pdf" else _first_item(out)


def _page_lines(chunk: Chunk, ps: list[Piece]) -> list[Piece]:
    """A PDF page's sentences, with a heading line cut off the sentence it runs into: pypdf marks no paragraph, so
    "2.3 Category codes" + newline + "Each of the 256 ..." reads as one. A heading line is one the outline placed
    (a packed section's heading lines) or one naming the chunk's section; other short lines are not cut, being as
    often a term whose definition follows ("pairs(X)" + newline + "produces ...")."""
    packed = [(hs, bs) for hs, bs, _ in chunk.metadata.get("sections") or ()]
    leaves = {label(h.rsplit(" > ", 1)[-1]) for h in
              [chunk.heading, *(h for _, _, h in chunk.metadata.get("sections") or ())] if h}
    out = []
    for p in ps:
        body = "prose" if p.kind == "heading" else p.kind  # a heading line ran into it, not the sentence's own kind
        at = 0
        for m in re.finditer(r"[^\n]+(?:\n|$)", p.text):
            a, b = p.start + m.start(), p.start + m.end()
            if label(m.group()) in leaves or any(hs <= a and b <= bs + 1 for hs, bs in packed):
                out += _trimmed(p, at, m.start(), body) + _trimmed(p, m.start(), m.end(), "heading")
                at = m.end()
        out += _trimmed(p, at, len(p.text), body)
    return out


def _trimmed(p: Piece, a: int, b: int, kind: str) -> list[Piece]:
    """p.text[a:b] without its surrounding whitespace, as a piece of its own ([] if blank)."""
    text = p.text[a:b]
    if not text.strip():
        return []
    a += len(text) - len(text.lstrip())
    text = text.strip()
    return [Piece(p.start + a, p.start + a + len(text), text, p.block, kind, p.depth, p.marker, wrapped=True)]


def _first_item(ps: list[Piece]) -> list[Piece]:
    """A chunk cut just after a list marker ("1. ", "- " left behind) opens with a list item, not prose:
    a one-line first block followed by item 2, or (unless it is a lead-in) by a top-level bullet, is that item."""
    second = next((p for p in ps if p.block == 1), None)
    if not ps or ps[0].kind != "prose" or second is None or second.kind != "item" or "\n" in ps[0].text:
        return ps
    if second.marker[:1].isdigit():
        if second.marker[:2] not in ("2.", "2)"):
            return ps
        marker = "1" + second.marker[1]
    elif second.depth or LEAD_IN.search(plain([p for p in ps if p.block == 0][-1])):  # "... as follows:" + its list
        return ps
    else:
        marker = second.marker
    return [Piece(p.start, p.end, p.text, 0, "item", second.depth, marker) if p.block == 0 else p for p in ps]


def by_block(ps: list[Piece]) -> list[list[Piece]]:
    """Pieces grouped by the block they sit in, in order."""
    out: list[list[Piece]] = []
    for p in ps:
        if out and out[-1][0].block == p.block:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def plain(p: Piece) -> str:
    """What a reader sees of a piece, on one line; code as written, inline code too (`<BOS>` is no HTML tag)."""
    if p.kind == "code":
        return p.text
    text = HYPHEN_BREAK.sub(r"\1\2", p.text) if p.wrapped else p.text
    parts = INLINE_CODE.split(re.sub(r"(\*\*|__|[*_])(`[^`\n]+`)\1", r"\2", text))  # **`Ctrl+;`**: just the code
    return " ".join("".join(x if i % 2 else _spaced(x) for i, x in enumerate(parts)).split())


def _spaced(text: str) -> str:
    """clean_inline, keeping the spaces that separate the text from inline code around it."""
    lead, tail = text[:len(text) - len(text.lstrip())], text[len(text.rstrip()):]
    return f"{lead}{clean_inline(text)}{tail}" if text.strip() else text


def is_label(block: list[Piece]) -> bool:
    """A short line like "**Ribbon:**" that names the list after it."""
    return block[0].kind == "prose" and len(block) == 1 and plain(block[0]).endswith(":") \
        and len(block[0].text.split()) <= 8


def list_after(blocks: list[list[Piece]], i: int, depth: int | None) -> list[Piece]:
    """The list a lead-in introduces: items, code and list labels from block i on (by_block's blocks);
    below a list item, only its deeper items. Capped, so a long list is quoted up to STEP_CHARS."""
    out: list[Piece] = []
    for j in range(i, min(len(blocks), i + STEP_BLOCKS)):
        b = blocks[j]
        kind = b[0].kind
        if depth is not None and not (kind in ("code", "table") or (kind == "item" and b[0].depth > depth)):
            break
        nxt = blocks[j + 1][0].kind if j + 1 < len(blocks) else ""
        if kind not in LISTED and not (is_label(b) and nxt in LISTED):
            break
        if out and b[-1].end - out[0].start > STEP_CHARS:
            break
        out.extend(b)
    return out


def as_text(parts: list[Piece]) -> str:
    """A passage as plain text: prose as it reads, one line per list item, numbered items counted in order from the
    first one's own number ("1. 1. 1." reads 1, 2, 3; a quote that starts at step 7 reads 7, 8, not 1, 2)."""
    lines, depths, counters = [], sorted({p.depth for p in parts if p.kind == "item"}), {}
    for b in by_block(parts):
        p, text = b[0], " ".join(plain(x) for x in b)
        if p.kind == "table":  # rows as written, without the |---| line
            lines += [" ".join(row.split()) for x in b for row in x.text.splitlines()
                      if not TABLE_DELIMITER.fullmatch(row)]
            continue
        if p.kind != "item":
            counters = {}
            lines.append(text)
            continue
        level = depths.index(p.depth)
        counters = {d: n for d, n in counters.items() if d <= level}
        marker = "-"
        if p.marker[:1].isdigit():
            counters[level] = counters.get(level, int(re.match(r"\d+", p.marker).group()) - 1) + 1
            marker = f"{counters[level]}."
        lines.append(f"{'  ' * level}{marker} {text}")
    return "\n".join(lines)


def span_in(chunk: Chunk, start: int, end: int) -> Span:
    """The span [start, end) of the source, cut from the chunk that holds it (quote == source[start:end])."""
    assert chunk.start <= start <= end <= chunk.end
    return Span(start, end, chunk.text[start - chunk.start:end - chunk.start])


def follows(chunk: Chunk, end: int, start: int) -> bool:
    """The span starting at start comes right after the one ending at end: no sentence of the chunk between."""
    return end <= start and not any(end <= p.start and p.end <= start for p in pieces(chunk))


def passages(spans: list[tuple[Chunk, int, int]], chunks: list[Chunk]) -> list[tuple[Chunk, list[int]]]:
    """Spans (best first) that follow one another inside one chunk make one passage, cited once.
    Returns (the chunk holding the passage, its spans' indices in source order), best passage first."""
    groups: list[tuple[Chunk, list[int]]] = []
    # a PDF's offsets count from its page's start: a place is (source, page), never the source alone
    for i in sorted(range(len(spans)), key=lambda i: (spans[i][0].source, spans[i][0].page or 0, spans[i][1])):
        chunk, s, e = spans[i]
        if groups and same_place(groups[-1][0], chunk):
            first, last = spans[groups[-1][1][0]][1], spans[groups[-1][1][-1]][2]
            holder = next((ch for ch in chunks if same_place(ch, chunk) and ch.start <= first and e <= ch.end
                           and follows(ch, last, s)), None)
            if holder is not None:
                groups[-1] = (holder, groups[-1][1] + [i])
                continue
        groups.append((chunk, [i]))
    return sorted(groups, key=lambda g: min(g[1]))


def same_place(a: Chunk, b: Chunk) -> bool:
    """Offsets in a and b count from the same text: one note, or one page of a PDF."""
    return a.source == b.source and a.page == b.page


def citation(n: int, chunk: Chunk, span: Span) -> Citation:
    assert chunk.start <= span.start <= span.end <= chunk.end
    return Citation(n=n, source=chunk.source, title=chunk.title, heading=chunk.heading_at(span.start), page=chunk.page,
                    chunk_id=chunk.id, start=span.start, end=span.end, quote=span.text)


def location(c: Citation) -> str:
    """Where a citation points, for people: "notes/x.md > Heading" or "book.pdf, p. 12"."""
    where = c.source + (f", p. {c.page}" if c.page else "")
    return f"{where} > {c.heading}" if c.heading else where
