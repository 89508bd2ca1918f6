"""A short passage that points to another note yields its place to that note's best passage.

A glossary entry ("A graph shows the connections between notes. See also [[Graph view]]."), an index page or a
settings list names a topic in the question's own words, so it outranks the page it links to, which answers.
When the page it points to is among the candidates, that page's best passage is placed just above it.

Measured on the answer path (session 9), recall@5 / MRR@10 / key fact: help vault 0.86 / 0.601 / 0.58 ->
0.86 / 0.631 / 0.60 (three questions move from rank 2 to 1, none lose); the sample vault, its held-out questions
and the held-out Turing Way are unchanged (their short passages rarely link). Passages of up to 30 shown words:
one help question lost its first place to the page its answer linked to; 45: four, and one on the Turing Way.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ingest.markdown import WIKILINK, clean_inline
from ingest.types import Chunk

NOTE_LINK = re.compile(r"\[[^\]\n]*\]\((?![a-z][\w+.-]*:)<?([^)\s>]+\.md(?:#[^)\s>]*)?)>?(?:\s+\"[^\"\n]*\")?\)", re.I)


def targets(text: str) -> set[str]:
    """The notes a text links to, by file name as Obsidian resolves them: "[[Folder/Graph view#Local|x]]" and
    "[x](../Folder/Graph%20view.md#local)" -> "graph view"; a web address is no note."""
    links = [m.group(1) for m in WIKILINK.finditer(text)]
    links += [unquote(m.group(1)) for m in NOTE_LINK.finditer(text)]
    return {link.split("#")[0].split("/")[-1].strip().lower().removesuffix(".md") for link in links} - {""}


def note_name(source: str) -> str:
    return source.rsplit("/", 1)[-1].lower().removesuffix(".md")


def follow(head: list[Chunk], order: list[str], chunks: dict[str, Chunk], fused: dict[str, float],
           most_words: int) -> bool:
    """Raise the best candidate of each note a short head passage links to just above that passage, in fused;
    True when any moved. order: every candidate id, best first; head: the first candidates, with their texts."""
    best: dict[str, str] = {}
    for i in order:
        best.setdefault(note_name(chunks[i].source), i)
    moved = False
    for c in head:
        linked = targets(c.text)
        if not linked or len(clean_inline(c.text).split()) > most_words:
            continue
        for name in linked:
            d = best.get(name)
            if d is not None and chunks[d].source != c.source and fused[d] <= fused[c.id]:
                fused[d] = fused[c.id] + 1e-6
                moved = True
    return moved
