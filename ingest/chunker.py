"""Sections -> chunks: blocks packed whole up to the budget, lead-ins kept with what they introduce, exact offsets."""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from itertools import islice

from .counting import Counts
from .markdown import HYPHEN_BREAK, LIGATURES, clean_inline
from .spans import RULE, TABLE_DELIMITER, Block, Unit, blocks, layout
from .tokens import TokenCounter
from .types import Chunk, ParsedDocument, Section

CHUNKER_VERSION = 9  # 8 (never landed) stored packed sections as pairs
WORD = re.compile(r"\S+")
COLON_END = re.compile(r":[*_`)\]>\s]*$")

# The packing search prices a chunk at 1, so a cut penalty below 1 only chooses where a section is cut, never how
# many chunks it takes; cutting a lead-in from what it introduces costs more than a whole extra chunk.
GLUE = 3.0  # between a lead-in and the block it introduces, a callout's title and its body, a table header and row 1
WORD_CUT = 0.6  # inside a sentence too long for any chunk
WHOLE = 1.2  # inside a list item, callout or table that fits one chunk: kept whole even at the price of a chunk
SENTENCE_CUT, LONG_BLOCK_CUT = 0.4, 0.1  # between sentences of a paragraph that fits / inside any block too big
LIST_CUT, LONG_LIST_CUT = 0.3, 0.1  # between items of a list that fits / that does not
SMALL = 1.5  # the most a chunk pays for being small: a fragment is only left where its whole section is small
# a chunk's word pieces, summed from its sentences' counts, may differ a little from the count of its text as one
# (inline markup across a sentence boundary): one this far under the window is not tokenized again to cut it
FIT_SLACK = 16
EVEN = 0.05  # a convex nudge on each chunk's unused room: of equally good cuts, the one giving even-sized chunks


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_size: int = 256  # most word pieces a chunk's embedded text holds, header included
    chunk_overlap: int = 40  # word pieces of trailing sentences repeated at the next chunk's start


@dataclass(frozen=True)
class Piece:
    """A unit as the packer sees it: its size in word pieces and the block it belongs to."""

    unit: Unit
    tokens: int
    block: int  # index into the section's blocks
    first: bool  # the first unit of its block: a list item may only open a chunk here
    whole: bool = True  # False for the second and later parts of a sentence cut at words


def chunk_id(source: str, text: str, occurrence: int) -> str:
    return hashlib.sha256(f"{source}\x00{text}\x00{occurrence}".encode()).hexdigest()[:32]


def _prose_view(text: str) -> str:
    rows = [ln for ln in text.splitlines() if not ("|" in ln and TABLE_DELIMITER.fullmatch(ln.strip(" \t>")))]
    return clean_inline("\n".join(rows))


def _compose(text: str, start: int, end: int, code: list[tuple[int, int]], kind: str) -> str:
    """The embedded view of text[start:end] given where its code blocks are (code is embedded as written)."""
    if kind == "pdf":
        return re.sub(r"\s+", " ", HYPHEN_BREAK.sub(r"\1\2", text[start:end].translate(LIGATURES))).strip()
    parts, pos = [], start
    # code is sorted: only the blocks from start on are looked at (a section of 10,000 code blocks was quadratic)
    for i in range(bisect.bisect_left(code, (start,)), len(code)):
        s, e = code[i]
        if s >= end:
            break
        if e <= end:
            parts += [_prose_view(text[pos:s]), text[s:e].strip()]
            pos = e
    parts.append(_prose_view(text[pos:end]))
    return "\n".join(p for p in parts if p)


def embed_view(text: str, kind: str) -> str:
    """The text the model reads for a display span: markup dropped but code kept as written, a table's
    delimiter row dropped, PDF line-end hyphens repaired. The chunker knows where code is from the whole
    note; on a bare text, code blocks are found in the text itself."""
    return _compose(text, 0, len(text), [(s, e) for s, e, code in blocks(text, 0, len(text)) if code], kind)


def named(title: str, aliases: list[str] | None) -> str:
    """The title with the note's aliases, its other names, read wherever the title is read: by the model, by BM25
    and by the refusal rule's name check."""
    return f"{title} ({', '.join(aliases)})" if aliases else title


def _titled(doc: ParsedDocument) -> str:
    return named(doc.title, doc.metadata.get("aliases"))


def header(title: str, heading: str, kind: str = "note") -> str:
    """What the model reads before a passage. A book's outline path runs deep ("11 Statistical models in R >
    Nonlinear least squares and maximum likelihood models > Least squares"): its last part says where the page is
    without crowding it (book PDFs, recall@5 / MRR@10 / nDCG@10 0.769 / 0.649 / 0.699 -> 0.789 / 0.651 / 0.700)."""
    if kind == "pdf":
        heading = heading.rsplit(" > ", 1)[-1]
    return f"{title} > {heading}\n" if heading else f"{title}\n"


