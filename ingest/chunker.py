"""Sections -> chunks: sentence-aware packing inside one section, exact offsets, stable ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .markdown import clean_inline
from .spans import FENCE, Unit, units
from .tokens import TokenCounter
from .types import Chunk, ParsedDocument, Section

CHUNKER_VERSION = 6
HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\n[ \t]*(\w)")
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkerConfig:
    chunk_size: int = 200  # most word pieces a chunk's embedded text holds, header included
    chunk_overlap: int = 40  # word pieces of trailing sentences repeated at the next chunk's start


def chunk_id(source: str, text: str, occurrence: int) -> str:
    return hashlib.sha256(f"{source}\x00{text}\x00{occurrence}".encode()).hexdigest()[:32]


def embed_view(text: str, kind: str) -> str:
    """The text the model reads for a display span: markup dropped, PDF line-end hyphens repaired."""
    if kind == "pdf":
        return re.sub(r"\s+", " ", HYPHEN_BREAK.sub(r"\1\2", text)).strip()
    if FENCE.match(text):  # a code chunk (code blocks are chunks of their own): embedded as written
        return text.strip()
    return clean_inline(text)


def header(title: str, heading: str) -> str:
    return f"{title} > {heading}\n" if heading else f"{title}\n"


class Chunker:
    def __init__(self, counter: TokenCounter, config: ChunkerConfig):
        self.counter = counter
        self.config = config

    def _split_long(self, text: str, unit: Unit, budget: int) -> list[Unit]:
        """A sentence longer than the budget is cut at word boundaries (code blocks stay whole)."""
        if unit.atomic:
            return [unit]
        pieces, start = [], unit.start
        words = list(WORD.finditer(text, unit.start, unit.end))
        cur_end, cur_tokens = start, 0
        for w, n in zip(words, self.counter.counts([w.group(0) for w in words]), strict=True):
            if cur_tokens and cur_tokens + n > budget:
                pieces.append(Unit(start, cur_end, text[start:cur_end]))
                start, cur_tokens = w.start(), 0
            cur_end, cur_tokens = w.end(), cur_tokens + n
        pieces.append(Unit(start, cur_end, text[start:cur_end]))
        return pieces

    def _pack(self, doc: ParsedDocument, section: Section) -> list[tuple[int, int]]:
        text = doc.texts[section.page]
        budget = max(16, self.config.chunk_size - self.counter.count(header(doc.title, section.heading)) - 2)
        found = [u for u in units(text, section.start, section.end) if embed_view(u.text, doc.kind) or u.atomic]
        # count each sentence with the list/quote markers in front of it: the chunk's embedded text keeps them
        views, prev = [], section.start
        for u in found:
            views.append(embed_view(u.text if u.atomic else text[prev:u.end], doc.kind))
            prev = u.end
        sizes = self.counter.counts(views)
        items: list[tuple[Unit, int]] = []
        for u, n in zip(found, sizes, strict=True):
            if n > budget and not u.atomic:
                parts = self._split_long(text, u, budget)
                items += zip(parts, self.counter.counts([embed_view(p.text, doc.kind) for p in parts]),
                             strict=True)
            else:
                items.append((u, n))
        spans: list[tuple[int, int]] = []
        cur: list[tuple[Unit, int]] = []
        for item in items:
            if cur and (sum(n for _, n in cur) + item[1] > budget or item[0].atomic or cur[-1][0].atomic):
                spans.append((cur[0][0].start, cur[-1][0].end))
                tail: list[tuple[Unit, int]] = []
                for prev in reversed(cur):
                    if prev[0].atomic or sum(n for _, n in tail) + prev[1] > self.config.chunk_overlap:
                        break
                    tail.insert(0, prev)
                if len(tail) == len(cur) or item[0].atomic or sum(n for _, n in tail) + item[1] > budget:
                    tail = []
                cur = tail
            cur.append(item)
        if cur:
            spans.append((cur[0][0].start, cur[-1][0].end))
        return spans

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        out: list[Chunk] = []
        seen: dict[str, int] = {}
        base = {k: v for k, v in doc.metadata.items() if k not in ("frontmatter", "highlight_spans")}
        marked = doc.metadata.get("highlight_spans", [])  # ==marks== outside code, offsets in the raw note
        for section in doc.sections:
            text = doc.texts[section.page]
            for start, end in self._pack(doc, section):
                display = text[start:end]
                occurrence = seen.get(display, 0)
                seen[display] = occurrence + 1
                marks = [text[max(s, start):min(e, end)] for s, e in marked if s < end and e > start]
                embed = self.counter.fit(header(doc.title, section.heading) + embed_view(display, doc.kind))
                out.append(Chunk(
                    id=chunk_id(doc.source, display, occurrence), source=doc.source, kind=doc.kind,
                    title=doc.title, heading=section.heading, page=section.page, start=start, end=end,
                    text=display, embed_text=embed,
                    metadata={**base, "highlights": marks, "frontmatter": doc.metadata.get("frontmatter", {})},
                ))
        return out
