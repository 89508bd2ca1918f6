"""HTML for sources: note text is data, so every piece is escaped before it is marked up."""

from __future__ import annotations

import html
import re

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~=$])")


def highlighted(before: str, quote: str, after: str) -> str:
    """The passage with the cited span in <mark>, whitespace kept, everything escaped."""
    body = f"{html.escape(before)}<mark>{html.escape(quote)}</mark>{html.escape(after)}"
    return f'<div class="reread-passage" style="white-space: pre-wrap">{body}</div>'


def plain_markdown(text: str) -> str:
    """Text shown through st.markdown as written: no images, links or HTML from a note or an LLM.
    A literal \\[12\\] (escaped so it is not a citation marker) shows as [12]."""
    text = text.replace("\\[", "[").replace("\\]", "]")
    return MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")  # steps keep their own lines
