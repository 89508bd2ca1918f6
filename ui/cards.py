"""Source cards under an answer: title and breadcrumb, the passage with its cited spans, the PDF page, links."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from assistant import Assistant, Citation, Hit, RereadError, location, render_page
from ui import passage
from ui.grouping import Card, Passage, card_passage, group
from ui.present import card_title, file_url, obsidian_url, plain_markdown

CONTEXT = 400  # characters of the source shown around a cited span, each side


def show_sources(assistant: Assistant, citations: list[Citation], vault: Path) -> None:
    for card in group(citations):
        show_card(assistant, card, vault)


def show_card(assistant: Assistant, card: Card, vault: Path) -> None:
    c = card.first
    label = f"{card.labels} {card_title(c.title, c.source, c.page)}"
    last = c.heading.rsplit(" > ", 1)[-1]  # the full breadcrumb is in the caption
    with st.expander(plain_markdown(label) + (f" — {plain_markdown(last)}" if last else "")):
        st.caption(plain_markdown(location(c)))
        p = read_passage(assistant, card, vault)
        st.html(passage.render(p.text, p.spans, markdown=not c.page))
        if p.note:
            st.caption(plain_markdown(p.note))
        if c.page:
            show_page(vault, card)
        show_links(vault, c.source)


def read_passage(assistant: Assistant, card: Card, vault: Path) -> Passage:
    """The card's passage from the source as indexed (cached per file version); its quotes if it is gone."""
    key = tuple((c.n, c.source, c.page, c.chunk_id, c.start, c.end, c.quote) for c in card.citations)
    try:
        return _passage(assistant, str(vault), key, _mtime(vault / card.first.source))
    except Exception as e:  # whatever broke the re-read (a moved file, a damaged PDF), the quotes remain
        quotes = "\n…\n".join(c.quote for c in card.citations)
        return Passage(quotes, note=f"the source could not be re-read ({e}); showing the quotes as indexed")


@st.cache_data(max_entries=512, show_spinner=False)
def _passage(_assistant: Assistant, vault: str, key: tuple, mtime_ns: int) -> Passage:
    citations = [Citation(n, source, "", "", page, chunk_id, start, end, quote)
                 for n, source, page, chunk_id, start, end, quote in key]
    return card_passage(lambda c, context: _assistant.passage(c, context), Card(citations), CONTEXT)


def show_page(vault: Path, card: Card) -> None:
    """The PDF page as an image with the card's cited spans marked on it."""
    c = min(card.citations, key=lambda c: c.start)
    path = vault / c.source
    quotes = tuple(x.quote for x in sorted(card.citations, key=lambda x: x.start) if x.page == c.page)
    try:
        png, found = _page_png(str(path), _mtime(path), c.page, quotes)
    except (OSError, RereadError) as e:
        st.caption(plain_markdown(f"p. {c.page} could not be shown: {e}"))
        return
    caption = f"p. {c.page}, cited span marked" if found else f"p. {c.page} (the cited span was not found on it)"
    st.image(png, caption=caption, output_format="PNG")


@st.cache_data(max_entries=64, show_spinner=False)
def _page_png(path: str, mtime_ns: int, page: int, quotes: tuple[str, ...]) -> tuple[bytes, bool]:
    image = render_page(Path(path), page, quotes)
    return image.png, image.found


def show_links(vault: Path, source: str) -> None:
    st.markdown(f"[Open in Obsidian]({obsidian_url(vault, source)}) · [Open the file]({file_url(vault, source)})")


def show_nearest(hits: list[Hit], vault: Path) -> None:
    """A refusal still shows what came closest, so the reader can judge for themselves."""
    st.caption("The closest passages in your notes:")
    for h in hits:
        c = h.chunk
        with st.expander(plain_markdown(f"{card_title(c.title, c.source, c.page)} — {location(c)}")):
            st.html(passage.render(c.text, markdown=not c.page))
            show_links(vault, c.source)


def _mtime(path: Path) -> int:
    return os.stat(path).st_mtime_ns
