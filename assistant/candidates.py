"""The sentences of a passage that could answer, and how they sit beside each other: a sentence, or a lead-in
with the list or table it introduces; the one right before or after another, one leaning on another."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ingest.types import Chunk, Hit

from .citations import (
    LEAD_IN,
    LISTED,
    Piece,
    as_text,
    by_block,
    follows,
    is_label,
    list_after,
    pieces,
    plain,
    same_place,
    words,
)
from .question import ACRONYM, DATE, Question

DIGIT = re.compile(r"\d")
SENTENCE_PUNCT = re.compile(r"[.!?:;]")
TITLE_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# an instruction in one sentence: "To create a tag, enter ...", "Press Ctrl+P to ..."
INSTRUCTION = re.compile(r"(?:to\s[^,.:;]{3,80},\s*)?(?:then\s+)?(?:open|select|click|press|enter|type|run|drag|choose"
                         r"|tap|go\s+to|navigate|right-click|double-click|use\s+the)\b", re.I)
STEPS_LEAD = re.compile(r"^to\s|\b(?:steps?|ways?|methods?|follow(?:ing)?|either)\b", re.I)
# a sentence that leans on the one before it ("This configuration is written in Ruby.", "Without this, no one
# can legally use it."): read with its predecessor, it often holds the fact the predecessor only sets up. A connective
# leans back too ("Therefore, they cannot be nested ...": the reason is the sentence before); "however", "thus",
# "otherwise", "specifically" and "instead" only with their comma ("However faint that prospect ...", "Instead of
# tabs, use ...", "Thus far ..." stand alone). Key fact Python-Markdown 0.49 -> 0.51, book PDFs 2 +0.016, the
# other sets the same
LEANS_BACK = re.compile(r"^\W*(?:(?:therefore|hence|consequently)\b|(?:thus|otherwise|specifically|instead|however),"
                        r"|(?:\w+\s+){0,2}(?:this|these|those)\b|(?:it|they|such|that)\s)", re.I)
CLAUSE_SENTENCE, CLAUSE_WORDS = 25, 4  # a sentence this long is read clause by clause too; clauses this long count


@dataclass
class Candidate:
    """A sentence, or a lead-in with the list or code block it introduces, inside one chunk."""

    hit: Hit
    parts: list[Piece]
    steps: bool = False  # a lead-in plus its list (or a list on its own)
    score: float = 0.0  # how well it answers: similarity, shared words, and the answerer's bonuses
    base: float = 0.0  # the score without the bonuses, which decides whether the notes answer at all
    sim: float = 0.0
    overlap: float = 0.0
    vec: np.ndarray = field(default=None, repr=False)

    @property
    def start(self) -> int:
        return self.parts[0].start

    @property
    def end(self) -> int:
        return self.parts[-1].end

    @property
    def plain(self) -> str:  # its words, for overlap and near-duplicates
        return " ".join(plain(p) for p in self.parts if p.kind != "code")


def leaf(chunk: Chunk, pos: int) -> str:  # the heading a position of the chunk sits under, without its parents
    return chunk.heading_at(pos).split(" > ")[-1]


def clauses(sentence: str) -> list[str]:
    """The clauses of a long sentence cut at its semicolons ("... lost forever all dominion over them; that Greece
    will become again an independent nation."): older prose packs several facts into one sentence, and its one
    vector reads them all at once. A short sentence, or one without semicolons, has none."""
    if len(sentence.split()) < CLAUSE_SENTENCE or ";" not in sentence:
        return []
    return [p.strip() for p in sentence.split(";") if len(p.split()) >= CLAUSE_WORDS]


def dated_heading(c: Candidate) -> str:
    """The nearest heading over the sentence, or else the note's title, that holds a date; "" if none does."""
    path = c.hit.chunk.heading_at(c.start).split(" > ")
    return next((h for h in [*reversed(path), c.hit.chunk.title] if DATE.search(h)), "")


def is_fragment(p: Piece) -> bool:
    """A heading-like scrap ("Masked language model") that cannot stand as an answer."""
    text = plain(p)
    return len(words(text)) < 3 or (not SENTENCE_PUNCT.search(text) and len(text.split()) <= 6)


def heading_like(p: Piece) -> bool:
    """One short line in Title Case with no full stop ("Chapter 3: Evaluation Methodology"): as a paragraph of its
    own, a heading that lost its marks when a web page was pasted into the note; it answered "What does the book say
    about evaluation?" over "Evaluation is one of the hardest ... challenges of AI engineering." A line naming an
    acronym is a glossary's ("RAG: Retrieval Augmented Generation"), kept."""
    text = plain(p)
    if text.endswith((".", "!", "?")) or len(text.split()) > 8 or ACRONYM.search(text):
        return False
    long = [w for w in TITLE_WORD.findall(text) if len(w) >= 4]
    return len(long) >= 2 and all(w[0].isupper() for w in long)


def candidates(hit: Hit, q: Question) -> list[Candidate]:
    """Sentences of a chunk worth answering with; a lead-in (it names what follows, "... methods:", or runs on
    into it, "keep copies stored on") comes with its list or table, never alone."""
    blocks = by_block(pieces(hit.chunk))
    out: list[Candidate] = []
    inside = -1  # the end of the list the last lead-in introduced
    for i, b in enumerate(blocks):
        # a heading line (a chunk packed from small sections holds the later ones' headings) is never quoted, and
        # what follows it reads as the start of a section
        kind, prev = b[0].kind, (blocks[i - 1] if i and blocks[i - 1][0].kind != "heading" else None)
        if kind == "heading":
            continue
        led = prev is not None and bool(LEAD_IN.search(plain(prev[-1])))  # quoted with its lead-in already
        lead = [prev[-1]] if prev and prev[0].kind == "prose" else []  # the paragraph a list or table follows
        if kind == "table" and not led:
            out.append(Candidate(hit, lead + list_after(blocks, i, None), steps=True))
        if kind in ("code", "table"):
            continue
        after = list_after(blocks, i + 1, b[-1].depth if kind == "item" else None) if i + 1 < len(blocks) else []
        for p in b:
            is_lead = p is b[-1] and (LEAD_IN.search(plain(p)) or (after and not is_fragment(p)
                                                                   and not plain(p).endswith((".", "!", "?"))))
            if is_lead and after and not (is_label(b) and p.start < inside):  # "Ribbon:" within a list of methods
                out.append(Candidate(hit, [p, *after], steps=True))
                inside = max(inside, after[-1].end)
            elif not is_lead and not is_fragment(p) and len(p.text) <= 600 and not (len(b) == 1 and kind == "prose"
                                                                                    and heading_like(p)):
                out.append(Candidate(hit, [p]))
        # a list right under its heading; for a how-to, steps after a paragraph, with no lead-in
        if kind == "item" and not led and (prev is None or (q.howto and prev[0].kind not in LISTED)):
            run = list_after(blocks, i, None)
            if len(lead + run) > 1 and (prev is None or procedural(run)):
                out.append(Candidate(hit, lead + run, steps=True))
    return out


def procedural(parts: list[Piece]) -> bool:
    """Steps rather than a list of facts: numbered, mostly imperative, code to type, or introduced as steps."""
    items = [p for p in parts if p.kind == "item"]
    return (any(p.marker[:1].isdigit() or p.kind == "code" for p in parts)
            or 2 * sum(bool(INSTRUCTION.match(plain(p))) for p in items) >= max(1, len(items))
            or bool(STEPS_LEAD.search(plain(parts[0]))))


def render(c: Candidate) -> str:
    """A candidate as plain text: a sentence as it reads, a list one line per item."""
    return as_text(c.parts) if c.steps else plain(c.parts[0])


def beside(first: Candidate, cands: list[Candidate], after: bool = True) -> Candidate | None:
    """The sentence right after (or right before) `first` in its passage, with no sentence of the chunk between."""
    chunk = first.hit.chunk
    same = [c for c in cands if c.hit.chunk.id == chunk.id and not c.steps]
    if after:
        nxt = min((c for c in same if c.start >= first.end), key=lambda c: c.start, default=None)
        return nxt if nxt is not None and follows(chunk, first.end, nxt.start) else None
    prev = max((c for c in same if c.end <= first.start), key=lambda c: c.end, default=None)
    return prev if prev is not None and follows(chunk, prev.end, first.start) else None


def leaning_on(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right after `first` in its passage, if it leans back on it."""
    nxt = beside(first, cands)
    return nxt if nxt is not None and LEANS_BACK.search(render(nxt)) else None


def leant_on(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right before `first` in its passage, if `first` leans back on it ("That tribe ...", "It ...")."""
    return None if first.steps or not LEANS_BACK.search(render(first)) else beside(first, cands, after=False)


def numbers_after(first: Candidate, cands: list[Candidate], most: int = 2) -> list[Candidate]:
    """The sentences right after `first` in its passage that hold a number, read on while they follow."""
    out: list[Candidate] = []
    while len(out) < most and (c := beside(out[-1] if out else first, cands)) is not None and DIGIT.search(render(c)):
        out.append(c)
    return out


def dated_neighbour(first: Candidate, cands: list[Candidate]) -> Candidate | None:
    """The sentence right before `first` in its passage, or else right after it, if it holds a date."""
    return next((c for c in (beside(first, cands, after=False), beside(first, cands))
                 if c is not None and DATE.search(render(c))), None)


def clash(c: Candidate, d: Candidate) -> bool:
    """Overlapping spans, or saying the same thing again."""
    if same_place(c.hit.chunk, d.hit.chunk) and c.start < d.end and d.start < c.end:
        return True
    a, b = words(c.plain), words(d.plain)
    return len(a & b) / max(1, len(a | b)) > 0.5 or float(c.vec @ d.vec) > 0.9


def reads_on(c: Candidate, d: Candidate) -> bool:
    """c comes right after d in the same chunk, with nothing in between."""
    return c.hit.chunk.id == d.hit.chunk.id and d.start < c.start and follows(c.hit.chunk, d.end, c.start)


def neighbours(c: Candidate, d: Candidate) -> bool:
    """One follows the other in the same chunk with nothing in between."""
    a, b = (c, d) if c.start < d.start else (d, c)
    return c.hit.chunk.id == d.hit.chunk.id and follows(c.hit.chunk, a.end, b.start)