def _lead_in(text: str, block: Block, nxt: Block) -> bool:
    """A block that introduces the next: it ends with ':' or is a paragraph right before a list, code or table
    (a thematic break between them says otherwise)."""
    if block.kind in ("code", "table") or any(RULE.fullmatch(ln) for ln in text[block.end:nxt.start].splitlines()):
        return False
    if COLON_END.search(block.units[-1].text):
        return True
    return nxt.kind in ("code", "table") or (block.kind == "text" and nxt.kind == "item")


def _search(found: list[Block], pieces: list[Piece], cuts: list[float], budget: int, overlap: int,
            extra: list[int]) -> list[tuple[int, int]]:
    """The cheapest cut of a section's pieces into chunks, as (first piece, end) pairs: dynamic programming over
    chunk ends. A chunk costs 1 plus a penalty for being small plus the penalty of the cut it ends at; it holds at
    most budget word pieces, unless it is one piece too big for any chunk (a code block, a table row) with only
    the block leading in to it. Each chunk after the first repeats a few whole sentences before it (overlap)."""
    n = len(pieces)
    size = [0]
    for p in pieces:
        size.append(size[-1] + p.tokens)
    prose = [found[p.block].kind not in ("code", "table") for p in pieces]
    low = max(1, budget // 4)
    best = [float("inf")] * (n + 1)
    best[0] = 0.0
    back = [(0, 0)] * (n + 1)  # (where the previous chunk ended, where this one starts)
    unglued = [n] * (n + 1)  # unglued[i]: the first j >= i with no glue before pieces[j] (or n), found once
    for i in range(n - 1, 0, -1):
        unglued[i] = unglued[i + 1] if cuts[i] >= GLUE else i

    def opening(e0: int) -> int:
        """Where the chunk after one ending at e0 starts: whole sentences back, up to overlap word pieces, never
        before that chunk's own start, never inside a list item, never in front of code or a table."""
        k, used, prev_start = e0, 0, back[e0][1]
        if not prose[e0]:
            return e0
        while k - 1 > prev_start and prose[k - 1] and used + pieces[k - 1].tokens <= overlap:
            k -= 1
            used += pieces[k].tokens
        while k < e0 and (not pieces[k].whole or (found[pieces[k].block].kind == "item" and not pieces[k].first)):
            k += 1
        glued = unglued[e0 + 1]  # the overlap must leave room for the glued run it opens on (a lead-in and its block)
        return k if size[glued] - size[k] + extra[k] <= budget and not leads_to_oversized(e0) else e0

    def leads_to_oversized(i: int) -> bool:
        """Pieces from i on, tied together (glued or in one block), reach a piece too big for any chunk: that chunk
        holds the big piece and its lead-in only, no overlap."""
        small = 0
        while pieces[i].tokens <= budget:
            small += pieces[i].tokens
            if small > budget // 2 or i + 1 == n or not (cuts[i + 1] >= GLUE or pieces[i].block == pieces[i + 1].block):
                return False
            i += 1
        return True

    for e0 in range(n):
        start = opening(e0) if e0 else 0
        tied, biggest = True, 0  # tied: every cut inside the chunk so far is glued or inside one block
        for e in range(start + 1, n + 1):
            tied = tied and (e - 1 == start or cuts[e - 1] >= GLUE or pieces[e - 2].block == pieces[e - 1].block)
            biggest = max(biggest, pieces[e - 1].tokens)
            tokens = size[e] - size[start] + extra[start]
            oversized_ok = tied and biggest > budget and tokens - biggest <= budget // 2
            if tokens > budget and e - start > 1 and not oversized_ok:
                break
            if e <= e0:
                continue
            room = max(0, budget - tokens) / budget
            cost = best[e0] + 1 + SMALL * max(0, low - tokens) / low + EVEN * room * room + (cuts[e] if e < n else 0.0)
            if cost < best[e]:
                best[e], back[e] = cost, (e0, start)
    spans, e = [], n
    while e > 0:
        e0, start = back[e]
        spans.append((start, e))
        e = e0
    return spans[::-1]


class Chunker:
    def __init__(self, counter: TokenCounter, config: ChunkerConfig):
        self.counter = counter
        self.config = config
        self.sizes = Counts(counter)  # counts as the packer needs them: batched, exact up to the budget

    def _split_long(self, text: str, unit: Unit, budget: int) -> list[Unit]:
        """A sentence longer than the budget is cut at word boundaries (code blocks and table rows stay whole)."""
        if unit.atomic:
            return [unit]
        pieces, start = [], unit.start
        cur_end, cur_tokens = start, 0
        words = WORD.finditer(text, unit.start, unit.end)
        while batch := list(islice(words, 4096)):  # a 10 MB sentence: its words a batch at a time
            for w, n in zip(batch, self.sizes.counts([w.group(0) for w in batch], budget), strict=True):
                if cur_tokens and cur_tokens + n > budget:
                    pieces.append(Unit(start, cur_end, text[start:cur_end]))
                    start, cur_tokens = w.start(), 0
                cur_end, cur_tokens = w.end(), cur_tokens + n
        pieces.append(Unit(start, cur_end, text[start:cur_end]))
        return pieces

    def _blocks(self, doc: ParsedDocument, section: Section) -> list[Block]:
        """The section's blocks with units that carry no words (an image, an empty callout title) left out."""
        out = []
        for b in layout(doc.texts[section.page], section.start, section.end):
            kept = tuple(u for u in b.units if u.atomic or _compose(u.text, 0, len(u.text), [], doc.kind))
            # a PDF page is prose: a line opening with a bullet there runs on to the page's end, it is no list item
            kind, callout = ("text", False) if doc.kind == "pdf" else (b.kind, b.callout)
            if kept:
                out.append(Block(b.start, b.end, b.text, kind=kind, units=kept, callout=callout))
        return out

    def _pack(self, doc: ParsedDocument, section: Section) -> list[tuple[int, int, str, int]]:
        """(start, end, embedded view, word pieces with the header) of each chunk of a section, the count summed
        from its pieces' counts; a chunk that opens inside a table embeds the table's header row first."""
        text = doc.texts[section.page]
        size = self.config.chunk_size
        head = self.sizes.count(header(_titled(doc), section.heading, doc.kind), size)
        budget = max(16, size - head - 2)
        found = self._blocks(doc, section)
        if not found:
            return []
        units = [(u, i, j == 0) for i, b in enumerate(found) for j, u in enumerate(b.units)]
        # count each sentence with the list/quote markers in front of it: the chunk's embedded text keeps them
        code = [(b.start, b.end) for b in found if b.kind == "code"]
        views, prev = [], section.start
        for u, b, _ in units:
            start = u.start if u.atomic else prev
            views.append(_compose(text, start, u.end, code if found[b].kind == "code" else [], doc.kind))
            prev = u.end
        pieces: list[Piece] = []
        for (u, b, first), n in zip(units, self.sizes.counts(views, budget), strict=True):
            if n > budget and not u.atomic:
                parts = self._split_long(text, u, budget)
                sizes = self.sizes.counts([_compose(p.text, 0, len(p.text), [], doc.kind) for p in parts], budget)
                pieces += [Piece(p, m, b, first and k == 0, k == 0) for k, (p, m) in enumerate(zip(parts, sizes,
                                                                                                   strict=True))]
            else:
                pieces.append(Piece(u, n, b, first))
        context = self._table_context(doc, found, pieces)
        headers = sorted(set(context) - {""})  # one count per table's header row, not one per row
        known = dict(zip(headers, self.sizes.counts(headers, budget), strict=True))
        extra = [known[c] if c else 0 for c in context]
        cuts = self._cuts(text, found, pieces, budget)
        out = []
        for s, e in _search(found, pieces, cuts, budget, self.config.chunk_overlap, extra):
            start, end = pieces[s].unit.start, pieces[e - 1].unit.end
            tokens = head + extra[s] + sum(p.tokens for p in pieces[s:e])
            out.append((start, end, context[s] + _compose(text, start, end, code, doc.kind), tokens))
        return out

    def _table_context(self, doc: ParsedDocument, found: list[Block], pieces: list[Piece]) -> list[str]:
        """For each piece: the header row to embed before it if a chunk opens there, inside a table."""
        out = []
        for p in pieces:
            b = found[p.block]
            out.append(_prose_view(b.units[0].text) + "\n" if b.kind == "table" and not p.first else "")
        return out

    def _cuts(self, text: str, found: list[Block], pieces: list[Piece], budget: int) -> list[float]:
        """cuts[i]: the penalty for a chunk boundary just before pieces[i] (cuts[0] is unused)."""
        block_tokens = [0] * len(found)
        for p in pieces:
            block_tokens[p.block] += p.tokens
        lists: list[int] = []  # the list each block belongs to (consecutive items), or its own index
        for i, b in enumerate(found):
            lists.append(lists[-1] if i and b.kind == "item" and found[i - 1].kind == "item" else i)
        list_tokens: dict[int, int] = {}
        for i, n in enumerate(block_tokens):
            list_tokens[lists[i]] = list_tokens.get(lists[i], 0) + n
        cuts = [0.0]
        for a, b in zip(pieces, pieces[1:], strict=False):
            blk = found[a.block]
            fits = block_tokens[a.block] <= budget
            if a.block == b.block:
                if (blk.kind == "table" or blk.callout) and a.first:
                    cost = GLUE
                elif not b.whole:
                    cost = WORD_CUT
                elif not fits:
                    cost = LONG_BLOCK_CUT
                else:
                    cost = SENTENCE_CUT if blk.kind == "text" else WHOLE
            elif b.block == a.block + 1 and _lead_in(text, blk, found[b.block]):
                cost = GLUE
            elif lists[a.block] == lists[b.block]:
                cost = LIST_CUT if list_tokens[lists[a.block]] <= budget else LONG_LIST_CUT
            else:
                cost = 0.0
            cuts.append(cost)
        return cuts

    def _chunk_spans(self, doc: ParsedDocument) -> list[tuple[Section, tuple[int, int, str, int], list]]:
        """Each chunk as (the section it opens in, (start, end, embedded view, word pieces), the sections packed
        in after it as (heading line start, body start, heading) triples). A fragment (a note's one-line intro, a
        heading's lead sentence) shares one chunk with the subsection under it (its first chunk, if it has
        several) when both fit; the later heading becomes a line of the embedded text. Siblings stay apart: an
        FAQ's short answers packed together blurred each one's vector. Measured at chunk_size 256 against no
        packing, recall@5 / MRR@10 / key fact: help vault 0.72 / 0.568 / 0.62 -> 0.82 / 0.590 / 0.64, held-out
        Turing Way 0.964 / 0.882 / 0.84 -> 0.982 / 0.886 / 0.84, sample vault 0.967 / 0.867 -> 0.967 / 0.867, its
        held-out questions 1.0 / 0.936 -> 1.0 / 0.919. Packing siblings too (one-chunk sections only): help 0.80 /
        0.614 / 0.56; only into a subsection of one chunk: help 0.80 / 0.573 / 0.64."""
        size = self.config.chunk_size
        out: list[tuple[Section, tuple[int, int, str, int], list]] = []
        last_whole = False  # the last chunk in out ends its section
        for before, s in zip([None, *doc.sections], doc.sections, strict=False):
            packed = self._pack(doc, s)
            if out and packed and last_whole and out[-1][0].page == s.page:
                prev, (a0, _, av, at), inner = out[-1]
                _, b1, bv, bt = packed[0]
                leaf = s.heading.rsplit(" > ", 1)[-1]
                last = inner[-1][2] if inner else prev.heading
                child = not last or s.heading.startswith(last + " > ")
                own = self.sizes.count(header(_titled(doc), s.heading, doc.kind), size)  # packed, it is not read
                if child and min(at, bt) <= size // 4 and (joined := at + bt + 1 + self.sizes.count(leaf, size)
                                                           - own) <= size:
                    view = f"{av}\n{leaf}\n{bv}" if leaf else f"{av}\n{bv}"
                    # the heading's own lines (ATX, setext or a permalink mark) lie between the sections
                    out[-1] = (prev, (a0, b1, view, joined), [*inner, (before.end, s.start, s.heading)])
                    out += [(s, p, []) for p in packed[1:]]
                    continue
            out += [(s, p, []) for p in packed]
            last_whole = bool(packed)  # a heading with nothing under it ends the run (measured: MRR -0.01 without)
        return out

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        out: list[Chunk] = []
        seen: dict[str, int] = {}
        base = {k: v for k, v in doc.metadata.items() if k not in ("frontmatter", "highlight_spans")}
        # ==marks== outside code (raw offsets), apart and in order: a chunk's marks are a bisection away, not a scan
        marked = sorted(doc.metadata.get("highlight_spans", []))
        mark_ends = [e for _, e in marked]
        for section, (start, end, view, tokens), inner in self._chunk_spans(doc):
            text = doc.texts[section.page]
            display = text[start:end]
            occurrence = seen.get(display, 0)
            seen[display] = occurrence + 1
            marks, i = [], bisect.bisect_right(mark_ends, start)
            while i < len(marked) and marked[i][0] < end:
                marks.append(text[max(marked[i][0], start):min(marked[i][1], end)])
                i += 1
            embed = header(_titled(doc), section.heading, doc.kind) + view
            if tokens + FIT_SLACK > self.counter.window - 2:  # near or over the model's window: cut to fit it
                embed = self.sizes.fit(embed)
            out.append(Chunk(
                id=chunk_id(doc.source, display, occurrence), source=doc.source, kind=doc.kind,
                title=doc.title, heading=section.heading, page=section.page, start=start, end=end,
                text=display, embed_text=embed,
                metadata={**base, "highlights": marks, "frontmatter": doc.metadata.get("frontmatter", {}),
                          **({"sections": inner} if inner else {})},
            ))
        return out
