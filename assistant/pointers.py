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

# a markdown link to a local note: [x](path.md#h), [x](<path with spaces.md>), [x](path.md "title"); no web address
NOTE_LINK = re.compile(r"\[[^\]\n]*\]\((?![a-z][\w+.-]*:)(?:<([^>\n]+?\.md(?:#[^>\n]*)?)>|([^)\s]+\.md(?:#[^)\s]*)?))"
                       r"(?:\s+\"[^\"\n]*\")?\)", re.I)
CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)  # link syntax shown as code links nowhere


def _name(link: str) -> str:
    return link.split("/")[-1].strip().lower().removesuffix(".md")


def targets(text: str, source: str = "") -> list[tuple[str, ...]]:
    """The notes a text links to, each as the keys to try in turn, as Obsidian resolves them: a wikilink by its
    path if it gives one, else by file name ("[[Plugins/Graph view#Local|x]]" -> "plugins/graph view.md", "graph
    view"); a markdown link by its path from the linking note, else by file name ("[x](../Plugins/Graph%20view.md)"
    from "Help/Intro.md" -> "plugins/graph view.md", "graph view": a docs vault has an index.md in every folder)."""
    text = CODE.sub(" ", text)
    here = PurePosixPath(source).parent
    out: list[tuple[str, ...]] = []
    for m in WIKILINK.finditer(text):
        link = m.group(1).split("#")[0].strip()
        if link:  # "[[#Heading]]" is this note
            folder = [posixpath.normpath(link.lower().removesuffix(".md")) + ".md"] if "/" in link else []
            out.append((*folder, _name(link)))
    for m in NOTE_LINK.finditer(text):
        path = unquote(m.group(1) or m.group(2)).split("#")[0]
        full = path.lstrip("/") if path.startswith("/") else str(here / path)
        out.append((posixpath.normpath(full).lower(), _name(path)))
    return list(dict.fromkeys(out))


def note_names(chunk: Chunk) -> tuple[str, ...]:
    """What a link may call a note: its file name, its path in the vault, and its aliases ("[[Doggo]]" for a note
    Dog.md whose front matter says `aliases: Doggo`; an alias written as a path, "How to/Embed files", as well)."""
    aliases = [a.lower() for a in chunk.metadata.get("aliases") or []]
    return (_name(chunk.source), chunk.source.lower(), *aliases, *(f"{a}.md" for a in aliases if "/" in a))


def follow(head: list[Chunk], order: list[str], chunks: dict[str, Chunk], fused: dict[str, float],
           most_words: int) -> bool:
    """Raise the best candidate of the one note a short head passage links to just above that passage, in fused;
    True when any moved. order: every candidate id, best first; head: the first candidates, with their texts."""
    best: dict[str, str] = {}
    for i in order:
        for name in note_names(chunks[i]):
            best.setdefault(name, i)
    moved = False
    for c in head:
        own = note_names(c)
        linked = [keys for keys in targets(c.text, c.source) if not set(keys) & set(own)]
        # one place pointed to: a "see also" line naming several is a list, not a pointer
        if len(linked) != 1 or len(clean_inline(c.text).split()) > most_words:
            continue
        d = next((best[k] for k in linked[0] if k in best), None)
        if d is not None and chunks[d].source != c.source and fused[d] <= fused[c.id]:
            fused[d] = fused[c.id] + 1e-6
            moved = True
    return moved
