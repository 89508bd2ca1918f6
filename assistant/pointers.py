"""A short passage that points to another note yields its place to that note's best passage.

A glossary entry ("A graph shows the connections between notes. See also [[Graph view]]."), an index page or a
settings list names a topic in the question's own words, so it outranks the page it links to, which answers.
When the page it points to is among the candidates, that page's best passage is placed just above it.

Measured on the answer path (session 9), recall@5 / MRR@10 / key fact: help vault 0.86 / 0.601 / 0.58 ->
0.86 / 0.631 / 0.60 (three questions move from rank 2 to 1, none lose); the sample vault, its held-out questions
and the held-out Turing Way are unchanged (their short passages rarely link), and so are two held-out vaults made
later (Python-Markdown's docs link by markdown links, the Factbook not at all). With the session's later changes
the help vault's MRR is 0.593 without it, 0.623 with it. Passages of up to 30 shown words: one help question lost
its first place to the page its answer linked to; 45: four, and one on the Turing Way.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from urllib.parse import unquote

from ingest.markdown import WIKILINK, clean_inline
from ingest.types import Chunk

NOTE_LINK = re.compile(r"\[[^\]\n]*\]\((?![a-z][\w+.-]*:)<?([^)\s>]+\.md(?:#[^)\s>]*)?)>?(?:\s+\"[^\"\n]*\")?\)", re.I)


def targets(text: str, source: str = "") -> set[str]:
    """The notes a text links to, as Obsidian resolves them: a wikilink by file name ("[[Folder/Graph view#Local|x]]"
    -> "graph view"), a markdown link by its path from the linking note ("[x](../Plugins/Graph%20view.md#local)"
    from "Help/Intro.md" -> "plugins/graph view.md": a docs vault has an index.md in every folder). A web address
    is no note."""
    out = {link.split("#")[0].split("/")[-1].strip().lower().removesuffix(".md")
           for link in (m.group(1) for m in WIKILINK.finditer(text))} - {""}
    here = PurePosixPath(source).parent
    for m in NOTE_LINK.finditer(text):
        path = unquote(m.group(1)).split("#")[0]
        out.add(posixpath.normpath(path.lstrip("/") if path.startswith("/") else str(here / path)).lower())
    return out


def note_names(source: str) -> tuple[str, str]:
    """What a link may call a note: its file name, and its path in the vault."""
    return source.rsplit("/", 1)[-1].lower().removesuffix(".md"), source.lower()


def follow(head: list[Chunk], order: list[str], chunks: dict[str, Chunk], fused: dict[str, float],
           most_words: int) -> bool:
    """Raise the best candidate of each note a short head passage links to just above that passage, in fused;
    True when any moved. order: every candidate id, best first; head: the first candidates, with their texts."""
    best: dict[str, str] = {}
    for i in order:
        for name in note_names(chunks[i].source):
            best.setdefault(name, i)
    moved = False
    for c in head:
        linked = targets(c.text, c.source)
        if not linked or len(clean_inline(c.text).split()) > most_words:
            continue
        for name in linked:
            d = best.get(name)
            if d is not None and chunks[d].source != c.source and fused[d] <= fused[c.id]:
                fused[d] = fused[c.id] + 1e-6
                moved = True
    return moved
