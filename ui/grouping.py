"""Which citations share a source card, and the passage a card shows with its cited spans (no Streamlit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant import Citation

ELLIPSIS = "…"


@dataclass
class Card:
    """Citations into one passage: the same chunk, or overlapping spans of one source (and page)."""

    citations: list[Citation] = field(default_factory=list)

    @property
    def first(self) -> Citation:
        return self.citations[0]

    @property
    def labels(self) -> str:
        return " ".join(f"[{c.n}]" for c in self.citations)

    def takes(self, c: Citation) -> bool:
        return any(c.chunk_id == o.chunk_id or (c.source == o.source and c.page == o.page
                                                and c.start < o.end and o.start < c.end)
                   for o in self.citations)


def group(citations: Sequence[Citation]) -> list[Card]:
    """Cards in the order of their first [n]; a citation joins every card it belongs to, merging them."""
    cards: list[Card] = []
    for c in sorted(citations, key=lambda c: c.n):
        joined = [card for card in cards if card.takes(c)]
        if not joined:
            cards.append(Card([c]))
            continue
        keep = joined[0]
        for other in joined[1:]:
            keep.citations += other.citations
            cards.remove(other)
        keep.citations.append(c)
        keep.citations.sort(key=lambda c: c.n)
    return cards


@dataclass(frozen=True)
class Passage:
    """Text to show, and the cited spans in it as (start, end, label); note says why a span is missing."""

    text: str
    spans: tuple[tuple[int, int, str], ...] = ()
    note: str = ""


Reader = Callable[[Citation, int], tuple[str, str, str]]  # Assistant.passage: (before, quote, after)


def card_passage(read: Reader, card: Card, context: int = 400) -> Passage:
    """The passage around all of a card's citations, read once around the first, cut to whole lines."""
    first = min(card.citations, key=lambda c: c.start)
    reach = max(c.end for c in card.citations) - first.end  # how far the other citations run past the first
    before, quote, after = read(first, context + max(0, reach))
    lead = ELLIPSIS if before.startswith(ELLIPSIS) else ""
    before = before[len(lead):]
    if len(before) > context:  # read() took `context + reach` on both sides; the reach is for after only
        before, lead = before[-context:], ELLIPSIS
    text = lead + before + quote + after
    base = len(lead) + len(before)  # where the first citation's quote starts in text
    spans, missing = [], []
    for c in card.citations:
        s = base + c.start - first.start
        if text[s:s + len(c.quote)] == c.quote and c.quote:
            spans.append((s, s + len(c.quote), f"[{c.n}]"))
        else:
            missing.append(f"[{c.n}]")
    note = f"{', '.join(missing)}: the source changed since it was indexed" if missing else ""
    return whole_lines(Passage(text, tuple(spans), note))


def whole_lines(p: Passage) -> Passage:
    """Drop the partial first and last lines of a cut context (marked by …), so markdown reads line by line;
    a partial line holding a cited span is kept."""
    text, spans = p.text, list(p.spans)
    lo = min((s for s, _, _ in spans), default=len(text))
    hi = max((e for _, e, _ in spans), default=0)
    if text.endswith(ELLIPSIS):
        cut = text.rfind("\n", hi, len(text) - 1)
        if cut > 0:
            text = text[:cut] + "\n" + ELLIPSIS
    if text.startswith(ELLIPSIS):
        cut = text.find("\n", 0, lo)
        if cut > 0:
            shift = cut - len(ELLIPSIS)
            text = ELLIPSIS + text[cut:]
            spans = [(s - shift, e - shift, label) for s, e, label in spans]
    return Passage(text, tuple(spans), p.note)
